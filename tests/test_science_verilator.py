"""A short mixing run of the spiking sampler with depression gives the same samples on the verilator
device (the RTL compiled by Verilator) as on the golden device."""

from __future__ import annotations

import numpy as np

from lifstp.device import GoldenDevice, VerilatorDevice
from lifstp.science.rbm import RBM
from lifstp.science.spiking import MIXING_STP, lif_params, spiking_samples


def test_short_mixing_run_on_verilator_equals_golden():
    rng = np.random.default_rng(4)
    n_pixels, n_labels, n_hidden = 12, 10, 10
    rbm = RBM(rng.normal(0, 1.0, (n_pixels + n_labels, n_hidden)), rng.normal(0, 0.5, n_pixels + n_labels),
              rng.normal(0, 0.5, n_hidden), n_pixels, n_labels)
    params = lif_params(MIXING_STP)
    v_golden, s_golden = spiking_samples(rbm, GoldenDevice(), params, n_samples=150, seed=2)
    v_verilator, s_verilator = spiking_samples(rbm, VerilatorDevice(), params, n_samples=150, seed=2)
    assert s_golden["mean_rate_hz"] > 5
    assert v_golden.any(axis=0).sum() > 10  # most units were on at some point: a real run, not silence
    np.testing.assert_array_equal(v_verilator, v_golden)
    assert s_verilator["mean_rate_hz"] == s_golden["mean_rate_hz"]
