"""The cycles of a run through the command engine, counted from the RTL (docs/engine.md, "Cycles of a
run"), with the device's byte output always taken (a pipe, not a UART).

A run is the spike encoder (spikes.py) and the core working mostly in series: per tick the encoder's
RUN and ISSUE states and the cycle in which it sees the core idle again (`TICK_EXTRA`); per spike the
record it writes while the spike waits at the core's output (`RECORD_CYCLES`: the core's formula
assumes the spike taken in the cycle it is offered); per SKIP record that and the RUN state that
decides it; per SPIKES frame its header, written before the first record, and its transmission
(`transmit_cycles`), during which the encoder waits and the core goes on only until it next needs
the encoder. The encoder writes a header and RUN_DONE in step with a free-running 2-bit phase, which
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

#: Per tick: the encoder's RUN and ISSUE states, and its TICK cycle that sees the core idle.
TICK_EXTRA = 3
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


def _run_end() -> int:
    """Cycles after the last tick (and the last frame): the RUN state that finds no tick left,
    RUN_DONE's body written a byte a cycle, and the frame sent."""
    body = P.HEADER_BYTES + P.RUN_DONE_PAYLOAD.size
    return 1 + body + 4 * (body + P.CRC_BYTES) + 5


def run_cycles(cfg: CoreConfig, n_ticks: int, sent: bytes, n_active: int = 0) -> tuple[int, int]:
    """(fewest, most) busy cycles of a run of n_ticks ticks that sent the bytes `sent` (the RUN reply,
    its SPIKES frames and RUN_DONE, as encoded), from the frames alone: the spikes per tick, the
    records and the frames are read from them; n_active is the core's register (0: all N).

    A full frame is sent right after its last record: the core meanwhile delivers that spike (its M
    columns, the next spike offered in the last) or, after the tick's last spike, ends the tick (M + 5
    cycles to the idle cycle the encoder looks for); after a SKIP record the encoder goes straight to
    the next tick. The last frame of a run, not full, is sent when no tick is left (one more RUN
    state)."""
    frames = [P.decode_frame(f) for f in sent.split(bytes([P.DELIMITER])) if f]
    encoded = [f + bytes([P.DELIMITER]) for f in sent.split(bytes([P.DELIMITER])) if f]
    done = next(f for f in frames if f.op == P.Msg.RUN_DONE)
    ran, next_tick = P.RUN_DONE_PAYLOAD.unpack(done.payload)[:2]
    first_tick = next_tick - ran
    spikes = [(f, e) for f, e in zip(frames, encoded) if f.op == P.Msg.SPIKES]
    decoded = [P.decode_spikes(f.payload) for f, _ in spikes]
    all_ticks = np.concatenate([d[2] for d in decoded]) if decoded else np.empty(0, np.int64)
    per_tick = np.bincount(all_ticks - first_tick, minlength=n_ticks)
    m = cfg.active_depth(n_active)
    counts, how_often = np.unique(per_tick, return_counts=True)
    cycles = RUN_START + _run_end() + TICK_EXTRA * n_ticks
    cycles += sum(int(k) * cycles_per_tick(cfg, int(s), n_active) for s, k in zip(counts, how_often))
    seen = 0
    for (frame, enc), (_, _, ticks, _) in zip(spikes, decoded):
        records = (len(frame.payload) - P.SPIKES_HEADER.size) // P.SPIKE_RECORD_BYTES
        skips = records - len(ticks)
        cycles += SPIKES_HEADER_CYCLES + RECORD_CYCLES * records + skips
        seen += len(ticks)
        t_tx = transmit_cycles(enc)
        if records < P.SPIKES_PER_FRAME:  # the run's last frame
            cycles += 1 + t_tx
            continue
        if not _last_record_is_spike(frame.payload):
            overlap = 1
        elif seen < len(all_ticks) and all_ticks[seen] == ticks[-1]:
            overlap = m
        else:
            overlap = m + 5
        cycles += max(0, t_tx + 1 - overlap)
    return cycles, cycles + PHASE_WAIT_MAX * (len(spikes) + 1)


def _last_record_is_spike(payload: bytes) -> bool:
    """The last record of a SPIKES payload is a spike, not a SKIP."""
    neuron = int.from_bytes(payload[-(P.SPIKE_RECORD_BYTES - 1):], "little")
    return neuron != P.SPIKE_SKIP
