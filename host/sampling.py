"""Sampling a Boltzmann machine on a device, and the RUN.npz file it produces."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lifstp.golden_model.spec import ModelError, ModelParams

from . import protocol as P
from .bm import BoltzmannMachine
from .calibration import calibrate
from .device import Device, GoldenDevice
from .errors import InputError
from .fitting import Fit, check_fit
from .link import LinkStats
from .mapping import Calibration, map_bm
from .network import Network
from .progress import progress_bar
from .readout import READOUTS, ReadoutResults, StatesReadout

#: Keys of RUN.npz (README, "Command line"); more may follow.
RUN_KEYS = ("spike_tick", "spike_neuron", "dt_ms", "tau_ref_ticks", "n_ticks", "n_neurons")
#: Keys RUN.npz has besides in the states readout (`readout` = "states"; README, "Command line").
STATE_KEYS = ("state_first", "state_units", "state_every", "state_wait", "state_ticks", "states")
#: Keys RUN.npz has besides in the stats readout (`readout` = "stats"; README, "Command line"): the
#: range, period and first sample as in the states readout, the number of samples counted and the
#: units x units counts of samples with both units on (int64, symmetric; the diagonal: each unit on).
STATS_KEYS = ("state_first", "state_units", "state_every", "state_wait", "stats_samples", "stats_counts")


@dataclass
class SampleRun(ReadoutResults):
    """Spikes of a sampling run with what is needed to decode states from them; in the states readout
    (`states_readout` not None) no spikes but the states the device sampled; in the stats readout
    (`states_readout` a StatsReadout) neither, but the counts the device kept of those samples."""

    spike_tick: np.ndarray
    spike_neuron: np.ndarray
    dt_ms: float
    tau_ref_ticks: int
    n_ticks: int
    n_neurons: int
    #: the calibration the machine was mapped with; None for a network given as it is (`lifstp nir run`)
    calibration: Calibration | None
    status: dict
    #: what the host noticed on the wire and did about it (`lifstp.link.LinkStats` fields)
    link: dict = field(default_factory=lambda: LinkStats().as_dict())

    def save(self, path: str | Path) -> None:
        """Write RUN.npz (README, "Command line": RUN_KEYS, `readout`, and STATE_KEYS in the states
        readout, STATS_KEYS in the stats readout)."""
        cal = {} if self.calibration is None else dict(v_p05_mv=self.calibration.v_p05_mv,
                                                        alpha_mv=self.calibration.alpha_mv)
        ro = self.states_readout
        states = {} if ro is None else dict(
            state_first=ro.first, state_units=ro.units, state_every=ro.every, state_wait=ro.wait)
        if self.readout == "states":
            states.update(state_ticks=self.state_ticks.astype(np.int64), states=self.states.astype(np.uint8))
        elif self.readout == "stats":
            states.update(stats_samples=int(self.stats_samples), stats_counts=self.stats_counts.astype(np.int64))
        np.savez_compressed(
            path, spike_tick=self.spike_tick.astype(np.int64), spike_neuron=self.spike_neuron.astype(np.int32),
            dt_ms=self.dt_ms, tau_ref_ticks=self.tau_ref_ticks, n_ticks=self.n_ticks, n_neurons=self.n_neurons,
            readout=self.readout, **states,
            **cal, **{f"status_{k}": v for k, v in self.status.items()}, **{f"link_{k}": v for k, v in self.link.items()})


def load_run(path: str | Path) -> dict:
    """Read RUN.npz; InputError names a missing key. `readout` is "spikes" for a file written before
    the states readout existed; a string, as every 0-d key is a Python scalar."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    with np.load(path, allow_pickle=False) as data:
        run = {k: data[k][()] if data[k].ndim == 0 else np.array(data[k]) for k in data.files}
    run["readout"] = str(run.get("readout", "spikes"))
    if run["readout"] not in READOUTS:
        raise InputError(f"{path}: unknown readout {run['readout']!r}")
    extra = {"states": STATE_KEYS, "stats": STATS_KEYS}.get(run["readout"], ())
    missing = [k for k in RUN_KEYS + extra if k not in run]
    if missing:
        raise InputError(f"{path}: missing key(s) {', '.join(missing)}")
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in run.items()}


def sampling_params(stp_u: float | None = None, stp_tau_rec_ms: float | None = None,
                    base: ModelParams | None = None) -> ModelParams:
    """Core parameters for sampling: renewing synapses (U = 1, τ_rec = τ_syn) unless STP is given."""
    base = base or ModelParams()
    u = 1.0 if stp_u is None else stp_u
    tau = base.tau_syn_ms if stp_tau_rec_ms is None else stp_tau_rec_ms
    try:
        return replace(base, stp_u=u, stp_tau_rec_ms=tau)
    except ModelError as exc:
        raise InputError(str(exc)) from None


def sample(bm: BoltzmannMachine, device: Device, duration_ms: float, seed: int, params: ModelParams | None = None,
           calibration: Calibration | None = None, show_progress: bool = False, fit: Fit | None = None,
           readout: str = "spikes", units=None, every: int | None = None) -> SampleRun:
    """Calibrate (unless given), map `bm` onto the core and run it for `duration_ms` of model time.
    With `fit` (a lifstp.fitting.Fit of this machine, device and parameters) the fitted network runs.
    readout, units, every: as Device.run's (the states or stats readout of a range of units every K ticks)."""
    params = params or sampling_params()
    sample_ticks(duration_ms, params.dt_ms)  # a bad duration is refused before the calibration
    if fit is not None:
        check_fit(fit, bm, device.formats, params)
        calibration, net = fit.calibration, fit.network()
    else:
        if calibration is None:
            calibration = calibration_for(device, params)
        net = map_bm(bm, params, calibration)
    return run_network(net, device, duration_ms, seed, show_progress, calibration, readout, units, every)


def run_network(net: Network, device: Device, duration_ms: float, seed: int, show_progress: bool = False,
                calibration: Calibration | None = None, readout: str = "spikes", units=None,
                every: int | None = None) -> SampleRun:
    """Run a network as it is (physical units) for `duration_ms` of model time: the spikes (or, with
    readout="states", the states; with readout="stats", their counts) as a RUN.npz."""
    n_ticks = sample_ticks(duration_ms, net.params.dt_ms)
    extra = {} if readout == "spikes" and units is None and every is None else \
        dict(readout=readout, units=units, every=every)  # a device of its own need not know the readout
    with progress_bar(n_ticks, "sampling", "tick", enabled=show_progress) as bar:
        run = device.run(net, n_ticks, seed, progress=bar.update, **extra)
    return SampleRun(run.spike_tick, run.spike_neuron, net.params.dt_ms, net.params.tau_ref_ticks, n_ticks, net.n,
                     calibration, run.status, run.link, states_readout=run.states_readout,
                     state_ticks=run.state_ticks, states=run.states, stats_counts=run.stats_counts,
                     stats_samples=run.stats_samples)


def sample_ticks(duration_ms: float, dt_ms: float) -> int:
    """Ticks of a run of `duration_ms`; InputError unless that is 1 .. 2^32 - 1 ticks (one RUN)."""
    if not (math.isfinite(duration_ms) and duration_ms > 0):
        raise InputError(f"duration must be a positive number of ms, got {duration_ms} ms")
    n_ticks = round(duration_ms / dt_ms)
    if not 1 <= n_ticks <= P.RUN_MAX_TICKS:
        raise InputError(f"a duration of {duration_ms:g} ms is {n_ticks} ticks of {dt_ms:g} ms; a run is "
                         f"1 .. {P.RUN_MAX_TICKS} ticks")
    return n_ticks


_CALIBRATIONS: dict = {}


def calibration_for(device: Device, params: ModelParams) -> Calibration:
    """The calibration of `params` for `device`, computed once per process.

    Every device matches the golden model bit for bit, so the calibration (tens of millions of neuron
    updates) always runs on the golden model with the device's formats: the same numbers a slow
    simulated device would produce, in a second. `lifstp sample` therefore maps a machine identically
    on every device, and the same seed gives the same spikes everywhere."""
    formats = device.formats
    key = (formats, params)
    if key not in _CALIBRATIONS:
        golden = GoldenDevice(formats)
        _CALIBRATIONS[key] = calibrate(params, lambda net, n, s: _spikes(golden.run(net, n, s)))
    return _CALIBRATIONS[key]


def _spikes(run):
    return run.spike_tick, run.spike_neuron
