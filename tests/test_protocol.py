"""The wire protocol: framing, CRC, value and spike encodings; the golden emulator against bad frames
(property-based fuzzing); the host's client against errors, timeouts and slow reading."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifstp import protocol as P
from lifstp.emulator import GoldenEmulator
from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import ModelParams
from lifstp.link import DeviceClient, DeviceError, DeviceTimeout, LoopbackTransport
from lifstp.network import Network
from lifstp.device import ProtocolDevice, load_network

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(st.binary(max_size=600))
@FUZZ
def test_table_crc_equals_amaranth_reference(data):
    assert P.crc16(data) == P.CRC(data_width=8).compute(data)


def test_crc_check_value():
    assert P.crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=P.MAX_PAYLOAD))
@FUZZ
def test_frame_roundtrip(op, seq, payload):
    wire = P.encode_frame(op, seq, payload)
    assert wire.count(0) == 1 and wire[-1] == 0
    assert len(wire) - 1 <= P.MAX_ENCODED
    assert P.decode_frame(wire[:-1]) == P.Frame(op, seq, payload)


@given(st.binary(min_size=1, max_size=P.MAX_PAYLOAD), st.data())
@FUZZ
def test_corrupted_frame_is_rejected(payload, data):
    wire = bytearray(P.encode_frame(P.Op.WRITE, 1, payload)[:-1])
    i = data.draw(st.integers(0, len(wire) - 1))
    bit = data.draw(st.integers(0, 7))
    wire[i] ^= 1 << bit
    if 0 in wire:  # the flip made a delimiter: the splitter would cut the frame in two
        return
    with pytest.raises(P.ProtocolError) as exc:
        P.decode_frame(bytes(wire))
    assert exc.value.code in (P.Err.BAD_CRC, P.Err.BAD_FRAMING)


@given(st.lists(st.integers(-(1 << 40), (1 << 40) - 1), max_size=50), st.integers(6, 8))
@FUZZ
def test_values_roundtrip(values, nbytes):
    assert list(P.unpack_values(P.pack_values(values, nbytes), nbytes, True)) == values


def test_values_roundtrip_unsigned_64_bit():
    values = np.array([1, 2**63 + 5, 2**64 - 1], dtype=np.uint64)
    out = P.unpack_values(P.pack_values(values, 8), 8, False)
    assert out.dtype == np.uint64 and list(out) == list(values)


@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 1000)), max_size=P.SPIKES_PER_FRAME // 8),
       st.integers(0, 10**6))
@FUZZ
def test_spike_records_roundtrip(gaps, base):
    ticks = base + np.cumsum([g for g, _ in gaps]).astype(np.int64)
    neurons = np.array([n for _, n in gaps], dtype=np.int64)
    seq, b, t, n = P.decode_spikes(P.encode_spikes(7, base, ticks, neurons))
    assert (seq, b) == (7, base)
    np.testing.assert_array_equal(t, ticks)
    np.testing.assert_array_equal(n, neurons)


# -- the golden emulator behind the client ---------------------------------------------------------

def small_network(n=12, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 200.0, (n, n))
    np.fill_diagonal(w, 0)
    return Network(ModelParams(stp_u=0.3, stp_tau_rec_ms=150.0), rng.uniform(-53, -48, n), w)


def test_golden_device_spikes_equal_the_golden_model():
    net = small_network()
    dev = ProtocolDevice("golden", DeviceClient(LoopbackTransport(GoldenEmulator(16))))  # 4 padding neurons
    run = dev.run(net, 30_000, seed=9)
    core = GoldenCore.from_physical(net.params, net.e_l_mv, net.weights_pa, seed=9)
    t, n = core.run(30_000)
    assert len(t) > 500
    np.testing.assert_array_equal(run.spike_tick, t)
    np.testing.assert_array_equal(run.spike_neuron, n)
    assert run.status["ticks"] == 30_000


def test_slow_reader_loses_nothing(monkeypatch):
    """One frame of credit at a time: the device stalls rather than drops."""
    import lifstp.link as link

    monkeypatch.setattr(link, "CREDIT_WINDOW", 1)
    net = small_network()
    dev = ProtocolDevice("golden", DeviceClient(LoopbackTransport(GoldenEmulator(12))))
    run = dev.run(net, 20_000, seed=1)
    core = GoldenCore.from_physical(net.params, net.e_l_mv, net.weights_pa, seed=1)
    t, _ = core.run(20_000)
    np.testing.assert_array_equal(run.spike_tick, t)
    assert run.status["spikes_dropped"] == 0


def snapshot(client, n):
    return {f: client.read(P.Space.NEURON, f, 0, n).tolist() for f in P.NeuronField} | {
        "w": client.read(P.Space.WEIGHT, 0, 0, n * n).tolist(), "reg": client.read(P.Space.REG, 0, 0, 17).tolist()}


@pytest.fixture(scope="module")
def loaded():
    emu = GoldenEmulator(6)
    client = DeviceClient(LoopbackTransport(emu), timeout_s=1.0)
    load_network(client, small_network(6, seed=3), seed=4)
    return emu, client


def bad_frames():
    hdr = P.BURST_HEADER.pack
    return st.one_of(
        st.tuples(st.just(P.Err.UNKNOWN_OPCODE), st.integers(0x09, 0x7F).map(lambda op: (op, b""))),
        st.tuples(st.just(P.Err.BAD_LENGTH), st.sampled_from([(P.Op.IDENTIFY, b"x"), (P.Op.RUN, b"\x01"),
                                                            (P.Op.STATUS, b"\x00\x00"), (P.Op.WRITE, b"\x01")])),
        st.tuples(st.just(P.Err.BAD_ADDRESS), st.one_of(
            st.integers(6, 2**32 - 1).map(lambda a: (P.Op.WRITE, hdr(1, 0, a, 1) + b"\0\0\0\0")),
            # spaces and fields past the protocol's (space 4, STATS, came later: a literal 4 drew it)
            st.integers(len(P.Space), 255).map(lambda s: (P.Op.READ, hdr(s, 0, 0, 1))),
            st.integers(len(P.NeuronField), 255).map(lambda f: (P.Op.READ, hdr(1, f, 0, 1))),
            st.just((P.Op.READ, hdr(2, 0, 30, 7))))),
        st.tuples(st.just(P.Err.BAD_VALUE), st.one_of(
            st.integers(3, 255).map(lambda c: (P.Op.WRITE, hdr(1, P.NeuronField.CLAMP, 2, 1) + bytes([c]))),
            st.just((P.Op.WRITE, hdr(1, P.NeuronField.RNG, 0, 1) + bytes(8))),
            st.just((P.Op.WRITE, hdr(1, P.NeuronField.RES, 0, 1) + (2**24 + 1).to_bytes(4, "little"))),
            st.just((P.Op.WRITE, hdr(0, 0, 0, 1) + (0).to_bytes(4, "little"))))),  # tau_ref of 0 ticks
    )


@given(bad_frames(), st.integers(0, 255))
@FUZZ
def test_emulator_answers_bad_commands_and_stays_usable(loaded, case, seq):
    emu, client = loaded
    code, (op, payload) = case
    before = snapshot(client, 6)
    reply = P.decode_frame(emu.feed(P.encode_frame(op, seq, payload))[:-1])
    assert reply.op == P.Msg.ERROR and reply.seq == seq
    assert P.ERROR_PAYLOAD.unpack(reply.payload)[0] == code
    assert snapshot(client, 6) == before  # nothing was written
    assert client.identify().n_neurons == 6


@given(st.binary(max_size=700))
@FUZZ
def test_emulator_survives_garbage_bytes(loaded, garbage):
    emu, client = loaded
    before = snapshot(client, 6)
    out = emu.feed(garbage + b"\0")
    for chunk in out.split(b"\0")[:-1]:
        frame = P.decode_frame(chunk)
        assert frame.op in (P.Msg.ERROR,) or frame.op & P.REPLY_BIT
    assert snapshot(client, 6) == before or any(  # garbage that happens to be a valid WRITE is fine
        P.decode_frame(c).op == P.Op.WRITE | P.REPLY_BIT for c in out.split(b"\0")[:-1])
    load_network(client, small_network(6, seed=3), seed=4)  # restore for the next example
    assert client.identify().n_neurons == 6


def test_oversized_frame_is_reported_once_and_skipped(loaded):
    emu, client = loaded
    out = emu.feed(b"\x01" * (P.MAX_ENCODED + 50) + b"\0" + P.encode_frame(P.Op.IDENTIFY, 5))
    frames = [P.decode_frame(c) for c in out.split(b"\0")[:-1]]
    assert frames[0].op == P.Msg.ERROR and P.ERROR_PAYLOAD.unpack(frames[0].payload)[0] == P.Err.TOO_LONG
    assert frames[1].op == P.Op.IDENTIFY | P.REPLY_BIT and len(frames) == 2


def test_busy_during_run_and_stop(loaded):
    emu, client = loaded
    seq = client.send(P.Op.RUN, P.RUN_PAYLOAD.pack(100_000, 0))  # no credit: the run stalls at once
    client.wait_reply(P.Op.RUN, seq)
    with pytest.raises(DeviceError, match="BUSY"):
        client.write(P.Space.NEURON, P.NeuronField.CLAMP, 0, [0])
    client.send(P.Op.STOP)
    client.send(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(1000))
    while True:
        frame = client.next_frame()
        if frame.op == P.Msg.RUN_DONE:
            assert P.RUN_DONE_PAYLOAD.unpack(frame.payload)[4] == 1  # stopped
            break
    assert client.identify().n_neurons == 6


class SilentTransport:
    def write(self, data):
        pass

    def read(self, timeout_s):
        time.sleep(timeout_s)
        return b""

    def close(self):
        pass


def test_unresponsive_device_times_out_quickly():
    client = DeviceClient(SilentTransport(), timeout_s=0.5)
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout, match="no answer"):
        client.identify()
    assert time.monotonic() - t0 < 2.0
