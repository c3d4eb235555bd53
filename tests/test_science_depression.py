"""The steady-state resource of depression against the golden model: a neuron clamped on fires every
τ_ref ticks, and the resource its spikes are sent with settles where the formula says."""

from __future__ import annotations

import numpy as np
import pytest

from lifstp.golden_model.spec import ClampMode
from lifstp.network import Network
from lifstp.sampling import sampling_params
from lifstp.science.depression import approach_spikes, resource_report, steady_resource


@pytest.mark.parametrize("u,tau", [(0.5, 50.0), (0.1, 280.0), (0.01, 280.0)])
def test_clamped_neuron_settles_at_the_predicted_resource(u, tau):
    params = sampling_params(u, tau)
    net = Network(params, np.array([-65.0, -65.0]), np.array([[0.0, 10.0], [0.0, 0.0]]),
                  clamp=np.array([int(ClampMode.ON), int(ClampMode.OFF)]))
    report = resource_report(net, 200_000, seed=1)
    assert report["burst_fraction"] > 0.99  # a clamped neuron refires right after its refractory time
    assert report["mean_rate_hz"] == pytest.approx(1e3 / params.tau_ref_ms, rel=1e-3)  # every τ_ref ticks
    # After the approach, the resource at each spike is the steady state of that interval, to the
    # fixed-point formats' precision (frac_r = 24 for the decay, frac_e = 16 for the efficacy).
    settled = report["settled_burst_resource"]
    assert settled == pytest.approx(steady_resource(params.tau_ref_ms, u, tau), abs=3e-4)


def test_steady_resource_limits():
    assert steady_resource(10.0, 1.0, 10.0) == pytest.approx(1 - np.exp(-1))  # renewing: recovers from 0
    assert steady_resource(1e9, 0.5, 10.0) == pytest.approx(1.0)  # long pauses: full recovery
    assert steady_resource(10.0, 0.01, 280.0) == pytest.approx(0.78, abs=0.01)  # the paper's set at 100 Hz
    assert approach_spikes(10.0, 0.01, 280.0) == pytest.approx(21.9, abs=0.2)  # ~220 ms of a 100 Hz burst
    assert approach_spikes(10.0, 1.0, 10.0) == 0.0 and approach_spikes(10.0, 0.0, float("inf")) == float("inf")
