"""The RTL device and the golden emulator side by side: the same bytes into both, answers compared.

`Tee` is a device (feed(bytes) -> bytes, the RTL's answer) for `lifstp.link.LoopbackTransport`; it
feeds every byte to `EngineSim` and to `GoldenEmulator` and compares their frames in order: every
reply and ERROR byte for byte (STATUS replies with CYCLES_LAST_TICK masked: the golden device reports
0), while SPIKES and RUN_DONE frames are collected per device and compared decoded (`stream()`),
since the two may cut the spike stream into frames differently.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from lifstp import protocol as P
from lifstp.emulator import GoldenEmulator

__all__ = ["Tee", "decode_stream"]

_STREAM_OPS = (P.Msg.SPIKES, P.Msg.STATES, P.Msg.RUN_DONE)


def _masked(frame: P.Frame) -> tuple:
    if frame.op == P.Op.STATUS | P.REPLY_BIT and len(frame.payload) == P.COUNTER_BYTES * len(P.StatusCounter):
        k = P.StatusCounter.CYCLES_LAST_TICK * P.COUNTER_BYTES
        payload = frame.payload[:k] + bytes(P.COUNTER_BYTES) + frame.payload[k + P.COUNTER_BYTES:]
        return frame.op, frame.seq, payload
    return frame.op, frame.seq, frame.payload


def decode_stream(frames: list[P.Frame]) -> tuple[np.ndarray, np.ndarray, list[tuple], list[int]]:
    """(ticks, neurons, RUN_DONE tuples, stream seqs) of a device's SPIKES and RUN_DONE frames."""
    ticks, neurons, done, seqs = [np.empty(0, np.int64)], [np.empty(0, np.int32)], [], []
    for f in frames:
        if f.op == P.Msg.SPIKES:
            s, _, t, n = P.decode_spikes(f.payload)
            ticks.append(t)
            neurons.append(n)
            seqs.append(s)
        else:
            done.append(P.RUN_DONE_PAYLOAD.unpack(f.payload))
    return np.concatenate(ticks), np.concatenate(neurons), done, seqs


class Tee:
    """Feed the RTL (`rtl`, an EngineSim) and a GoldenEmulator the same bytes; compare their answers."""

    def __init__(self, rtl, emu: GoldenEmulator | None = None):
        self.rtl = rtl
        self.emu = emu or GoldenEmulator(rtl.cfg.n_neurons, rtl.cfg.formats)
        self._split = (P.FrameSplitter(), P.FrameSplitter())
        self._pending: tuple[deque, deque] = (deque(), deque())
        self.streams: tuple[list, list] = ([], [])
        self.compared = 0
        self.mismatches: list[str] = []

    def feed(self, data: bytes) -> bytes:
        out_rtl = self.rtl.feed(data)
        out_emu = self.emu.feed(data)
        for k, out in enumerate((out_rtl, out_emu)):
            for raw in self._split[k].feed(out):
                frame = P.decode_frame(raw)  # raises on a corrupted frame from either device
                if frame.op in _STREAM_OPS:
                    self.streams[k].append(frame)
                else:
                    self._pending[k].append((raw, frame))
        while self._pending[0] and self._pending[1]:
            (raw_r, fr_r), (raw_e, fr_e) = self._pending[0].popleft(), self._pending[1].popleft()
            self.compared += 1
            same = raw_r == raw_e if fr_r.op != P.Op.STATUS | P.REPLY_BIT else _masked(fr_r) == _masked(fr_e)
            if not same:
                self.mismatches.append(f"frame {self.compared}: rtl {raw_r.hex()} golden {raw_e.hex()}")
        return out_rtl

    def check(self) -> None:
        """Raise AssertionError on any difference so far, or on replies one side did not send."""
        assert not self.mismatches, "\n".join(self.mismatches[:10])
        assert not self._pending[0] and not self._pending[1], \
            f"unmatched replies: rtl {list(self._pending[0])} golden {list(self._pending[1])}"

    def take_streams(self):
        """Decoded spike streams of both devices since the last call (rtl, golden)."""
        out = tuple(decode_stream(s) for s in self.streams)
        self.streams = ([], [])
        return out
