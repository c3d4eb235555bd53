"""The golden device against the RTL compiled by Verilator (the harness behind a pipe) on what the
spike encoder decides: silent runs (SKIP records every 255 silent ticks), stalls for credit (no
frame opens without credit; STATUS sees the tick the run waits at), STOP during a stall, and RESET's
counters. The same bytes go into both devices and everything they answer is compared byte for byte
(STATUS with CYCLES_LAST_TICK masked once ticks have run: the golden device has no clock).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from lifstp import protocol as P
from lifstp.emulator import GoldenEmulator
from lifstp.golden_model.spec import ClampMode
from lifstp.link import DeviceClient, LoopbackTransport, PipeTransport
from lifstp.sim.cases import build_golden
from lifstp.sim.harness import device_binary

from test_engine_equivalence import BUSY, N, load

#: Seconds without a byte from the harness after which its answer to a feed is complete (the runs
#: here take milliseconds of simulation).
QUIET_S = 0.3
#: Longest wait for the RTL's frames to reach the golden device's count.
SETTLE_S = 20.0


class Pair:
    """The Verilator device and a golden emulator, loaded alike; send() feeds both the same bytes."""

    def __init__(self, gc):
        # Compile (or load from numba's cache) the tick kernel first: on a fresh machine the first
        # tick compiles for seconds, which send_bytes must not take for an unbounded feed.
        build_golden(BUSY, N).run(1)
        self.pipe = PipeTransport(device_binary(N))
        self.emu = GoldenEmulator(N)
        for client in (DeviceClient(self.pipe, timeout_s=30), DeviceClient(LoopbackTransport(self.emu))):
            load(client, gc)
        self.seq = 100

    def send(self, op: int, payload: bytes = b"") -> tuple[list[P.Frame], list[P.Frame]]:
        """One frame into both; (RTL frames, golden frames) once both have settled."""
        self.seq = (self.seq + 1) & 0xFF
        return self.send_bytes(P.encode_frame(op, self.seq, payload))

    def send_bytes(self, data: bytes) -> tuple[list[P.Frame], list[P.Frame]]:
        """Any bytes into both (frames, parts of frames, garbage); (RTL frames, golden frames)."""
        self.pipe.write(data)
        golden = bytearray()
        t0 = time.monotonic()
        golden += self.emu.feed(data)
        assert time.monotonic() - t0 < 2.0, "one feed() of the golden device ran unbounded"
        while not self.emu.waiting:
            golden += self.emu.feed(b"")
        golden_frames = [P.decode_frame(f) for f in P.FrameSplitter().feed(bytes(golden))]
        # The RTL's answer: at least as many frames as the golden device's (waited for up to
        # SETTLE_S, so a loaded machine does not cut it short), then QUIET_S of silence for any extra.
        splitter, rtl_frames = P.FrameSplitter(), []
        deadline = time.monotonic() + SETTLE_S
        while len(rtl_frames) < len(golden_frames) and time.monotonic() < deadline:
            rtl_frames += [P.decode_frame(f) for f in splitter.feed(self.pipe.read(QUIET_S))]
        while chunk := self.pipe.read(QUIET_S):
            rtl_frames += [P.decode_frame(f) for f in splitter.feed(chunk)]
        return rtl_frames, golden_frames

    def same(self, op: int, payload: bytes = b"") -> list[P.Frame]:
        rtl, golden = self.send(op, payload)
        assert rtl == golden
        return rtl

    def status(self) -> dict[str, int]:
        """STATUS of both, equal but for CYCLES_LAST_TICK."""
        rtl, golden = self.send(P.Op.STATUS)
        assert len(rtl) == len(golden) == 1
        values = [P.unpack_values(f.payload, P.COUNTER_BYTES, False) for f in (rtl[0], golden[0])]
        keep = [c for c in P.StatusCounter if c != P.StatusCounter.CYCLES_LAST_TICK]
        assert [values[0][c] for c in keep] == [values[1][c] for c in keep]
        return {c.name.lower(): int(values[0][c]) for c in P.StatusCounter}

    def close(self):
        self.pipe.close()


@pytest.fixture
def silent():
    gc = build_golden(dict(BUSY, clamp_fraction=1.0, noise_rate_hz=0.0), N)
    gc.clamp[:] = int(ClampMode.OFF)
    pair = Pair(gc)
    yield pair
    pair.close()


@pytest.fixture
def busy():
    pair = Pair(build_golden(BUSY, N))
    yield pair
    pair.close()


def _ops(frames):
    return [f.op for f in frames]


def test_silent_run_skips_and_credit_stall(silent):
    # No credit: 256 silent ticks run, then the SKIP that would follow waits for a frame.
    assert _ops(silent.same(P.Op.RUN, P.RUN_PAYLOAD.pack(600, 0))) == [P.Op.RUN | P.REPLY_BIT]
    assert silent.status()["ticks"] == 256
    frames = silent.same(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(1))
    assert _ops(frames) == [P.Msg.SPIKES, P.Msg.RUN_DONE]
    seq, base, ticks, _ = P.decode_spikes(frames[0].payload)
    assert (seq, base, len(ticks), len(frames[0].payload)) == (0, 0, 0, P.SPIKES_HEADER.size + 2 * 3)
    assert P.RUN_DONE_PAYLOAD.unpack(frames[1].payload) == (600, 600, 0, 0, 0)


def test_endless_silent_run_is_bounded_and_stops(silent):
    """RUN(2^32 - 1) of a silent network: frames of SKIPs while credit lasts, a stall, STOP."""
    frames = silent.same(P.Op.RUN, P.RUN_PAYLOAD.pack(0xFFFFFFFF, 2))
    assert _ops(frames) == [P.Op.RUN | P.REPLY_BIT, P.Msg.SPIKES, P.Msg.SPIKES]
    stall = 2 * P.SPIKES_PER_FRAME * P.SPIKE_MAX_DELTA + P.SPIKE_MAX_DELTA + 1  # before the next SKIP
    assert silent.status()["ticks"] == stall
    frames = silent.same(P.Op.STOP)
    assert _ops(frames) == [P.Msg.RUN_DONE]
    ran, next_tick, spikes, _, stopped = P.RUN_DONE_PAYLOAD.unpack(frames[0].payload)
    assert (ran, next_tick, spikes, stopped) == (stall, stall, 0, 1)
    assert silent.status()["ticks"] == ran  # the core stopped where the run did, on both


def test_spiking_run_stalls_at_the_same_record(busy):
    """Credit one frame at a time: each stall at the same spike (STATUS's TICKS equal), the same
    frames byte for byte; STOP during a stall ends the run after that tick on both."""
    assert _ops(busy.same(P.Op.RUN, P.RUN_PAYLOAD.pack(5000, 0))) == [P.Op.RUN | P.REPLY_BIT]
    stalls = [busy.status()["ticks"]]
    for _ in range(6):
        frames = busy.same(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(1))
        assert _ops(frames) == [P.Msg.SPIKES]
        stalls.append(busy.status()["ticks"])
    assert stalls == sorted(stalls) and stalls[-1] < 5000
    assert busy.same(P.Op.STOP) == []  # the tick it waits in has spikes left to send
    frames = busy.same(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(1))
    assert _ops(frames) == [P.Msg.SPIKES, P.Msg.RUN_DONE]
    ran, next_tick, spikes, _, stopped = P.RUN_DONE_PAYLOAD.unpack(frames[-1].payload)
    assert stopped == 1 and ran == next_tick == stalls[-1] + 1 and spikes > 6 * P.SPIKES_PER_FRAME
    busy.status()
    for f in P.NeuronField:  # the state after the stopped run, bit for bit
        busy.same(P.Op.READ, P.BURST_HEADER.pack(P.Space.NEURON, f, 0, N))


def test_reset_clears_every_counter(busy):
    """RESET zeroes CYCLES_LAST_TICK too (the RTL writes 0 to all four of the core's counters)."""
    busy.same(P.Op.RUN, P.RUN_PAYLOAD.pack(20, 8))
    busy.same(P.Op.WRITE, P.BURST_HEADER.pack(P.Space.STATUS, 0, 0, len(P.StatusCounter))
              + P.pack_values(np.arange(1, 7), P.COUNTER_BYTES))
    assert _ops(busy.same(P.Op.RESET)) == [P.Op.RESET | P.REPLY_BIT]
    (reply,) = busy.same(P.Op.STATUS)  # compared unmasked
    assert list(P.unpack_values(reply.payload, P.COUNTER_BYTES, False)) == [0] * len(P.StatusCounter)


def test_golden_feed_is_bounded_at_full_size():
    """N = 256, every neuron clamped off, RUN(2^32 - 1) with all the credit there is: each feed()
    returns within a bounded time, SKIP frames keep coming, and a STOP gets in and ends the run."""
    emu = GoldenEmulator(256)
    DeviceClient(LoopbackTransport(emu)).write(P.Space.NEURON, P.NeuronField.CLAMP, 0,
                                               np.full(256, int(ClampMode.OFF)))
    out = bytearray()
    for k in range(6):
        t0 = time.monotonic()
        out += emu.feed(P.encode_frame(P.Op.RUN, 1, P.RUN_PAYLOAD.pack(0xFFFFFFFF, 0xFFFF)) if k == 0 else b"")
        assert time.monotonic() - t0 < 2.0
    frames = [P.decode_frame(f) for f in P.FrameSplitter().feed(bytes(out))]
    assert _ops(frames[:2]) == [P.Op.RUN | P.REPLY_BIT, P.Msg.SPIKES]
    done = [P.decode_frame(f) for f in P.FrameSplitter().feed(emu.feed(P.encode_frame(P.Op.STOP, 2)))]
    assert _ops(done)[-1] == P.Msg.RUN_DONE and P.RUN_DONE_PAYLOAD.unpack(done[-1].payload)[4] == 1
