"""The states readout of the RTL command engine + core against the golden device, byte for byte.

The device runs in Amaranth's simulator (sim/engine_sim.py) behind sim/engine_pair.Tee, which feeds
the golden emulator the same bytes; the STATES frames and RUN_DONE of both are compared whole. The
networks are freshly drawn busy cases (sim/cases.py), with the readout's range reaching past the
active neurons and past N, with several lanes, and with a credit stall.
"""

from __future__ import annotations

import numpy as np
import pytest

from lifstp import protocol as P
from lifstp.golden_model.spec import REGISTER_NAMES
from lifstp.link import DeviceClient, LoopbackTransport
from lifstp.rtl.config import CoreConfig
from lifstp.sim.campaign import write_state
from lifstp.sim.cases import build_golden
from lifstp.sim.engine_pair import Tee
from lifstp.sim.engine_sim import EngineSim

BUSY = {"net_seed": 11, "seed": 2**64 - 5, "bias_mv": 0.5, "tau_m_ms": 1.0,
        "tau_syn_ms": 10.0, "tau_ref_ms": 0.5, "noise_rate_hz": 2000.0, "stp_u": 0.5,
        "stp_tau_rec_ms": 10.0, "weight_scale": 3.0, "clamp_fraction": 0.2}


def frames(dev, data=b""):
    return [P.decode_frame(f) for f in P.FrameSplitter().feed(dev.feed(data))]


def readout(client, units, first, every, wait):
    for name, value in (("sample_units", units), ("sample_first", first), ("sample_every", every),
                        ("sample_wait", wait)):
        client.write(P.Space.REG, 0, REGISTER_NAMES.index(name), [value])


def run_states(tee, ticks, credit=1000):
    frames(tee, P.encode_frame(P.Op.RUN, 1, P.RUN_PAYLOAD.pack(ticks, credit)))
    for _ in range(200):
        if any(f.op == P.Msg.RUN_DONE for f in tee.streams[0]) and any(f.op == P.Msg.RUN_DONE for f in tee.streams[1]):
            break
        frames(tee)
    rtl, gold = tee.streams
    tee.streams = ([], [])
    return rtl, gold


@pytest.mark.parametrize("n, lanes, n_active, units, first, every, wait", [
    (8, 1, 8, 8, 0, 3, 0),  # every unit, a sample every 3 ticks
    (8, 2, 7, 6, 4, 2, 5),  # past n_active and past N, a late first sample
    (16, 4, 13, 16, 0, 1, 0),  # a sample every tick, two bytes each: frames fill
])
def test_states_equal_the_golden_device(n, lanes, n_active, units, first, every, wait):
    cfg = CoreConfig(n_neurons=n, lanes=lanes)
    tee = Tee(EngineSim(cfg))
    tee.emu.lanes = lanes  # the golden device has no lanes; it reports the RTL's
    client = DeviceClient(LoopbackTransport(tee), timeout_s=300)
    assert client.identify().readouts == P.Readout.SPIKES | P.Readout.STATES | P.Readout.STATS
    gc = build_golden(dict(BUSY, n_active=n_active), n)
    write_state(client, gc)
    readout(client, units, first, every, wait)
    ticks = 260
    rtl, gold = run_states(tee, ticks)
    assert [f.op for f in rtl] == [f.op for f in gold] and rtl[-1].op == P.Msg.RUN_DONE
    assert [f.payload for f in rtl] == [f.payload for f in gold]
    samples = np.concatenate([P.decode_states(f.payload, units)[2] for f in rtl if f.op == P.Msg.STATES])
    assert len(samples) == len(range(wait, ticks, every))
    assert 0.05 < samples[:, :max(0, min(n_active, n) - first)].mean() < 0.95, "the case should spike"
    assert P.RUN_DONE_PAYLOAD.unpack(rtl[-1].payload)[2] == len(samples)
    # then a plain run streams spikes again, the same on both
    readout(client, 0, 0, 1, 0)
    rtl, gold = run_states(tee, 40)
    assert [f.payload for f in rtl] == [f.payload for f in gold] and rtl[0].op == P.Msg.SPIKES
    tee.check()


def test_states_stall_for_credit_and_stop():
    """Without credit the core waits after the first sample's tick; STATUS shows the same tick on
    both devices; STOP then ends the run once the waiting sample is sent."""
    cfg = CoreConfig(n_neurons=8)
    tee = Tee(EngineSim(cfg))
    client = DeviceClient(LoopbackTransport(tee), timeout_s=300)
    write_state(client, build_golden(dict(BUSY, n_active=8), 8))
    readout(client, 8, 0, 5, 2)
    frames(tee, P.encode_frame(P.Op.RUN, 1, P.RUN_PAYLOAD.pack(100000, 0)))
    frames(tee)
    assert tee.streams == ([], [])
    status = frames(tee, P.encode_frame(P.Op.STATUS, 2))  # compared by the Tee (TICKS: 3)
    assert P.unpack_values(status[0].payload, 4, False)[P.StatusCounter.TICKS] == 3
    frames(tee, P.encode_frame(P.Op.STOP, 3))
    frames(tee, P.encode_frame(P.Op.CREDIT, 4, P.CREDIT_PAYLOAD.pack(1)))
    for _ in range(20):
        if any(f.op == P.Msg.RUN_DONE for f in tee.streams[0]):
            break
        frames(tee)
    rtl, gold = tee.streams
    assert [f.payload for f in rtl] == [f.payload for f in gold]
    done = P.RUN_DONE_PAYLOAD.unpack(rtl[-1].payload)
    assert done[0] == 3 and done[2] == 1 and done[4] == 1  # 3 ticks run, one sample, stopped
    tee.check()


def test_statistics_equal_the_golden_device_and_the_states():
    """The statistics readout: the RTL's counts (read in space STATS, both orders of a pair) equal the
    golden device's, which equal the counts of the same run's samples in the states readout."""
    n, lanes, units, first, every = 16, 4, 12, 2, 3
    cfg = CoreConfig(n_neurons=n, lanes=lanes)
    tee = Tee(EngineSim(cfg))
    tee.emu.lanes = lanes
    client = DeviceClient(LoopbackTransport(tee), timeout_s=300)
    assert P.Readout.STATS in client.identify().readouts
    gc = build_golden(dict(BUSY, n_active=13), n)
    write_state(client, gc)
    readout(client, units, first, every, 1)
    states = np.concatenate([P.decode_states(f.payload, units)[2] for f in run_states(tee, 200)[0]
                             if f.op == P.Msg.STATES]).astype(np.int64)
    write_state(client, gc)  # the same run again, counted on the device
    readout(client, units, first, every, 1)
    client.write(P.Space.REG, 0, REGISTER_NAMES.index("sample_stats"), [1])
    rtl, gold = run_states(tee, 200)
    assert [f.op for f in rtl] == [f.op for f in gold] == [P.Msg.RUN_DONE]
    assert P.RUN_DONE_PAYLOAD.unpack(rtl[0].payload)[2] == len(states)
    k = P.STATS_UNITS_MAX
    counts = np.stack([client.read(P.Space.STATS, 0, i * k, units) for i in range(units)])
    assert np.array_equal(counts, states.T @ states) and counts.trace() > 0
    assert np.array_equal(client.read(P.Space.STATS, 0, 5 * k + 1, 1), counts[1:2, 5])  # (5, 1) is (1, 5)
    client.write(P.Space.STATS, 0, 3 * k + 7, [2**32 - 1])  # written, then read as (7, 3)
    assert client.read(P.Space.STATS, 0, 7 * k + 3, 1)[0] == 2**32 - 1
    tee.check()


def test_verilator_device_states_equal_the_golden_device():
    """The whole path: `lifstp.device` on the compiled RTL (Verilator) and on the golden device give
    the same states in a run of several segments, whose sample grid spans the segment boundaries."""
    import sys

    from lifstp.device import GoldenDevice, ProtocolDevice, VerilatorDevice
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_protocol import small_network

    net = small_network()
    choice = dict(readout="states", units=(2, 12), every=7, wait=3)
    verilator = VerilatorDevice(lanes=2).open(net.n)
    verilator.segment_ticks = 1000
    try:
        rtl = verilator.run(net, 4000, seed=5, **choice)
    finally:
        verilator.close()
    gold = GoldenDevice().run(net, 4000, seed=5, **choice)
    assert rtl.states.shape == (len(range(3, 4000, 7)), 10)
    assert np.array_equal(rtl.states, gold.states) and np.array_equal(rtl.state_ticks, gold.state_ticks)
    assert 0.05 < rtl.states.mean() < 0.95
