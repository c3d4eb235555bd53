"""Adversarial inputs, category by category, into the Verilator device and the golden device at once
(`Pair`: the same bytes into both, every answer compared byte for byte): bit flips, truncation,
exact-length boundaries, unknown and reply opcodes, bad spaces and ranges, 32-bit address wrap, zero
counts, a bad value buried in a long burst, repeated sequence numbers, counter writes, a flood sent
without reading, and commands sent during a run. Each is answered as docs/protocol.md defines; after
all of them the device still gives a fresh device's results."""

from __future__ import annotations

import numpy as np
import pytest

from lifstp import protocol as P
from lifstp.golden_model.spec import ClampMode
from lifstp.sim.cases import build_golden

from test_engine_equivalence import BUSY, N
from test_golden_rtl_runs import Pair


@pytest.fixture(scope="module")
def pair():
    p = Pair(build_golden(BUSY, N))
    yield p
    p.close()


def _errors(frames):
    """(code, offending opcode, detail) of every ERROR frame."""
    return [P.ERROR_PAYLOAD.unpack(f.payload) for f in frames if f.op == P.Msg.ERROR]


def _same_bytes(pair, data: bytes):
    rtl, golden = pair.send_bytes(data)
    assert rtl == golden, (rtl, golden)
    return rtl


def _clamp_write(values) -> bytes:
    return P.BURST_HEADER.pack(P.Space.NEURON, P.NeuronField.CLAMP, 0, len(values)) + P.pack_values(values, 1)


def test_bit_flips_are_refused_and_change_nothing(pair):
    frame = P.encode_frame(P.Op.WRITE, 7, _clamp_write([1] * N))
    read = P.BURST_HEADER.pack(P.Space.NEURON, P.NeuronField.CLAMP, 0, N)
    before = pair.same(P.Op.READ, read)[0].payload
    for bit in range(0, 8 * (len(frame) - 1), 5):  # every fifth bit of the frame, not the delimiter
        damaged = bytearray(frame)
        damaged[bit // 8] ^= 1 << (bit % 8)
        frames = _same_bytes(pair, bytes(damaged))
        assert all(f.op == P.Msg.ERROR for f in frames) and frames  # never an acknowledged write
    assert pair.same(P.Op.READ, read)[0].payload == before


def test_truncated_frames(pair):
    frame = P.encode_frame(P.Op.READ, 9, P.BURST_HEADER.pack(P.Space.REG, 0, 0, 2))
    for k in range(1, len(frame) - 1):
        frames = _same_bytes(pair, frame[:k] + bytes([P.DELIMITER]))
        assert [e[0] for e in _errors(frames)] in ([P.Err.BAD_FRAMING], [P.Err.BAD_CRC]), (k, frames)


def test_exact_length_boundaries(pair):
    # A 256-byte payload (MAX_PAYLOAD) fills a frame of up to MAX_ENCODED bytes: taken as a frame
    # (IDENTIFY takes no payload, so BAD_LENGTH), not as an overlong one.
    big = P.encode_frame(P.Op.IDENTIFY, 3, b"\x01" * P.MAX_PAYLOAD)
    assert len(big) - 1 <= P.MAX_ENCODED
    assert [e[0] for e in _errors(_same_bytes(pair, big))] == [P.Err.BAD_LENGTH]
    # Exactly MAX_ENCODED bytes before a delimiter are still a frame (here a damaged one) ...
    frames = _same_bytes(pair, b"\x01" * P.MAX_ENCODED + bytes([P.DELIMITER]))
    assert [e[0] for e in _errors(frames)] in ([P.Err.BAD_FRAMING], [P.Err.BAD_CRC])
    # ... one more is too long: one TOO_LONG, then the device resynchronises at the delimiter.
    frames = _same_bytes(pair, b"\x01" * (P.MAX_ENCODED + 1) + bytes([P.DELIMITER]))
    assert [e[0] for e in _errors(frames)] == [P.Err.TOO_LONG]
    assert pair.same(P.Op.STATUS)[0].op == P.Op.STATUS | P.REPLY_BIT


@pytest.mark.parametrize("op", [0x00, 0x09, 0x3F, P.Msg.SPIKES, P.Msg.RUN_DONE, P.Msg.ERROR,
                                P.Op.READ | P.REPLY_BIT, P.Op.STATUS | P.REPLY_BIT, 0xFF])
def test_unknown_and_reply_opcodes(pair, op):
    frames = pair.same(op, b"\x00\x01")
    assert [e[:2] for e in _errors(frames)] == [(P.Err.UNKNOWN_OPCODE, op)]


@pytest.mark.parametrize("space, field, addr, count", [
    (max(P.Space) + 1, 0, 0, 1),                    # no such space
    (P.Space.NEURON, len(P.NeuronField), 0, 1),     # no such field
    (P.Space.NEURON, P.NeuronField.V, N, 1),        # first address past the end
    (P.Space.NEURON, P.NeuronField.V, N - 1, 2),    # range past the end
    (P.Space.WEIGHT, 0, 0xFFFFFFFF, 2),             # 32-bit address wrap
    (P.Space.REG, 0, 0xFFFFFFFE, 4),
    (P.Space.STATUS, 0, len(P.StatusCounter), 1),
    (P.Space.STATS, 0, P.space_size(P.Space.STATS, N) - 1, 2),
])
def test_bad_spaces_ranges_and_wrap(pair, space, field, addr, count):
    for op in (P.Op.READ, P.Op.WRITE):
        payload = P.BURST_HEADER.pack(space, field, addr, count)
        if op == P.Op.WRITE:
            payload += bytes(count * 4)
        errors = _errors(pair.same(op, payload))
        assert len(errors) == 1 and errors[0][0] in (P.Err.BAD_ADDRESS, P.Err.BAD_LENGTH), errors


def test_zero_counts(pair):
    for op in (P.Op.READ, P.Op.WRITE):
        frames = pair.same(op, P.BURST_HEADER.pack(P.Space.NEURON, P.NeuronField.V, 0, 0))
        assert len(frames) == 1


def test_bad_value_buried_in_a_long_burst_writes_nothing(pair):
    read = P.BURST_HEADER.pack(P.Space.NEURON, P.NeuronField.CLAMP, 0, N)
    before = pair.same(P.Op.READ, read)[0].payload
    values = [int(ClampMode.ON)] * N
    values[N - 2] = 3  # not a clamp mode
    errors = _errors(pair.same(P.Op.WRITE, _clamp_write(values)))
    assert errors == [(P.Err.BAD_VALUE, P.Op.WRITE, N - 2)]
    assert pair.same(P.Op.READ, read)[0].payload == before


def test_repeated_sequence_numbers_are_each_executed(pair):
    frame = P.encode_frame(P.Op.READ, 42, P.BURST_HEADER.pack(P.Space.REG, 0, 0, 3))
    frames = _same_bytes(pair, frame + frame + frame)
    assert [(f.op, f.seq) for f in frames] == [(P.Op.READ | P.REPLY_BIT, 42)] * 3


def test_counter_writes_then_reads(pair):
    pair.same(P.Op.WRITE, P.BURST_HEADER.pack(P.Space.STATUS, 0, P.StatusCounter.SATURATED_V, 2)
              + P.pack_values([7, 0xFFFFFFFF], P.COUNTER_BYTES))
    (reply,) = pair.same(P.Op.READ, P.BURST_HEADER.pack(P.Space.STATUS, 0, P.StatusCounter.SATURATED_V, 2))
    assert list(P.unpack_values(reply.payload, P.COUNTER_BYTES, False)) == [7, 0xFFFFFFFF]
    pair.same(P.Op.WRITE, P.BURST_HEADER.pack(P.Space.STATUS, 0, P.StatusCounter.SATURATED_V, 2) + bytes(8))


def test_flood_without_reading(pair):
    """300 READs written back to back before anything is read: every one answered, in order."""
    data = b"".join(P.encode_frame(P.Op.READ, k & 0xFF, P.BURST_HEADER.pack(P.Space.WEIGHT, 0, k % (N * N), 1))
                    for k in range(300))
    frames = _same_bytes(pair, data)
    assert [f.seq for f in frames] == [k & 0xFF for k in range(300)]


def test_commands_during_a_run(pair):
    pair.same(P.Op.RUN, P.RUN_PAYLOAD.pack(5000, 0))  # no credit: the run stalls at its first frame
    for op, payload in ((P.Op.WRITE, _clamp_write([0] * N)), (P.Op.READ, P.BURST_HEADER.pack(1, 0, 0, 1)),
                        (P.Op.RESET, b""), (P.Op.IDENTIFY, b""), (P.Op.RUN, P.RUN_PAYLOAD.pack(1, 1))):
        assert [e[:2] for e in _errors(pair.same(op, payload))] == [(P.Err.BUSY, op)]
    assert pair.same(P.Op.STATUS)[0].op == P.Op.STATUS | P.REPLY_BIT
    pair.same(P.Op.STOP)
    frames = pair.same(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(100))
    assert frames[-1].op == P.Msg.RUN_DONE and P.RUN_DONE_PAYLOAD.unpack(frames[-1].payload)[4] == 1


def test_after_everything_a_fresh_devices_results(pair):
    """Load the network again and run: the same spikes as a golden model that saw none of the above
    (runs after the last in this module, so the abuse above came first)."""
    from lifstp.link import DeviceClient, LoopbackTransport

    from test_engine_equivalence import load

    gc = build_golden(BUSY, N)
    for transport in (pair.pipe, LoopbackTransport(pair.emu)):
        load(DeviceClient(transport, timeout_s=30), gc)
    frames = pair.same(P.Op.RUN, P.RUN_PAYLOAD.pack(300, 0xFFFF))
    ticks, neurons = [], []
    for f in frames:
        if f.op == P.Msg.SPIKES:
            _, _, t, n = P.decode_spikes(f.payload)
            ticks += list(t)
            neurons += list(n)
    want_t, want_n = gc.run(300)
    assert len(ticks) > 0 and np.array_equal(ticks, want_t) and np.array_equal(neurons, want_n)
