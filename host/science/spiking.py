"""Spiking samplers on any device: the RBM mapped onto LIF neurons (host/mapping.py), with renewing
synapses (U = 1, τ_rec = τ_syn: plain LIF sampling) or with Tsodyks-Markram depression (U, τ_rec).

Free runs give samples read every τ_ref; clamped runs classify: pixel neurons clamped ON/OFF by the
image, the label neurons' spike counts vote.
"""

from __future__ import annotations

import time

import numpy as np

from lifstp.analysis import run_states
from lifstp.bm import BoltzmannMachine
from lifstp.errors import InputError
from lifstp.golden_model.spec import ClampMode, ModelParams
from lifstp.fitting import Fit, FitSettings, fit_machine
from lifstp.mapping import map_bm
from lifstp.progress import progress_bar
from lifstp.readout import sampler_readout
from lifstp.reference import Reference
from lifstp.sampling import calibration_for, sampling_params

from .rbm import RBM

#: The paper's mixing parameters (likely).
PAPER_STP = (0.01, 280.0)
#: The default for LIF + STP: the point of best ISL of an earlier U × τ_rec sweep of the calibrated
#: mapping without a fit (seed 0), kept so that results stay comparable; docs/results.md gives the sweep
#: on the renewing fit.
MIXING_STP = (0.1, 280.0)


def lif_params(stp: tuple | None = None) -> ModelParams:
    """Core parameters: renewing synapses when stp is None, else stp = (U, τ_rec ms) under the
    numerical model's one rule for them (ModelParams: U in [0, 1], 0 switching depression off; τ_rec
    positive), reported as InputError."""
    if stp is None:
        return sampling_params()
    return sampling_params(float(stp[0]), float(stp[1]))


def network_for(rbm: RBM, device, params: ModelParams, fit: Fit | None = None, beta: float = 1.0):
    """The network of the full machine (units: pixels, labels, hidden) under `params`: the fitted
    machine's if a fit is given (lifstp.fitting), else the calibrated mapping of the machine itself;
    with beta < 1 the (fitted) machine's W and b are scaled by beta (a heated sampler)."""
    if fit is None:
        machine, cal = rbm.to_bm(), calibration_for(device, params)
    else:
        machine, cal = fit.fitted, fit.calibration
    if beta != 1.0:
        machine = BoltzmannMachine(machine.W * beta, machine.b * beta)
    return map_bm(machine, params, cal)


def fit_rbm(rbm: RBM, device, params: ModelParams, reference: Reference, settings: FitSettings = FitSettings(),
            seed: int = 0, show_progress: bool = False) -> Fit:
    """The machine fitted to `device` under `params` (renewing or depressing synapses) by moment
    matching against `reference`. With depression the fit targets the same moments: the run-averaged
    statistics of the depressing network are made to match the model's, so that depression changes
    how the sampler moves between modes, not which distribution it visits on average."""
    bm = rbm.to_bm()
    return fit_machine(bm, device, params, calibration_for(device, params), reference, settings, seed=seed,
                       show_progress=show_progress)


class SpikingNegativePhase:
    """The negative phase of training drawn from the spiking network itself: each call maps the
    current machine onto the device (the calibrated mapping: the network trained is the one that
    samples, no fit), runs it freely for duration_ms after burn_in_ms and returns the states of all
    units read every every_ticks ticks, split into visible and hidden. Counts the ticks it ran."""

    def __init__(self, device, params: ModelParams | None = None, duration_ms: float = 200.0,
                 burn_in_ms: float = 20.0, every_ticks: int = 10, seed: int = 0):
        if not (duration_ms > 0 and burn_in_ms >= 0 and every_ticks >= 1):
            raise InputError(f"a spiking negative phase needs duration > 0, burn-in >= 0 and every_ticks >= 1, got "
                             f"{duration_ms}, {burn_in_ms}, {every_ticks}")
        self.device, self.params = device, params or lif_params(None)
        self.burn = int(round(burn_in_ms / self.params.dt_ms))
        self.n_ticks = self.burn + int(round(duration_ms / self.params.dt_ms))
        self.every, self.seed, self.calls, self.ticks = every_ticks, seed, 0, 0

    def __call__(self, rbm: RBM):
        net = network_for(rbm, self.device, self.params)
        run = self.device.run(net, self.n_ticks, self.seed + self.calls,
                              **sampler_readout(self.device, (0, net.n), self.every, self.burn))
        self.calls += 1
        self.ticks += self.n_ticks
        _, z = run_states(run, every_ticks=self.every, start_tick=self.burn, n_neurons=net.n,
                          tau_ref_ticks=self.params.tau_ref_ticks)
        return z[:, :rbm.n_visible], z[:, rbm.n_visible:]


def spiking_samples(rbm: RBM, device, params: ModelParams, n_samples: int, seed: int = 0,
                    burn_in_ms: float = 100.0, show_progress: bool = False, desc: str = "LIF",
                    fit: Fit | None = None, beta: float = 1.0):
    """n_samples visible states (uint8, pixels then labels) read every τ_ref from one free run after
    burn_in_ms. Returns (v, stats): ticks (= sweeps: a tick updates every neuron once), unit_updates
    (neuron updates), synaptic_events (spikes × their fan-out), operations (the two summed: the cost
    model of docs/results.md), wall_s (the run only; calibration is cached and reported apart)."""
    if n_samples < 1:
        raise InputError(f"need at least one sample, got {n_samples}")
    t_cal = time.perf_counter()
    net = network_for(rbm, device, params, fit, beta)
    t_cal = time.perf_counter() - t_cal
    tau = params.tau_ref_ticks
    burn = int(round(burn_in_ms / params.dt_ms))
    n_ticks = burn + n_samples * tau
    t0 = time.perf_counter()
    # A board reads the visible units' states every tau_ref instead of every spike (the states
    # readout), so that its UART does not set the pace; the spike counts are then not known.
    readout = sampler_readout(device, (0, rbm.n_visible), tau, burn)
    by_states = bool(readout)
    with progress_bar(n_ticks, desc, "tick", enabled=show_progress) as bar:
        run = device.run(net, n_ticks, seed, progress=bar.update, **readout)
    _, states = run_states(run, start_tick=burn, n_neurons=net.n, tau_ref_ticks=tau)
    wall = time.perf_counter() - t0
    v = states[:n_samples, :rbm.n_visible]
    fan_out = np.count_nonzero(net.weights_pa, axis=1)
    events = None if by_states else int(fan_out[run.spike_neuron].sum())
    return v, {"sweeps": n_ticks, "unit_updates": n_ticks * net.n, "synaptic_events": events,
               "operations": None if by_states else n_ticks * net.n + events, "wall_s": wall,
               "calibration_s": t_cal, "readout": "states" if by_states else "spikes",
               "model_ms": n_ticks * params.dt_ms, "stp_u": params.stp_u, "stp_tau_rec_ms": params.stp_tau_rec_ms,
               "mean_rate_hz": None if by_states else len(run.spike_tick) / net.n / (n_ticks * params.dt_ms * 1e-3),
               "status": {k: int(v) for k, v in run.status.items()}}


def classify_clamped(rbm: RBM, device, params: ModelParams, images, seed: int = 0, duration_ms: float = 200.0,
                     burn_in_ms: float = 20.0, show_progress: bool = False, fit: Fit | None = None):
    """Clamp each binary image onto the pixel neurons (ON where 1, OFF where 0), run, and count the
    label neurons' spikes after burn_in_ms; the class is the label with most spikes (ties: lowest).
    Returns (predicted classes, spike counts images × labels, stats)."""
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != rbm.n_pixels:
        raise InputError(f"images must be n × {rbm.n_pixels} pixels, got shape {images.shape}")
    net = network_for(rbm, device, params, fit)
    n_ticks = int(round((burn_in_ms + duration_ms) / params.dt_ms))
    burn = int(round(burn_in_ms / params.dt_ms))
    labels = np.arange(rbm.n_pixels, rbm.n_pixels + rbm.n_labels)
    counts = np.zeros((len(images), rbm.n_labels), np.int64)
    t0 = time.perf_counter()
    with progress_bar(len(images), "classifying", "image", enabled=show_progress) as bar:
        for k, img in enumerate(images):
            clamp = np.full(net.n, int(ClampMode.FREE), np.int8)
            clamp[:rbm.n_pixels] = np.where(img > 0, int(ClampMode.ON), int(ClampMode.OFF))
            run = device.run(net.with_clamp(clamp), n_ticks, seed + k)
            keep = (run.spike_tick >= burn) & (run.spike_neuron >= labels[0]) & (run.spike_neuron <= labels[-1])
            counts[k] = np.bincount(run.spike_neuron[keep] - labels[0], minlength=rbm.n_labels)
            bar.update(1)
    stats = {"ticks": n_ticks * len(images), "unit_updates": n_ticks * len(images) * net.n,
             "wall_s": time.perf_counter() - t0, "duration_ms": duration_ms, "burn_in_ms": burn_in_ms}
    return np.argmax(counts, axis=1), counts, stats
