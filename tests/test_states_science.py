"""The science's free-running samplers on a device that prefers states (a board): they read the
visible units' states in the states readout, and get exactly the samples of the spike stream."""

from __future__ import annotations

import numpy as np

from lifstp.bm import random_bm
from lifstp.device import GoldenDevice, ProtocolDevice
from lifstp.emulator import GoldenEmulator
from lifstp.fitting import device_moments
from lifstp.link import DeviceClient, LoopbackTransport
from lifstp.mapping import map_bm
from lifstp.sampling import calibration_for, sampling_params
from lifstp.science.spiking import SpikingNegativePhase, lif_params, spiking_samples

from test_science_samplers import small_rbm


def test_states_readout_gives_the_spike_streams_samples():
    rbm = small_rbm()
    params = lif_params(None)
    by_spikes, s_stats = spiking_samples(rbm, GoldenDevice(), params, 300, seed=3, burn_in_ms=50.0)
    board = ProtocolDevice("golden", DeviceClient(LoopbackTransport(GoldenEmulator(16))), sample_states=True)
    assert board.prefers_states
    by_states, b_stats = spiking_samples(rbm, board, params, 300, seed=3, burn_in_ms=50.0)
    assert by_spikes.shape == (300, rbm.n_visible) and 0.05 < by_spikes.mean() < 0.95
    assert np.array_equal(by_states, by_spikes)
    assert (s_stats["readout"], b_stats["readout"]) == ("spikes", "states")
    assert b_stats["synaptic_events"] is None and s_stats["synaptic_events"] > 0


def test_spiking_negative_phase_by_states_equals_by_spikes():
    rbm = small_rbm()
    board = ProtocolDevice("golden", DeviceClient(LoopbackTransport(GoldenEmulator(16))), sample_states=True)
    by_spikes = SpikingNegativePhase(GoldenDevice(), duration_ms=100.0, seed=2)(rbm)
    by_states = SpikingNegativePhase(board, duration_ms=100.0, seed=2)(rbm)
    assert by_spikes[0].shape == (100, rbm.n_visible) and by_spikes[1].shape == (100, rbm.n_hidden)
    assert all(np.array_equal(a, b) for a, b in zip(by_spikes, by_states))


def test_fit_moments_by_states_equal_by_spikes():
    """The fit's free-run moments on a board come from the states readout (every `every_ticks` after
    the burn-in), and equal those decoded from the spike stream."""
    params = sampling_params()
    net = map_bm(random_bm(10, np.random.default_rng(4), sigma=1.0), params, calibration_for(GoldenDevice(), params))
    board = ProtocolDevice("golden", DeviceClient(LoopbackTransport(GoldenEmulator(16))), sample_states=True)
    assert board.prefers_states
    by_spikes = device_moments(GoldenDevice(), net, 3000, seed=4, every_ticks=7, burn_in_ticks=200)
    by_states = device_moments(board, net, 3000, seed=4, every_ticks=7, burn_in_ticks=200)
    assert 0.05 < by_spikes.mean.mean() < 0.95
    assert np.array_equal(by_states.mean, by_spikes.mean) and np.array_equal(by_states.second, by_spikes.second)
