"""Analysis of sampled spikes: states, empirical distributions, D_KL, and plots.

A unit k is on at tick t iff neuron k spiked in (t − τ_ref, t], i.e. at one of the ticks
t − τ_ref_ticks + 1 … t (docs/model.md). A run made in the states readout (docs/protocol.md, "The
state stream") holds these states as the device sampled them; `run_states` and `run_distribution` take
either kind of run (a SampleRun, a SpikeRun of Device.run with its n_neurons and tau_ref_ticks given, or
RUN.npz as load_run reads it) and use the device's states when there are any. A run made in the stats
readout (docs/protocol.md, "The statistics readout") holds only the counts of its samples: `run_moments`
gives the means and co-activations of any of the three kinds, and what needs the states themselves
refuses a stats run with an InputError saying so.
"""

from __future__ import annotations

import numba
import numpy as np

from .errors import InputError

#: Empirical probabilities are floored at this value inside D_KL so that an unvisited state gives a
#: large, finite divergence rather than infinity.
KL_FLOOR = 1e-12


@numba.njit(cache=True)
def _state_histogram(spike_tick, spike_neuron, n_neurons, n_ticks, tau_ref, t_start):
    """Ticks spent in each state code over [t_start, n_ticks)."""
    hist = np.zeros(1 << n_neurons, dtype=np.int64)
    on_until = np.full(n_neurons, -1, dtype=np.int64)  # last tick (inclusive) the unit is on
    code = 0
    k = 0
    n_sp = spike_tick.shape[0]
    t = 0
    while t < n_ticks:
        # Units switching off after tick t-1.
        for i in range(n_neurons):
            if on_until[i] == t - 1:
                code &= ~(1 << i)
        while k < n_sp and spike_tick[k] == t:
            i = spike_neuron[k]
            on_until[i] = t + tau_ref - 1
            code |= 1 << i
            k += 1
        # Jump to the next event: a spike or a unit switching off.
        nxt = n_ticks
        if k < n_sp and spike_tick[k] < nxt:
            nxt = spike_tick[k]
        for i in range(n_neurons):
            if on_until[i] >= t and on_until[i] + 1 < nxt:
                nxt = on_until[i] + 1
        lo = max(t, t_start)
        if nxt > lo:
            hist[code] += nxt - lo
        t = nxt
    return hist


def _check_run(spike_tick, spike_neuron, n_neurons, n_ticks):
    spike_tick = np.asarray(spike_tick, dtype=np.int64)
    spike_neuron = np.asarray(spike_neuron, dtype=np.int64)
    if spike_tick.shape != spike_neuron.shape:
        raise InputError("spike_tick and spike_neuron differ in length")
    if spike_tick.size and (np.any(np.diff(spike_tick) < 0)):
        raise InputError("spike_tick must be sorted")
    if spike_neuron.size and (spike_neuron.min() < 0 or spike_neuron.max() >= n_neurons):
        raise InputError(f"spike_neuron holds ids outside 0..{n_neurons - 1}")
    if spike_tick.size and (spike_tick.min() < 0 or spike_tick.max() >= n_ticks):
        raise InputError(f"spike_tick holds ticks outside 0..{n_ticks - 1}")
    return spike_tick, spike_neuron


def joint_distribution(spike_tick, spike_neuron, n_neurons: int, n_ticks: int, tau_ref_ticks: int,
                       units=None, burn_in_ticks: int = 0) -> np.ndarray:
    """Time-weighted empirical distribution of the joint state of `units` (default: all neurons, at
    most 24) over ticks [burn_in_ticks, n_ticks); index = state code, unit units[k] is bit k."""
    spike_tick, spike_neuron = _check_run(spike_tick, spike_neuron, n_neurons, n_ticks)
    units = np.arange(n_neurons) if units is None else np.asarray(units, dtype=np.int64)
    if units.size > 24:
        raise InputError(f"a joint distribution over {units.size} units has too many states")
    remap = np.full(n_neurons, -1, dtype=np.int64)
    remap[units] = np.arange(units.size)
    keep = remap[spike_neuron] >= 0
    hist = _state_histogram(spike_tick[keep], remap[spike_neuron[keep]], units.size, int(n_ticks),
                            int(tau_ref_ticks), int(burn_in_ticks))
    total = hist.sum()
    if total == 0:
        raise InputError("no ticks to build a distribution from (burn-in covers the whole run)")
    return hist / total


def sample_states(spike_tick, spike_neuron, n_neurons: int, n_ticks: int, tau_ref_ticks: int,
                  every_ticks: int | None = None, start_tick: int = 0) -> np.ndarray:
    """States read every `every_ticks` (default τ_ref) from `start_tick` on: samples × n_neurons, uint8."""
    spike_tick, spike_neuron = _check_run(spike_tick, spike_neuron, n_neurons, n_ticks)
    every = tau_ref_ticks if every_ticks is None else every_ticks
    reads = np.arange(start_tick, n_ticks, every, dtype=np.int64)
    states = np.zeros((reads.size, n_neurons), dtype=np.uint8)
    for k in range(n_neurons):
        t_k = spike_tick[spike_neuron == k]
        # The last spike of k at or before each read tick; on if it is within tau_ref.
        idx = np.searchsorted(t_k, reads, side="right") - 1
        valid = idx >= 0
        last = np.where(valid, t_k[np.clip(idx, 0, None)] if t_k.size else 0, -tau_ref_ticks - 1)
        states[:, k] = (valid & (reads - last < tau_ref_ticks)).astype(np.uint8)
    return states


def _field(run, name: str, default=None):
    if isinstance(run, dict):
        return run.get(name, default)
    return getattr(run, name, default)


def _readout(run) -> str:
    """"spikes", "states" or "stats": the readout a run was made in."""
    ro = _field(run, "states_readout")
    return ro.kind if ro is not None else str(_field(run, "readout", "spikes"))


def _is_states(run) -> bool:
    if _readout(run) == "stats":
        raise InputError("the run was made in the stats readout, which keeps only the counts of its samples (means "
                         "and co-activations: analysis.run_moments); its states or their joint distribution need "
                         "--readout states (readout=\"states\")")
    return _readout(run) == "states"


def _sampling(run) -> tuple[int, int, int, int]:
    """(first unit, units, period, first sample tick) of a states or stats run."""
    ro = _field(run, "states_readout")
    if ro is not None:
        return ro.first, ro.units, ro.every, ro.wait
    return tuple(int(_field(run, k)) for k in ("state_first", "state_units", "state_every", "state_wait"))


def run_states(run, every_ticks: int | None = None, start_tick: int = 0, n_neurons: int | None = None,
               tau_ref_ticks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(units, samples × units uint8): the states of a run read every `every_ticks` (default τ_ref)
    from `start_tick` on. A spike run's are `sample_states` of all its n_neurons units; a states
    readout's are the device's samples at or after start_tick, of its units (InputError if
    every_ticks is given and is not the readout's period)."""
    n_neurons = _field(run, "n_neurons", n_neurons) if n_neurons is None else n_neurons
    tau = _field(run, "tau_ref_ticks", tau_ref_ticks) if tau_ref_ticks is None else tau_ref_ticks
    if not _is_states(run):
        n_ticks = _field(run, "n_ticks")
        return np.arange(n_neurons), sample_states(_field(run, "spike_tick"), _field(run, "spike_neuron"), n_neurons,
                                                   n_ticks, tau, every_ticks, start_tick)
    first, units, every, _ = _sampling(run)
    if every_ticks is not None and every_ticks != every:
        raise InputError(f"the run's states were sampled every {every} ticks, not every {every_ticks}")
    keep = np.asarray(_field(run, "state_ticks")) >= start_tick
    return np.arange(first, first + units), np.asarray(_field(run, "states"), dtype=np.uint8)[keep]


def run_moments(run, every_ticks: int | None = None, start_tick: int = 0, n_neurons: int | None = None,
                tau_ref_ticks: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(units, means, co-activations) of a run's samples: means[k] = p(unit k on), co[i, j] = p(units i
    and j both on) (co's diagonal is the means), over the samples `run_states` would give. A stats
    run's are its counts over its number of samples (its diagonal / samples, its counts / samples);
    InputError if `every_ticks` is not its period or `start_tick` lies after its first sample (the
    device counted from there: a burn-in needs a later first sample, `wait`, or --readout states)."""
    if _readout(run) != "stats":
        units, states = run_states(run, every_ticks, start_tick, n_neurons, tau_ref_ticks)
        if not len(states):
            raise InputError("no samples to take moments of")
        z = states.astype(np.float64)
        co = z.T @ z / len(z)
        return units, co.diagonal().copy(), co
    first, units, every, wait = _sampling(run)
    if every_ticks is not None and every_ticks != every:
        raise InputError(f"the run's samples were counted every {every} ticks, not every {every_ticks}")
    if start_tick > wait:
        raise InputError(f"the run's samples were counted on the device from tick {wait} on; moments from tick "
                         f"{start_tick} need a stats run whose first sample (wait) is there, or --readout states")
    samples = int(_field(run, "stats_samples"))
    if not samples:
        raise InputError("no samples to take moments of")
    co = np.asarray(_field(run, "stats_counts"), dtype=np.float64) / samples
    return np.arange(first, first + units), co.diagonal().copy(), co


def states_distribution(states: np.ndarray) -> np.ndarray:
    """Empirical distribution of samples × units states (at most 24 units) over state codes, unit k
    being bit k."""
    states = np.asarray(states, dtype=np.int64)
    if states.ndim != 2 or states.shape[1] > 24:
        raise InputError(f"a joint distribution needs samples × at most 24 units, got shape {states.shape}")
    if not states.shape[0]:
        raise InputError("no samples to build a distribution from")
    codes = states @ (1 << np.arange(states.shape[1], dtype=np.int64))
    return np.bincount(codes, minlength=1 << states.shape[1]) / states.shape[0]


def run_distribution(run, units=None, burn_in_ticks: int = 0) -> np.ndarray:
    """The joint distribution of `units` (default: all the run's units) after burn_in_ticks: a spike
    run's time-weighted (`joint_distribution`), a states readout's over its samples."""
    if not _is_states(run):
        return joint_distribution(_field(run, "spike_tick"), _field(run, "spike_neuron"), _field(run, "n_neurons"),
                                  _field(run, "n_ticks"), _field(run, "tau_ref_ticks"), units, burn_in_ticks)
    have, states = run_states(run, start_tick=burn_in_ticks)
    if units is None:
        return states_distribution(states)
    units = np.asarray(units, dtype=np.int64)
    if np.any((units < have[0]) | (units > have[-1])):
        raise InputError(f"the run's states are of units {have[0]}:{have[-1] + 1}, not of units {units.tolist()}")
    return states_distribution(states[:, units - have[0]])


def marginals(joint: np.ndarray) -> np.ndarray:
    """p(z_k = 1) of each unit from a joint distribution over state codes (unit k is bit k)."""
    joint = np.asarray(joint, dtype=np.float64)
    n = int(np.log2(joint.size))
    if joint.size != 1 << n:
        raise InputError(f"a joint distribution has 2^n entries, got {joint.size}")
    codes = np.arange(joint.size)
    return np.array([joint[(codes >> k) & 1 == 1].sum() for k in range(n)])


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """D_KL(p ‖ q) in nats, q floored at KL_FLOOR."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise InputError(f"distributions differ in shape: {p.shape} vs {q.shape}")
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], KL_FLOOR))))


def firing_rates_hz(spike_neuron, n_neurons: int, n_ticks: int, dt_ms: float) -> np.ndarray:
    """Mean firing rate of each neuron over the run."""
    counts = np.bincount(np.asarray(spike_neuron, dtype=np.int64), minlength=n_neurons)
    return counts / (n_ticks * dt_ms * 1e-3)
