"""Property-based fuzzing of the RTL command engine (in Amaranth's simulator) against the golden
emulator: random and malformed frames (bad CRC, truncated, oversized, unknown opcodes, out-of-range
spaces, addresses, lengths and values). Every frame gets the answer the golden device gives, byte for
byte; the device settles within a bounded number of cycles; and a READ afterwards shows a state that
was not corrupted (sim/engine_pair.Tee compares every reply). Set LIFSTP_ENGINE_FUZZ=N for N examples.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lifstp import protocol as P
from lifstp.link import DeviceClient, LoopbackTransport
from lifstp.rtl.config import CoreConfig
from lifstp.sim.cases import build_golden
from lifstp.sim.engine_pair import Tee
from lifstp.sim.engine_sim import EngineSim

from test_engine_equivalence import BUSY, N, load

EXAMPLES = int(os.environ.get("LIFSTP_ENGINE_FUZZ", "40"))


def cycle_bound(n_bytes: int) -> int:
    """Cycles a frame of n encoded bytes may take until the device is idle again: receive, execute
    (a WRITE burst is read twice, two cycles a byte) and a reply of up to MAX_PAYLOAD bytes (about
    6 cycles a byte), with margin."""
    return 600 + 20 * n_bytes + 8 * (P.MAX_PAYLOAD + P.HEADER_BYTES + P.CRC_BYTES)


@pytest.fixture(scope="module")
def device():
    tee = Tee(EngineSim(CoreConfig(n_neurons=N), quiet_cycles=2000))
    client = DeviceClient(LoopbackTransport(tee), timeout_s=300)
    load(client, build_golden(BUSY, N))
    tee.check()
    return tee, client


def _burst(space, field, addr, count, values=b""):
    return P.BURST_HEADER.pack(space, field, addr & 0xFFFFFFFF, count & 0xFFFF) + values


@st.composite
def commands(draw):
    """(opcode, payload) of a plausible or implausible command."""
    kind = draw(st.sampled_from(["write", "read", "write", "simple", "unknown", "run"]))
    if kind == "unknown":
        return draw(st.sampled_from([0, 9, 0x40, 0x7F, 0x80, 0x83, 0xFF])), draw(st.binary(max_size=6))
    if kind == "simple":
        op = draw(st.sampled_from([P.Op.IDENTIFY, P.Op.STATUS, P.Op.RESET, P.Op.STOP, P.Op.CREDIT]))
        return op, draw(st.sampled_from([b"", b"", b"\x01", b"\x00\x00\x00"]))
    if kind == "run":
        return P.Op.RUN, P.RUN_PAYLOAD.pack(draw(st.integers(0, 3)), draw(st.integers(1, 3)))
    space = draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 4, max(P.Space) + 1]))
    field = draw(st.integers(0, 8)) if space == 1 else draw(st.integers(0, 3))
    size = P.space_size(P.Space(space), N) if space <= max(P.Space) else 4
    addr = draw(st.one_of(st.integers(0, size), st.integers(0, 2**32 - 1)))
    count = draw(st.one_of(st.integers(0, max(1, size - addr)), st.integers(0, 70)))
    if kind == "read":
        if space == P.Space.STATUS:  # CYCLES_LAST_TICK is the clock count on the RTL, 0 on the golden device
            addr, count = draw(st.sampled_from([(0, 1), (2, 4), (3, 3), (4, 2), (5, 1), (2, 9)]))
        return P.Op.READ, _burst(space, field, addr, count, draw(st.sampled_from([b"", b"", b"\x00"])))
    if space == P.Space.STATUS and addr <= P.StatusCounter.CYCLES_LAST_TICK < addr + count:
        addr = 2
    try:
        nb = P.wire_bytes(P.Space(space), field, CoreConfig(n_neurons=N).formats, N)
    except ValueError:
        nb = 4
    n_values = count + draw(st.sampled_from([0, 0, 0, -1, 1]))
    small = draw(st.booleans())  # small values are mostly in range
    raw = b"".join(
        (draw(st.integers(-3, 3)) if small else draw(st.integers(-(1 << 63), (1 << 63) - 1))).to_bytes(
            8, "little", signed=True)[:nb] for _ in range(max(0, min(n_values, 80))))
    return P.Op.WRITE, _burst(space, field, addr, count, raw)


@st.composite
def wire_bytes(draw):
    """A frame on the wire, perhaps damaged."""
    op, payload = draw(commands())
    seq = draw(st.integers(0, 255))
    frame = P.encode_frame(op, seq, payload[:P.MAX_PAYLOAD])
    damage = draw(st.sampled_from(["none", "none", "none", "flip", "truncate", "short", "oversize", "garbage"]))
    if damage == "flip":
        k = draw(st.integers(0, len(frame) - 2))
        b = frame[k] ^ draw(st.integers(1, 255))
        frame = frame[:k] + bytes([b or 1]) + frame[k + 1:]
    elif damage == "truncate":
        frame = frame[:draw(st.integers(1, len(frame) - 1))] + b"\x00"
    elif damage == "short":
        frame = draw(st.sampled_from([b"\x01\x00", b"\x02\x07\x00", b"\x04\x01\x02\x03\x00", b"\x00\x00"]))
    elif damage == "oversize":
        frame = bytes(draw(st.integers(1, 255)) for _ in range(1)) * draw(st.integers(P.MAX_ENCODED + 1, 300)) + frame
    elif damage == "garbage":
        frame = draw(st.binary(min_size=1, max_size=40)) + b"\x00"
    return frame


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],  # shrinking a simulator run takes minutes
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_frames(device, data):
    tee, client = device
    for _ in range(data.draw(st.integers(1, 3))):
        frame = data.draw(wire_bytes())
        tee.feed(frame)
        sim = tee.rtl
        assert sim.idle, "the device did not return to idle"
        assert sim.last_cost <= cycle_bound(len(frame)), f"{sim.last_cost} cycles for {len(frame)} bytes"
        tee.take_streams()  # short runs: their spike lists are compared below through the state
        tee.check()
    # A valid command afterwards works on an uncorrupted state (the Tee compares the replies).
    field = data.draw(st.sampled_from(list(P.NeuronField)))
    client.read(P.Space.NEURON, field, 0, N)
    client.read(P.Space.REG, 0, 0, P.space_size(P.Space.REG, N))
    tee.check()


def test_state_after_fuzz(device):
    tee, client = device
    for f in P.NeuronField:
        client.read(P.Space.NEURON, f, 0, N)
    client.read(P.Space.WEIGHT, 0, 0, N * N)
    client.status()
    ticks, neurons, _ = client.run(50)
    (rt, rn, rdone, _), (et, en, edone, _) = tee.take_streams()
    assert np.array_equal(rt, et) and np.array_equal(rn, en) and rdone == edone
    tee.check()
