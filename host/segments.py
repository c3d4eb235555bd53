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
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lifstp.golden_model.fixed import Snapshot
from lifstp.golden_model.spec import REGISTER_NAMES

from . import protocol as P
from .errors import LifstpError
from .link import DeviceClient, DeviceError, LinkError, RunDone, RunStream, SpikeFrame, StatesFrame
from .readout import StatesReadout

#: Ticks of one segment. A lost frame costs at most this many ticks run again; a segment costs a few
#: commands besides its RUN (STATUS, a READ per field of RUN_STATE, RESET, a WRITE of the counters).
SEGMENT_TICKS = 20_000
#: Runs of one segment after its first, halvings aside, before the host gives up.
MAX_RERUNS = 8
#: The shortest a segment is halved to.
MIN_SEGMENT_TICKS = 64
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

    A segment that lost most of its frames in a run is halved (down to MIN_SEGMENT_TICKS) before it is
    run again, and the segments after it grow back by doubling: on a line that damages most long frames,
    short runs end in short frames that get through. Other re-runs are limited to max_reruns a segment.
    """
    if segment_ticks < 1:
        raise ValueError(f"segment_ticks must be positive, got {segment_ticks}")
    if states is None:
        return _run_all(client, n_ticks, segment_ticks, max_reruns, progress, None)
    write_readout(client, states.registers())
    try:
        result = _run_all(client, n_ticks, segment_ticks, max_reruns, progress, states)
    except LifstpError:
        try:  # the run's own error is the one to report; the spike stream back if the device still listens
            write_readout(client, {"sample_units": 0})
        except LifstpError:
            pass
        raise
    write_readout(client, {"sample_units": 0})
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
    while True:
        t, r, done, start = _run_segment(client, min(length, n_ticks - at), max_reruns,
                                         lambda k, at=at: report(at + k), states, at)
        origin = start - at if origin is None else origin
        ticks.append(t)
        records.append(r)
        at += done.ticks_run
        if at >= n_ticks:
            break
        length = min(segment_ticks, 2 * done.ticks_run)
    ticks = np.concatenate(ticks)
    if states is not None and not np.array_equal(ticks - origin, want := states.ticks(n_ticks)):
        raise LinkError(f"the run's samples are at {len(ticks)} ticks, not at the {len(want)} ticks "
                        f"{states.wait} + j * {states.every} of its grid")
    return (ticks, np.concatenate(records),
            {"ticks_run": n_ticks, "next_tick": done.next_tick, "spikes": len(ticks),
             "spikes_dropped": done.spikes_dropped, "stopped": False})


def _run_segment(client: DeviceClient, n_ticks: int, max_reruns: int, on_tick, states: StatesReadout | None,
                 at: int):
    """One segment from the device's present state (the whole run's tick `at`), run until complete:
    (ticks, neurons or samples, its RunDone, the device's tick at its start), which may cover fewer
    than n_ticks ticks if the segment had to be halved."""
    state = save_state(client)
    start = state.tick
    frames: dict[int, SpikeFrame | StatesFrame] = {}
    done: RunDone | None = None
    budget, attempt = max_reruns, 0
    while True:
        if attempt:
            client.stats.reruns += 1
            client.stop_and_reset()
        else:
            client.reset()
        restore_state(client, state, neurons=attempt > 0)
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


def _rests_at(client: DeviceClient, tick: int) -> bool:
    """The device is not running (IDENTIFY is refused during a run) and its tick is `tick`."""
    try:
        client.identify()
    except DeviceError as exc:
        if exc.code == P.Err.BUSY:
            return False
        raise
    return client.status()["ticks"] == tick
