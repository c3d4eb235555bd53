"""The RTL command engine + core against the golden emulator, the same bytes into both.

The device (rtl/device_top.py) runs in Amaranth's simulator (sim/engine_sim.py); a host client
(lifstp.link.DeviceClient) talks to it through sim/engine_pair.Tee, which feeds every byte to the
golden emulator too and checks that every reply and ERROR frame is identical, byte for byte. Runs are
compared as decoded spike lists and RUN_DONE fields.
"""

from __future__ import annotations

import numpy as np

from lifstp import protocol as P
from lifstp.golden_model.spec import ClampMode
from lifstp.link import DeviceClient, LoopbackTransport
from lifstp.rtl.config import CoreConfig
from lifstp.sim.campaign import write_state
from lifstp.sim.cases import build_golden
from lifstp.sim.engine_pair import Tee, decode_stream
from lifstp.sim.engine_sim import EngineSim

N = 8
BUSY = {"n_active": N, "net_seed": 11, "seed": 2**64 - 5, "bias_mv": 0.5, "tau_m_ms": 1.0,
        "tau_syn_ms": 10.0, "tau_ref_ms": 2.0, "noise_rate_hz": 2000.0, "stp_u": 0.5,
        "stp_tau_rec_ms": 10.0, "weight_scale": 3.0, "clamp_fraction": 0.2}
FIELDS = [P.NeuronField.V, P.NeuronField.U, P.NeuronField.REF, P.NeuronField.RES, P.NeuronField.RNG,
          P.NeuronField.EL, P.NeuronField.CLAMP, P.NeuronField.ACC]


def make(cfg=None):
    tee = Tee(EngineSim(cfg or CoreConfig(n_neurons=N)))
    return tee, DeviceClient(LoopbackTransport(tee), timeout_s=300)


def load(client, gc) -> None:
    """Write a golden core's whole state (registers, every neuron field, weights)."""
    write_state(client, gc)


def read_all(client, n=N):
    """Read back every register, neuron field and weight (the Tee compares the replies)."""
    out = {"reg": client.read(P.Space.REG, 0, 0, P.space_size(P.Space.REG, n))}
    for f in FIELDS:
        out[f.name] = client.read(P.Space.NEURON, f, 0, n)
    out["w"] = client.read(P.Space.WEIGHT, 0, 0, n * n)
    return out


def raw(tee, op, seq, payload=b""):
    """Frames the RTL answered to one frame (the Tee compares replies with the golden device's)."""
    return [P.decode_frame(f) for f in P.FrameSplitter().feed(tee.feed(P.encode_frame(op, seq, payload)))]


def test_identify_status_reset_and_errors():
    tee, client = make()
    info = client.identify()
    assert info.n_neurons == N and info.max_payload == P.MAX_PAYLOAD
    client.status()
    client.reset()
    client.status()
    raw(tee, 0x00, 1)
    raw(tee, 0x09, 2)
    raw(tee, P.Op.RESET, 3, b"\x01")
    raw(tee, P.Op.RUN, 4, b"\x01\x02")
    raw(tee, P.Op.CREDIT, 5, b"")
    raw(tee, P.Op.READ, 6, b"\x00" * 5)
    raw(tee, P.Op.READ, 7, P.BURST_HEADER.pack(max(P.Space) + 1, 0, 3, 1))
    raw(tee, P.Op.READ, 8, P.BURST_HEADER.pack(1, 8, 0, 1))
    raw(tee, P.Op.READ, 9, P.BURST_HEADER.pack(1, 0, 7, 2))
    raw(tee, P.Op.READ, 10, P.BURST_HEADER.pack(2, 0, 0xFFFFFFF0, 0xFFFF))
    raw(tee, P.Op.READ, 11, P.BURST_HEADER.pack(2, 0, 0, 0))
    raw(tee, P.Op.READ, 12, P.BURST_HEADER.pack(2, 0, 0, 64) + b"\x00")
    raw(tee, P.Op.WRITE, 13, P.BURST_HEADER.pack(2, 0, 0, 2) + b"\x00" * 3)
    raw(tee, P.Op.WRITE, 14, P.BURST_HEADER.pack(1, P.NeuronField.CLAMP, 0, 3) + bytes([0, 2, 3]))
    raw(tee, P.Op.WRITE, 15, P.BURST_HEADER.pack(1, P.NeuronField.RNG, 0, 1) + bytes(8))
    raw(tee, P.Op.WRITE, 16, P.BURST_HEADER.pack(0, 0, 0, 1) + bytes(4))
    raw(tee, P.Op.WRITE, 17, P.BURST_HEADER.pack(1, P.NeuronField.V, 0, 1) + (1 << 25).to_bytes(4, "little"))
    raw(tee, P.Op.WRITE, 18, P.BURST_HEADER.pack(1, P.NeuronField.V, 0, 1) + (-(1 << 25)).to_bytes(4, "little", signed=True))
    tee.feed(b"\x05ab\x00" + b"\x01\x00" + bytes([7] * 300) + b"\x00")
    tee.feed(P.encode_frame(P.Op.STATUS, 19)[:-3] + b"\x55\x00")
    client.status()
    tee.check()
    assert tee.compared >= 25


def test_load_run_readback():
    tee, client = make()
    gc = build_golden(BUSY, N)
    load(client, gc)
    before = read_all(client)
    assert np.array_equal(before["V"], gc.v)
    ticks, neurons, done = client.run(300)
    (rt, rn, rdone, seqs), (et, en, edone, _) = tee.take_streams()
    assert len(rt) > 20, "the case should spike"
    assert np.array_equal(rt, et) and np.array_equal(rn, en)
    assert np.array_equal(ticks, et) and np.array_equal(neurons, en)
    assert rdone == edone and rdone[0][:2] == (300, 300)
    assert seqs == list(range(len(seqs)))
    read_all(client)
    client.status()
    ticks, neurons, _ = client.run(0)
    assert len(ticks) == 0
    client.run(37)
    tee.take_streams()
    read_all(client)
    client.reset()
    client.status()
    tee.check()


def test_silent_run_emits_skips():
    tee, client = make()
    case = dict(BUSY, clamp_fraction=1.0, noise_rate_hz=0.0)
    gc = build_golden(case, N)
    gc.clamp[:] = int(ClampMode.OFF)
    load(client, gc)
    client.run(700)
    (rt, rn, rdone, seqs), (et, en, edone, _) = tee.take_streams()
    assert len(rt) == 0 and len(et) == 0 and rdone == edone
    assert seqs, "a silent run of 700 ticks sends SKIP records"
    tee.check()


def test_credit_stall_and_stop():
    """RUN with no credit stalls the core at its first spike; CREDIT lets it go on; STOP ends it at a
    tick boundary; the spikes equal the golden model's for the ticks that ran."""
    sim = EngineSim(CoreConfig(n_neurons=N))
    client = DeviceClient(LoopbackTransport(sim), timeout_s=300)
    gc = build_golden(BUSY, N)
    load(client, gc)

    stream = []

    def send(op, seq, payload=b""):
        """The frames answered to one frame that are not SPIKES / RUN_DONE (those go to `stream`)."""
        frames = [P.decode_frame(f) for f in P.FrameSplitter().feed(sim.feed(P.encode_frame(op, seq, payload)))]
        stream.extend(f for f in frames if f.op in (P.Msg.SPIKES, P.Msg.RUN_DONE))
        return [f for f in frames if f.op not in (P.Msg.SPIKES, P.Msg.RUN_DONE)]

    assert [f.op for f in send(P.Op.RUN, 1, P.RUN_PAYLOAD.pack(100000, 0))] == [P.Op.RUN | P.REPLY_BIT]
    assert sim.feed(b"") == b"" and not stream  # stalled at the first spike: no credit
    assert send(P.Op.CREDIT, 2, P.CREDIT_PAYLOAD.pack(2)) == []
    for _ in range(20):  # two frames of 84 records; then stalled again
        if len(stream) >= 2:
            break
        stream.extend(P.decode_frame(f) for f in P.FrameSplitter().feed(sim.feed(b"")))
    assert len(stream) == 2 and sim.feed(b"") == b""
    assert [f.op for f in send(P.Op.STATUS, 3)] == [P.Op.STATUS | P.REPLY_BIT]  # allowed during a run
    busy = send(P.Op.IDENTIFY, 4)
    assert busy[0].op == P.Msg.ERROR and busy[0].payload[0] == P.Err.BUSY
    send(P.Op.STOP, 5)
    for _ in range(20):
        if any(f.op == P.Msg.RUN_DONE for f in stream):
            break
        send(P.Op.CREDIT, 6, P.CREDIT_PAYLOAD.pack(1))
    t, n, done, seqs = decode_stream(stream)
    assert len(done) == 1
    ran, next_tick, sent, dropped, stopped = done[0]
    assert stopped == 1 and 0 < ran < 100000 and next_tick == ran and sent == len(t) and dropped == 0
    gt, gn = gc.run(ran)
    assert np.array_equal(t, gt) and np.array_equal(n, gn)


def test_frames_rejected_counts_across_bytes_and_saturates():
    """FRAMES_REJECTED, which the executor updates a byte at a time: a carry out of the low byte, and
    saturation at 2^32 - 1, as the golden device counts (the Tee compares every STATUS reply)."""
    tee, client = make()
    for start, errors in ((0xFF, 2), (0xFFFF_FFFE, 3)):
        client.write(P.Space.STATUS, 0, P.StatusCounter.FRAMES_REJECTED, np.array([start], dtype=np.int64))
        for k in range(errors):
            raw(tee, 0x00, 40 + k)  # an unknown opcode: one ERROR each
        counters = client.status()
        assert counters["frames_rejected"] == min(start + errors, 0xFFFF_FFFF)
    tee.check()
