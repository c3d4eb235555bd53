"""What a device sends the host during a run: every spike (the spike stream); in the states readout,
the states of a contiguous range of units every K ticks (docs/protocol.md, "The state stream"); in
the stats readout, nothing but the counts of those samples, read after the run (docs/protocol.md,
"The statistics readout").

`StatesReadout` is a checked choice of range, period and first sample, `StatsReadout` the same choice
counted on the device; `states_readout` and `stats_readout` make one from what a user gives (a range,
a period, a first tick), refusing bad input before anything is sent.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np

from lifstp.golden_model.spec import READOUT_REGISTERS, SAMPLE_TICK_BITS, SAMPLE_UNITS_MAX

from .errors import InputError
from .protocol import STATS_UNITS_MAX

#: The readouts a run can be made in (RUN.npz's `readout`).
READOUTS = ("spikes", "states", "stats")
#: Largest sample period and first-sample tick (registers sample_every and sample_wait).
SAMPLE_TICK_MAX = (1 << SAMPLE_TICK_BITS) - 1


@dataclass(frozen=True)
class StatesReadout:
    """The states of units first .. first + units - 1, sampled at the run's ticks wait + j * every."""

    first: int
    units: int
    every: int
    wait: int = 0

    #: the readout's name (RUN.npz's `readout`)
    kind = "states"

    @property
    def stop(self) -> int:
        """One past the last unit."""
        return self.first + self.units

    def registers(self, wait: int | None = None) -> dict[str, int]:
        """The readout registers by name (sample_wait = `wait` if given: a segment's own)."""
        return dict(zip(READOUT_REGISTERS, (self.units, self.first, self.every, self.wait if wait is None else wait,
                                            int(self.kind == "stats"))))

    def wait_at(self, at: int) -> int:
        """sample_wait of a run starting at the whole run's tick `at`, so that its samples fall on the
        whole run's grid wait + j * every."""
        if at <= self.wait:
            return self.wait - at
        return (-(at - self.wait)) % self.every

    def ticks(self, n_ticks: int) -> np.ndarray:
        """The whole run's sample ticks in n_ticks ticks."""
        return np.arange(self.wait, n_ticks, self.every, dtype=np.int64)


@dataclass(frozen=True)
class StatsReadout(StatesReadout):
    """The same samples (at most STATS_UNITS_MAX units) counted on the device instead of sent: for each
    pair of units, the samples with both on (docs/protocol.md, "The statistics readout")."""

    kind = "stats"


def sampler_readout(device, units: tuple[int, int], every: int, wait: int) -> dict:
    """`Device.run`'s readout keywords for a sampler that needs only the states of `units` every
    `every` ticks from tick `wait` on: the states readout where the device prefers it (a board, so
    that its UART does not set the pace), else none (the spike stream; `analysis.run_states` gives
    the same states from either)."""
    if getattr(device, "prefers_states", False):
        return dict(readout="states", units=units, every=every, wait=wait)
    return {}


def parse_units(text: str) -> tuple[int, int]:
    """--units A:B (units A .. B - 1) as (A, B); InputError for anything else."""
    parts = text.split(":")
    try:
        first, stop = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"--units {text}: expected A:B, the units A .. B-1 (e.g. 0:16)") from None
    return first, stop


def states_readout(n_units: int, tau_ref_ticks: int, units=None, every: int | None = None,
                   wait: int = 0) -> StatesReadout:
    """The states readout of `units` ((first, stop) or a range; default all n_units units of the
    network) every `every` ticks (default tau_ref_ticks) from the run's tick `wait`; InputError for a
    range outside the network, more than SAMPLE_UNITS_MAX units, or a period or first tick out of range."""
    return _checked(StatesReadout, SAMPLE_UNITS_MAX, "sends", n_units, tau_ref_ticks, units, every, wait)


def stats_readout(n_units: int, tau_ref_ticks: int, units=None, every: int | None = None,
                  wait: int = 0) -> StatsReadout:
    """The stats readout: as `states_readout`, but at most STATS_UNITS_MAX units (InputError beyond)."""
    return _checked(StatsReadout, STATS_UNITS_MAX, "counts", n_units, tau_ref_ticks, units, every, wait)


def _checked(cls, most: int, does: str, n_units: int, tau_ref_ticks: int, units, every, wait):
    what = f"the {cls.kind} readout"
    if units is None:
        first, stop = 0, n_units
    elif isinstance(units, range):
        if units.step != 1:
            raise InputError(f"{what}'s units are a contiguous range, got {units}")
        first, stop = units.start, units.stop
    else:
        first, stop = (int(u) for u in units)
    if not 0 <= first < stop <= n_units:
        raise InputError(f"units {first}:{stop} are not a range of the network's units 0:{n_units}")
    if stop - first > most:
        raise InputError(f"units {first}:{stop} are {stop - first} units; {what} {does} at most {most}")
    every = _integer(tau_ref_ticks if every is None else every, what, "period")
    wait = _integer(wait, what, "first sample")
    if not 1 <= every <= SAMPLE_TICK_MAX:
        raise InputError(f"{what}'s period is 1 .. {SAMPLE_TICK_MAX} ticks, got {every}")
    if not 0 <= wait <= SAMPLE_TICK_MAX:
        raise InputError(f"{what}'s first sample is at tick 0 .. {SAMPLE_TICK_MAX}, got {wait}")
    return cls(first, stop - first, every, wait)


def _integer(value, what: str, which: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise InputError(f"{what}'s {which} is a whole number of ticks, got {value!r}") from None


@dataclass(kw_only=True)
class ReadoutResults:
    """What a run made in the states or stats readout gives, beside (or instead of) its spikes: the
    fields that `lifstp.device.SpikeRun` and `lifstp.sampling.SampleRun` share."""

    #: the states (or stats) readout the run was made in; None for the spike stream
    states_readout: StatesReadout | None = None
    #: int64, the ticks of the samples since the run started (states readout)
    state_ticks: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    #: samples x units uint8: unit states_readout.first + k of sample j at states[j, k] (states readout)
    states: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.uint8))
    #: units x units int64, symmetric: the samples with units first + i and first + j both on (i = j:
    #: unit first + i on), counted by the device (stats readout)
    stats_counts: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.int64))
    #: the number of samples the counts are of (stats readout): at the ticks wait + j * every
    stats_samples: int = 0

    @property
    def readout(self) -> str:
        """"spikes", "states" or "stats": the readout the run was made in."""
        return "spikes" if self.states_readout is None else self.states_readout.kind
