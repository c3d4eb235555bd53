"""The cycles of a run through the command engine, counted from the RTL (docs/engine.md, "Cycles of a
run"), with the device's byte output always taken (a pipe, not a UART).

A run is the spike encoder (spikes.py) and the core working mostly in series: per tick the encoder's
RUN state and the cycle in which it sees the core idle again (`TICK_EXTRA`; its ISSUE state is the
cycle in which the core takes the tick, the tick's first); per spike the
record it writes while the spike waits at the core's output (`RECORD_CYCLES`: the core's formula
assumes the spike taken in the cycle it is offered); per SKIP record that and the RUN state that
decides it; per SPIKES frame its header, written before the first record, and its request. The
transmitter sends a frame (`transmit_cycles`) while the encoder fills its other buffer; the encoder
waits only when a frame is full before the one before it has left (`run_cycles` follows the time
line for that), and at the end for the last frame and RUN_DONE. The encoder writes a header and RUN_DONE in step with a free-running 2-bit phase, which
the run's first cycle sets: up to 3 cycles per frame, and per run, that `run_cycles` gives as a range.
"""

from __future__ import annotations

import numpy as np

from lifstp import protocol as P
from lifstp.rtl.config import CoreConfig
from lifstp.rtl.core import cycles_per_tick

from .cobs import _COBS_BLOCK  # the block length at which the transmitter starts a block without a zero

__all__ = ["TICK_EXTRA", "RECORD_CYCLES", "SPIKES_HEADER_CYCLES", "RUN_START", "PHASE_WAIT_MAX", "transmit_cycles",
           "run_cycles"]

#: Per tick: the encoder's RUN state and its TICK cycle that sees the core idle (its ISSUE state is the
#: tick's first cycle, in `cycles_per_tick`).
TICK_EXTRA = 2
#: Per record: one byte written a cycle; the spike is taken with the last.
RECORD_CYCLES = P.SPIKE_RECORD_BYTES
#: Per SPIKES frame: the header bytes written (one a cycle) before its first record.
SPIKES_HEADER_CYCLES = P.HEADER_BYTES + P.SPIKES_HEADER.size
#: Per run, before its first tick: the RUN frame's header fetched and decoded (13), RUN executed and
#: its reply written and sent before the encoder starts; the total as the Verilator harness counts it.
RUN_START = 37
#: The most cycles a header or RUN_DONE waits for its phase.
PHASE_WAIT_MAX = 3


def transmit_cycles(encoded: bytes) -> int:
    """Cycles the transmitter (cobs.FrameTransmitter) takes to send one encoded frame (COBS with its
    delimiter), from the source's request to the delimiter, with `o` always ready: 4 per byte of body
    and CRC (n = encoded length - 2: each byte is scanned in 2 cycles and emitted in 2, a zero as the
    next block's code byte), 5 more (the request, the last block's code and end, the delimiter), and 3
    more per block that ends at the 254-byte limit rather than at a zero."""
    n = len(encoded) - 2
    full_blocks, i = 0, 0
    while i < len(encoded) - 1:  # walk the code bytes
        code = encoded[i]
        i += code
        if code == _COBS_BLOCK + 1 and i < len(encoded) - 1:
            full_blocks += 1
            n -= 1  # that code byte stands for no zero of the frame
    return 4 * n + 5 + 3 * full_blocks


#: The RUN_DONE body's length.
_DONE_BODY = P.HEADER_BYTES + P.RUN_DONE_PAYLOAD.size
#: Cycles from a request (the SEND state's cycle) to the first in which the other buffer counts as
#: free again, beyond the frame's transmit_cycles: the request is registered (pending), and so is its
#: clearing at the delimiter.
FREE_AFTER = 1
#: Cycles from the run's RUN_DONE request to the end of the busy count, beyond its transmit_cycles.
DONE_AFTER = 1


def run_cycles(cfg: CoreConfig, n_ticks: int, sent: bytes, n_active: int = 0) -> tuple[int, int]:
    """(fewest, most) busy cycles of a run of n_ticks ticks that sent the bytes `sent` (the RUN reply,
    its SPIKES frames and RUN_DONE, as encoded), from the frames alone: the spikes per tick, the
    records and the frames are read from them; n_active is the core's register (0: all N).

    The encoder and the core work in series, and a full frame is handed to the transmitter in one
    SEND cycle, unless the frame before it is still on the line: then SEND waits for it (the core
    meanwhile delivers the spike of the last record, its M columns, the next spike offered in the
    last, or after the tick's last spike ends the tick: M + 5 cycles to the idle cycle the encoder
    looks for; after a SKIP record nothing goes on). So the time line is followed frame by frame:
    each frame's request, from the work before it, and the cycle its buffer is free again. At the
    end the last frame, if open, is requested, RUN_DONE is written meanwhile and requested once that
    frame has left, and the run ends when RUN_DONE has left."""
    frames = [P.decode_frame(f) for f in sent.split(bytes([P.DELIMITER])) if f]
    encoded = [f + bytes([P.DELIMITER]) for f in sent.split(bytes([P.DELIMITER])) if f]
    done = next(f for f in frames if f.op == P.Msg.RUN_DONE)
    done_tx = transmit_cycles(next(e for f, e in zip(frames, encoded) if f.op == P.Msg.RUN_DONE))
    ran, next_tick = P.RUN_DONE_PAYLOAD.unpack(done.payload)[:2]
    first_tick = next_tick - ran
    spikes = [(f, e) for f, e in zip(frames, encoded) if f.op == P.Msg.SPIKES]
    decoded = [P.decode_spikes(f.payload) for f, _ in spikes]
    all_ticks = np.concatenate([d[2] for d in decoded]) if decoded else np.empty(0, np.int64)
    per_tick = np.bincount(all_ticks - first_tick, minlength=n_ticks)
    m = cfg.active_depth(n_active)
    tick_cycles = TICK_EXTRA + np.array([cycles_per_tick(cfg, int(k), n_active) for k in per_tick], np.int64)
    before = RUN_START + np.concatenate([[0], np.cumsum(tick_cycles)])  # when tick i is decided in RUN
    # Within a tick, the cycles before its first spike's record: RUN, then ISSUE (the tick's first),
    # UPDATE and FLUSH (the tick's cycles without spikes, less DELIVER's empty cycle and END).
    to_first = 1 + cycles_per_tick(cfg, 0, n_active) - 2
    extra = 0  # the frames' own cycles (headers, records, SKIP decisions) and the waits, so far
    free_at = 0  # the first cycle in which the other buffer is free
    seen = 0
    open_at_end = False
    for (frame, enc), (_, _, ticks, _) in zip(spikes, decoded):
        records = (len(frame.payload) - P.SPIKES_HEADER.size) // P.SPIKE_RECORD_BYTES
        extra += SPIKES_HEADER_CYCLES + RECORD_CYCLES * records + records - len(ticks)
        seen += len(ticks)
        if records < P.SPIKES_PER_FRAME:  # the run's last frame: SEND after the RUN that finds no tick
            now, overlap, open_at_end = before[-1] + extra + 1, 0, True
        elif _last_record_is_spike(frame.payload):
            tick = int(ticks[-1])
            j = int(np.sum(all_ticks[:seen] == tick))  # the frame's last spike is the tick's j-th
            now = before[tick - first_tick] + to_first + (j - 1) * m + extra
            overlap = m if seen < len(all_ticks) and all_ticks[seen] == tick else m + 5
        else:  # a SKIP, written before the tick it precedes
            now, overlap = before[_skip_tick(frame, first_tick)] + extra, 1
        wait = max(0, free_at - now)
        free_at = now + wait + transmit_cycles(enc) + FREE_AFTER
        extra += 1 + wait - overlap if open_at_end else max(0, 1 + wait - overlap)
    # RUN (no tick left; after an open frame's SEND, once more), RUN_DONE's body, its request.
    body_done = before[-1] + extra + 1 + _DONE_BODY + (1 if open_at_end else 0)
    cycles = max(body_done, free_at) + done_tx + DONE_AFTER
    return int(cycles), int(cycles) + PHASE_WAIT_MAX * (len(spikes) + 1)


def _skip_tick(frame, first_tick: int) -> int:
    """The run's tick index before which a frame's last record, a SKIP, was written."""
    base = P.SPIKES_HEADER.unpack_from(frame.payload)[1]
    deltas = np.frombuffer(frame.payload[P.SPIKES_HEADER.size:], np.uint8)[::P.SPIKE_RECORD_BYTES]
    return int(base + int(deltas.astype(np.int64).sum())) - first_tick + 1


def _last_record_is_spike(payload: bytes) -> bool:
    """The last record of a SPIKES payload is a spike, not a SKIP."""
    neuron = int.from_bytes(payload[-(P.SPIKE_RECORD_BYTES - 1):], "little")
    return neuron != P.SPIKE_SKIP
