"""Runs in segments that can be repeated, so that a spike frame lost on the wire costs a segment run
again, never a spike (docs/protocol.md, "Faults on the wire").

The device keeps no copy of a SPIKES frame it has sent, but the model is deterministic: from the same
state a segment gives the same frames, byte for byte after the stream seq. Before each segment the
host saves the device's state: the status counters (the tick among them) and every neuron field a run
changes. Each run of a segment starts with a RESET (stream seq 0, so that stream positions are known)
and the counters written back; a re-run writes the neuron fields back too. The frames that arrive
are kept by stream position over the runs of a segment until RUN_DONE has come and they hold as many
spikes as it counts; then every spike has arrived exactly once.

In the states readout (docs/protocol.md, "The state stream") the same holds of STATES frames and
their samples. The readout registers are written before the run and sample_units set back to 0 after
it; each segment's sample_wait is written so that the samples fall on the whole run's grid
(`StatesReadout.wait_at`), wherever the segments begin (a halved segment included).

In the stats readout (docs/protocol.md, "The statistics readout") a run sends no frames but RUN_DONE:
the device counts the samples, and each RUN starts its counts from zero. A segment is complete when
its RUN_DONE has come (or the device rests at the segment's end); then the host reads the segment's
counts in space STATS and adds them to the whole run's. A segment run again counts afresh, so only
the counts of the run that completed are used. sample_stats and sample_units are set back to 0 after
the run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lifstp.golden_model.fixed import Snapshot
from lifstp.golden_model.spec import REGISTER_NAMES

from . import protocol as P
from .errors import LifstpError
from .link import DeviceClient, DeviceError, LinkError, RunDone, RunStream, SpikeFrame, StatesFrame
from .readout import StatesReadout, StatsReadout

#: Ticks of one segment. A lost frame costs at most this many ticks run again; a segment costs a few
#: commands besides its RUN (STATUS, a READ per field of RUN_STATE, RESET, a WRITE of the counters).
SEGMENT_TICKS = 20_000
#: Runs of one segment after its first, halvings aside, before the host gives up.
MAX_RERUNS = 8
#: The shortest a segment is halved to.
MIN_SEGMENT_TICKS = 64
#: A count of space STATS at its largest: a count that reached it may have saturated.
STATS_COUNT_MAX = (1 << (8 * P.STATS_COUNT_BYTES)) - 1
#: The neuron fields a run changes: the core's state between ticks (the golden core's Snapshot);
#: E_L and the clamp mode are configuration.
RUN_STATE = tuple(P.NeuronField[f.name.upper()] for f in fields(Snapshot) if f.name != "tick")


@dataclass(frozen=True)
class SavedState:
    """The device's state between two segments."""

    counters: np.ndarray  #: every status counter, in StatusCounter order
    neurons: dict  #: NeuronField of RUN_STATE -> values of every neuron

    @property
    def tick(self) -> int:
        """The device's tick."""
        return int(self.counters[P.StatusCounter.TICKS])


def save_state(client: DeviceClient) -> SavedState:
    """Read the device's state (outside a run)."""
    status = client.status()
    n = (client.info or client.identify()).n_neurons
    return SavedState(np.array([status[c.name.lower()] for c in P.StatusCounter], dtype=np.int64),
                      {f: client.read(P.Space.NEURON, f, 0, n) for f in RUN_STATE})


def restore_state(client: DeviceClient, state: SavedState, neurons: bool = True) -> None:
    """Write a saved state back: the counters, and the neuron fields unless `neurons` is False."""
    client.write(P.Space.STATUS, 0, 0, state.counters)
    if neurons:
        for f, values in state.neurons.items():
            client.write(P.Space.NEURON, f, 0, values)


def write_readout(client: DeviceClient, registers: dict[str, int]) -> None:
    """Write readout registers (name -> value), one WRITE each."""
    for name, value in registers.items():
        client.write(P.Space.REG, 0, REGISTER_NAMES.index(name), [value])


def run_segments(client: DeviceClient, n_ticks: int, segment_ticks: int = SEGMENT_TICKS,
                 max_reruns: int = MAX_RERUNS, progress=None,
                 states: StatesReadout | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run n_ticks ticks in segments of up to segment_ticks, each run again until all its spikes have
    arrived; returns (spike ticks, spike neurons, RUN_DONE fields of the whole run), as
    DeviceClient.run does. LinkError names the segment and what it still missed. progress(k) is
    called with the ticks newly covered.

    With `states`, the run is in the states readout: returns (sample ticks, samples x units uint8,
    RUN_DONE fields; its "spikes" counts the samples), the ticks counted from the device's tick at
    the start, exactly `states.ticks(n_ticks)` (else LinkError). sample_units is 0 again afterwards.

    With a `StatsReadout`, the run is in the stats readout: returns (counts, samples, RUN_DONE
    fields): counts[i, j] (units x units int64, symmetric) the samples with units first + i and
    first + j both on, summed over the segments, and samples (int) the number of samples counted,
    exactly len(states.ticks(n_ticks)) (else LinkError). A device count at its largest
    (STATS_COUNT_MAX: it may have saturated) is a LifstpError naming the segment. sample_units and
    sample_stats are 0 again afterwards.

    A segment that lost most of its frames in a run is halved (down to MIN_SEGMENT_TICKS) before it is
    run again, and the segments after it grow back by doubling: on a line that damages most long frames,
    short runs end in short frames that get through. Other re-runs are limited to max_reruns a segment.
    """
    if segment_ticks < 1:
        raise ValueError(f"segment_ticks must be positive, got {segment_ticks}")
    if states is None:
        return _run_all(client, n_ticks, segment_ticks, max_reruns, progress, None)
    back = {"sample_units": 0, **({"sample_stats": 0} if isinstance(states, StatsReadout) else {})}
    try:
        write_readout(client, states.registers())
        result = _run_all(client, n_ticks, segment_ticks, max_reruns, progress, states)
    except LifstpError:
        try:  # the run's own error is the one to report; the spike stream back if the device still listens
            write_readout(client, back)
        except LifstpError:
            pass
        raise
    write_readout(client, back)
    return result


def _run_all(client: DeviceClient, n_ticks: int, segment_ticks: int, max_reruns: int, progress,
             states: StatesReadout | None):
    covered = 0

    def report(tick: int) -> None:
        nonlocal covered
        if progress is not None and tick > covered:
            progress(tick - covered)
        covered = max(covered, tick)

    ticks, records, at, length, origin = [], [], 0, segment_ticks, None
    counted = isinstance(states, StatsReadout)
    counts, samples = (np.zeros((states.units, states.units), np.int64), 0) if counted else (None, 0)
    while True:
        t, r, done, start = _run_segment(client, min(length, n_ticks - at), max_reruns,
                                         lambda k, at=at: report(at + k), states, at)
        origin = start - at if origin is None else origin
        if counted:
            counts += r
            samples += t
        else:
            ticks.append(t)
            records.append(r)
        at += done.ticks_run
        if at >= n_ticks:
            break
        length = min(segment_ticks, 2 * done.ticks_run)
    if counted:
        if samples != len(want := states.ticks(n_ticks)):
            raise LinkError(f"the device counted {samples} samples in the run, not the {len(want)} ticks "
                            f"{states.wait} + j * {states.every} of its grid")
        return (counts, samples, {"ticks_run": n_ticks, "next_tick": done.next_tick, "spikes": samples,
                                  "spikes_dropped": done.spikes_dropped, "stopped": False})
    ticks = np.concatenate(ticks)
    if states is not None and not np.array_equal(ticks - origin, want := states.ticks(n_ticks)):
        raise LinkError(f"the run's samples are at {len(ticks)} ticks, not at the {len(want)} ticks "
                        f"{states.wait} + j * {states.every} of its grid")
    return (ticks, np.concatenate(records),
            {"ticks_run": n_ticks, "next_tick": done.next_tick, "spikes": len(ticks),
             "spikes_dropped": done.spikes_dropped, "stopped": False})



def _begin_attempt(client, state, attempt: int) -> None:
    """Start a segment's run from its saved state: RESET and the counters written back; a re-run
    (attempt > 0) first stops whatever still runs and writes the neuron fields back too."""
    if attempt:
        client.stats.reruns += 1
        client.stop_and_reset()
    else:
        client.reset()
    restore_state(client, state, neurons=attempt > 0)

def _run_segment(client: DeviceClient, n_ticks: int, max_reruns: int, on_tick, states: StatesReadout | None,
                 at: int):
    """One segment from the device's present state (the whole run's tick `at`), run until complete:
    (ticks, neurons or samples, its RunDone, the device's tick at its start), which may cover fewer
    than n_ticks ticks if the segment had to be halved. In the stats readout: (samples counted, their
    counts, its RunDone, the device's tick at its start)."""
    if isinstance(states, StatsReadout):
        return _run_stats_segment(client, n_ticks, max_reruns, on_tick, states, at)
    state = save_state(client)
    start = state.tick
    frames: dict[int, SpikeFrame | StatesFrame] = {}
    done: RunDone | None = None
    budget, attempt = max_reruns, 0
    while True:
        _begin_attempt(client, state, attempt)
        end = start + n_ticks
        if states is None:
            stream = client.stream_run(n_ticks, start_tick=start, first_seq=0, on_tick=on_tick)
        else:
            wait = states.wait_at(at)
            write_readout(client, {"sample_wait": wait})
            stream = client.stream_run(n_ticks, start_tick=start, first_seq=0, on_tick=on_tick, units=states.units,
                                       every=states.every, first_sample=start + wait)
        for pos, frame in stream.frames.items():
            if frames.setdefault(pos, frame).body != frame.body:
                raise LinkError(f"two runs of ticks {start}..{end} sent different {stream.what[0]} frames at stream "
                                f"position {pos}: a damaged frame passed its CRC check")
        ended = stream.done is not None and not stream.done.stopped and stream.done.ticks_run == n_ticks
        if ended:
            if done is not None and stream.done != done:
                raise LinkError(f"two runs of ticks {start}..{end} ended differently: {done} and {stream.done}")
            done = stream.done
        arrived = sum(len(f.ticks) for f in frames.values())
        if done is not None and arrived > done.spikes:
            raise LinkError(f"ticks {start}..{end}: {arrived} {stream.what[1]} arrived, the device sent {done.spikes}")
        # Complete, and the device must rest at the end of the segment for the next one to start there.
        if done is not None and arrived == done.spikes and (ended or _rests_at(client, end)):
            whole = RunStream(n_ticks, frames, done, units=stream.units)
            return (*(whole.states() if states else whole.spikes()), done, start)
        attempt += 1
        if n_ticks > MIN_SEGMENT_TICKS and stream.frames_lost > len(stream.frames):
            n_ticks = max(MIN_SEGMENT_TICKS, n_ticks // 2)  # another segment: what arrived is of no use
            frames, done = {}, None
        elif budget:
            budget -= 1  # the same segment again: its frames fill in what the earlier runs lost
        else:
            what = "its RUN_DONE never arrived" if done is None else \
                f"{done.spikes - arrived} of its {done.spikes} {stream.what[1]} missing"
            raise LinkError(f"{stream.what[0]} frames of ticks {start}..{end} were lost on the link in {attempt} runs of that "
                            f"segment ({what}); the link is too noisy ({client.stats.summary()})")


def _run_stats_segment(client: DeviceClient, n_ticks: int, max_reruns: int, on_tick, stats: StatsReadout, at: int):
    """_run_segment in the stats readout: the segment run until a run of it has completed (its
    RUN_DONE came, or the device rests at its end), then its counts read."""
    state = save_state(client)
    start, end = state.tick, state.tick + n_ticks
    wait = stats.wait_at(at)
    want = len(range(wait, n_ticks, stats.every))  # the samples of the segment's grid
    done: RunDone | None = None
    for attempt in range(max_reruns + 1):
        _begin_attempt(client, state, attempt)
        write_readout(client, {"sample_wait": wait})
        stream = client.stream_run(n_ticks, start_tick=start, first_seq=0, on_tick=on_tick, counted=True)
        ended = stream.done is not None and not stream.done.stopped and stream.done.ticks_run == n_ticks
        if ended:
            if stream.done.spikes != want:
                raise LinkError(f"ticks {start}..{end}: the device counted {stream.done.spikes} samples, not the "
                                f"{want} of the segment's grid")
            done = stream.done
        if ended or _rests_at(client, end):  # this run's counts are complete on the device
            if done is None:  # its RUN_DONE lost, an earlier one's not had: what it would have said
                done = RunDone(n_ticks, end, want, 0, False)
            counts = read_counts(client, stats.units)
            if (full := np.argwhere(np.triu(counts) >= STATS_COUNT_MAX)).size:
                i, j = full[0]
                raise LifstpError(f"ticks {start}..{end}: the device's count of units {stats.first + i} and "
                                  f"{stats.first + j} on together reached {STATS_COUNT_MAX}, where it saturates; "
                                  "run shorter segments (segment_ticks)")
            return want, counts, done, start
    raise LinkError(f"the RUN_DONE of ticks {start}..{end} was lost on the link in {max_reruns + 1} runs of that "
                    f"segment, and the device never rested at its end; the link is too noisy ({client.stats.summary()})")


def read_counts(client: DeviceClient, units: int) -> np.ndarray:
    """The stats readout's counts of the first `units` units of the range (units x units int64,
    symmetric), read as rows i, columns i .. units - 1 (the device's (j, i) is its (i, j))."""
    counts = np.zeros((units, units), np.int64)
    for i in range(units):
        counts[i, i:] = client.read(P.Space.STATS, 0, i * P.STATS_UNITS_MAX + i, units - i)
    return np.triu(counts) + np.triu(counts, 1).T


def _rests_at(client: DeviceClient, tick: int) -> bool:
    """The device is not running (IDENTIFY is refused during a run) and its tick is `tick`."""
    try:
        client.identify()
    except DeviceError as exc:
        if exc.code == P.Err.BUSY:
            return False
        raise
    return client.status()["ticks"] == tick
