"""The states readout (docs/protocol.md, "The state stream") on the golden device: through the host API
and the CLI its states are `analysis.sample_states` of the same network's spike run, for ranges,
periods and first samples that do and do not line up with the segments; RUN.npz keeps them; bad
choices are refused before anything is sent; a noisy link gives the fault-free states."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lifstp.device as device_mod
from lifstp import protocol as P
from lifstp.analysis import run_distribution, run_states, sample_states, states_distribution
from lifstp.bm import random_bm, save
from lifstp.cli import main
from lifstp.device import GoldenDevice, ProtocolDevice
from lifstp.emulator import GoldenEmulator
from lifstp.errors import InputError
from lifstp.faults import FaultRates, FaultyTransport
from lifstp.golden_model.spec import REGISTER_NAMES, SAMPLE_UNITS_MAX
from lifstp.link import DeviceClient, LoopbackTransport
from lifstp.readout import StatesReadout, states_readout
from lifstp.sampling import RUN_KEYS, STATE_KEYS, load_run

from test_protocol import small_network

N_DEV = 16  # the 12-neuron network on a 16-neuron device: 4 padding neurons
TICKS = 7_000
SEGMENT = 1_000  # seven segments


class CountingTransport:
    """A transport that records the opcode of every frame the host sends."""

    def __init__(self, transport):
        self.transport, self.ops, self._splitter = transport, [], P.FrameSplitter()

    def write(self, data: bytes) -> None:
        self.ops += [P.decode_frame(item).op for item in self._splitter.feed(data)
                     if not isinstance(item, P.ProtocolError)]
        self.transport.write(data)

    def read(self, timeout_s: float) -> bytes:
        return self.transport.read(timeout_s)

    def idle(self) -> bool:
        return self.transport.idle()

    def close(self) -> None:
        self.transport.close()


class SpikesOnlyEmulator(GoldenEmulator):
    """The golden device with IDENTIFY reporting the spike stream only, as the board's RTL does."""

    def _send(self, op, seq, payload):
        if op == P.Op.IDENTIFY | P.REPLY_BIT:
            payload = payload[:-1] + bytes([int(P.Readout.SPIKES)])
        super()._send(op, seq, payload)


def golden(segment_ticks: int = SEGMENT, emulator=GoldenEmulator, n: int = N_DEV):
    link = CountingTransport(LoopbackTransport(emulator(n)))
    return ProtocolDevice("golden", DeviceClient(link), segment_ticks=segment_ticks), link


@pytest.fixture(scope="module")
def net():
    return small_network()


@pytest.fixture(scope="module")
def spike_run(net):
    run = golden()[0].run(net, TICKS, seed=3)
    assert len(run.spike_tick) > 400
    return run


def expected(spike_run, net, ro: StatesReadout, n_ticks: int = TICKS):
    return sample_states(spike_run.spike_tick[spike_run.spike_tick < n_ticks],
                         spike_run.spike_neuron[spike_run.spike_tick < n_ticks], net.n, n_ticks,
                         net.params.tau_ref_ticks, ro.every, ro.wait)[:, ro.first:ro.stop]


@pytest.mark.parametrize("units, every, wait, segment", [
    (None, None, 0, SEGMENT),   # all units every tau_ref (100, divides the segment)
    ((2, 9), 7, 5, SEGMENT),    # 7 does not divide 1000: each segment's first sample is elsewhere
    ((0, 12), 333, 1234, 900),  # the first sample in the second segment
    ((11, 12), 1, 0, 64),       # every tick, one unit, 110 short segments
    ((3, 12), 4_500, 6_999, SEGMENT),  # one sample, at the last tick
])
def test_states_equal_the_sampled_spike_run(net, spike_run, units, every, wait, segment):
    dev, _ = golden(segment)
    run = dev.run(net, TICKS, seed=3, readout="states", units=units, every=every, wait=wait)
    ro = run.states_readout
    assert (ro.first, ro.stop) == (units or (0, net.n)) and ro.every == (every or net.params.tau_ref_ticks)
    np.testing.assert_array_equal(run.state_ticks, np.arange(wait, TICKS, ro.every))
    want = expected(spike_run, net, ro)
    assert want.shape == run.states.shape and run.states.dtype == np.uint8
    np.testing.assert_array_equal(run.states, want)
    assert len(run.spike_tick) == len(run.spike_neuron) == 0
    assert 0 < run.states.mean() < 1 or want.size < 5
    assert run.status["ticks"] == TICKS and not any(run.link.values())


def test_registers_written_before_and_cleared_after(net, spike_run):
    """After a states run sample_units is 0 again, so the next plain run on the device streams spikes."""
    dev, link = golden()
    dev.run(net, 2_000, seed=3, readout="states", units=(1, 5), every=10)
    regs = dev.client.read(P.Space.REG, 0, 0, len(REGISTER_NAMES))
    assert regs[REGISTER_NAMES.index("sample_units")] == 0
    again = dev.run(net, TICKS, seed=3)
    np.testing.assert_array_equal(again.spike_tick, spike_run.spike_tick)
    np.testing.assert_array_equal(again.spike_neuron, spike_run.spike_neuron)


@pytest.mark.parametrize("every, wait", [(1, 0), (7, 3), (100, 250), (65_535, 65_535)])
def test_segment_waits_keep_the_whole_runs_grid(every, wait):
    ro = StatesReadout(0, 1, every, wait)
    for at in (0, 1, 6, 99, 100, 1_000, 65_535, 65_536, 123_457):
        w = ro.wait_at(at)
        assert 0 <= w <= 65_535
        assert at + w >= wait and (at + w - wait) % every == 0  # on the grid ...
        assert at + w - every < max(at, wait)  # ... and its first point at or after `at`


def test_run_npz_round_trip(tmp_path, net):
    from lifstp.sampling import run_network

    run = run_network(net, GoldenDevice(), 300.0, seed=3, readout="states", units=(2, 10), every=9)
    run.save(tmp_path / "run.npz")
    got = load_run(tmp_path / "run.npz")
    assert set(RUN_KEYS + STATE_KEYS + ("readout",)) <= set(got)
    assert got["readout"] == "states" and isinstance(got["readout"], str)
    assert (got["state_first"], got["state_units"], got["state_every"], got["state_wait"]) == (2, 8, 9, 0)
    np.testing.assert_array_equal(got["states"], run.states)
    np.testing.assert_array_equal(got["state_ticks"], np.arange(0, run.n_ticks, 9))
    assert got["spike_tick"].size == got["spike_neuron"].size == 0
    units, states = run_states(got)  # the device's states, not sample_states of the (absent) spikes
    np.testing.assert_array_equal(units, np.arange(2, 10))
    np.testing.assert_array_equal(states, run.states)
    np.testing.assert_array_equal(run_states(got, start_tick=100)[1], run.states[12:])
    with pytest.raises(InputError, match="sampled every 9 ticks"):
        run_states(got, every_ticks=10)
    np.testing.assert_allclose(run_distribution(got, units=[3, 5]), states_distribution(run.states[:, [1, 3]]))
    spikes = run_network(net, GoldenDevice(), 300.0, seed=3)
    spikes.save(tmp_path / "spikes.npz")
    plain = load_run(tmp_path / "spikes.npz")
    assert plain["readout"] == "spikes" and not set(STATE_KEYS) & set(plain)
    np.testing.assert_array_equal(run_states(plain, every_ticks=9)[1][:, 2:10], run.states)
    kept = {k: v for k, v in np.load(tmp_path / "run.npz").items() if k != "states"}
    np.savez(tmp_path / "bad.npz", **kept)
    with pytest.raises(InputError, match="missing key.*states"):
        load_run(tmp_path / "bad.npz")


def test_states_distribution_counts_samples():
    states = np.array([[0, 0], [1, 0], [1, 0], [1, 1]], np.uint8)
    np.testing.assert_allclose(states_distribution(states), [0.25, 0.5, 0.0, 0.25])


@pytest.fixture(scope="module")
def bm_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bm") / "bm.npz"
    save(path, random_bm(6, np.random.default_rng(4)))
    return path


def test_cli_states_equal_the_sampled_spike_run(tmp_path, bm_file, capsys):
    common = [str(bm_file), "--device", "golden", "--duration-ms", "400", "--seed", "5", "--no-progress"]
    assert main(["sample", *common, "--out", str(tmp_path / "spikes.npz")]) == 0
    assert main(["sample", *common, "--readout", "states", "--units", "1:5", "--every", "13",
                 "--out", str(tmp_path / "states.npz")]) == 0
    out = capsys.readouterr().out
    assert "samples of the states of units 1:5 every 13 ticks" in out, out
    spikes, states = load_run(tmp_path / "spikes.npz"), load_run(tmp_path / "states.npz")
    want = sample_states(spikes["spike_tick"], spikes["spike_neuron"], 6, spikes["n_ticks"],
                         spikes["tau_ref_ticks"], 13)[:, 1:5]
    assert len(want) == len(states["states"]) == -(-spikes["n_ticks"] // 13)
    np.testing.assert_array_equal(states["states"], want)
    assert (states["state_first"], states["state_units"], states["state_every"]) == (1, 4, 13)


def test_cli_states_default_range_and_period(tmp_path, bm_file):
    assert main(["sample", str(bm_file), "--duration-ms", "100", "--readout", "states", "--no-progress",
                 "--out", str(tmp_path / "r.npz")]) == 0
    got = load_run(tmp_path / "r.npz")
    assert (got["state_first"], got["state_units"], got["state_every"]) == (0, 6, got["tau_ref_ticks"])


def _patched(monkeypatch, emulator, n=N_DEV):
    dev, link = golden(emulator=emulator, n=n)
    monkeypatch.setattr(device_mod, "open_device", lambda spec: dev)
    return link


@pytest.mark.parametrize("args, message", [
    (["--readout", "states", "--units", "0:7"], "units 0:7 are not a range of the network's units 0:6"),
    (["--readout", "states", "--units", "4:4"], "units 4:4 are not a range"),
    (["--readout", "states", "--units", "1-3"], "expected A:B"),
    (["--readout", "states", "--every", "0"], r"period is 1 \.\. 65535 ticks, got 0"),
    (["--readout", "states", "--every", "65536"], "got 65536"),
    (["--units", "0:3"], "--units and --every are options of --readout states or stats"),
    (["--readout", "spikes", "--every", "5"], "--units and --every are options of --readout states or stats"),
])
def test_cli_bad_readout_sends_nothing(tmp_path, bm_file, monkeypatch, capsys, args, message):
    link = _patched(monkeypatch, GoldenEmulator)
    code = main(["sample", str(bm_file), "--duration-ms", "100", "--out", str(tmp_path / "r.npz"), *args])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert link.ops == [] and not (tmp_path / "r.npz").exists()


def test_cli_device_without_states_readout(tmp_path, bm_file, monkeypatch, capsys):
    link = _patched(monkeypatch, SpikesOnlyEmulator)
    code = main(["sample", str(bm_file), "--duration-ms", "100", "--readout", "states",
                 "--out", str(tmp_path / "r.npz")])
    err = capsys.readouterr().err
    assert code != 0 and "the device golden has no states readout (IDENTIFY reports: spikes)" in err, err
    assert set(link.ops) == {P.Op.IDENTIFY} and not (tmp_path / "r.npz").exists()


def test_cli_too_many_units(tmp_path, monkeypatch, capsys):
    path = tmp_path / "big.npz"
    save(path, random_bm(SAMPLE_UNITS_MAX + 1, np.random.default_rng(0)))
    link = _patched(monkeypatch, GoldenEmulator)
    code = main(["sample", str(path), "--duration-ms", "100", "--readout", "states", "--out", str(tmp_path / "r.npz")])
    err = capsys.readouterr().err
    assert code != 0 and f"the states readout sends at most {SAMPLE_UNITS_MAX}" in err, err
    assert link.ops == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(readout="states", units=(0, 13)), "not a range of the network's units 0:12"),
    (dict(readout="states", units=range(0, 12, 2)), "contiguous"),
    (dict(readout="states", every=70_000), "period"),
    (dict(readout="states", wait=-1), "first sample"),
    (dict(readout="counts"), "unknown readout 'counts'; expected spikes, states or stats"),
    (dict(units=(0, 3)), "options of the states and stats readouts"),
])
def test_api_bad_readout_sends_nothing(net, kwargs, message):
    dev, link = golden()
    with pytest.raises(InputError, match=message):
        dev.run(net, 100, seed=0, **kwargs)
    assert link.ops == []


def test_api_device_without_states_readout(net):
    dev, link = golden(emulator=SpikesOnlyEmulator)
    with pytest.raises(InputError, match=r"has no states readout \(IDENTIFY reports: spikes\)"):
        dev.run(net, 100, seed=0, readout="states")
    assert set(link.ops) == {P.Op.IDENTIFY}
    assert dev.info()["readouts"] == "spikes"
    assert golden()[0].info()["readouts"] == "spikes, states, stats"


def test_units_count_limit():
    assert states_readout(SAMPLE_UNITS_MAX, 10).units == SAMPLE_UNITS_MAX
    with pytest.raises(InputError, match=f"at most {SAMPLE_UNITS_MAX}"):
        states_readout(SAMPLE_UNITS_MAX + 1, 10)


FAULT_TICKS, FAULT_SEGMENT = 12_000, 4_000


@pytest.mark.parametrize("seed", range(3))
def test_states_through_a_faulty_link(net, seed):
    """At 1e-3 faults per byte each way, the states are exactly the fault-free run's."""
    choice = dict(readout="states", units=(0, 12), every=3, wait=1)
    clean = golden(FAULT_SEGMENT)[0].run(net, FAULT_TICKS, seed=2, **choice)
    assert len(clean.states) == 4_000
    rates = FaultRates.per_byte(1e-3)
    link = FaultyTransport(LoopbackTransport(GoldenEmulator(N_DEV)), rates, rates, seed=seed)
    run = ProtocolDevice("golden", DeviceClient(link), segment_ticks=FAULT_SEGMENT).run(net, FAULT_TICKS, seed=2,
                                                                                       **choice)
    np.testing.assert_array_equal(run.state_ticks, clean.state_ticks)
    np.testing.assert_array_equal(run.states, clean.states)
    assert sum(c.faults for c in link.counts.values()) > 0
    assert run.link["retries"] > 0 and run.link["frames_corrupted"] + run.link["frames_lost"] > 0


class DropStatesFrame:
    """A loopback that loses the device's STATES frame at stream position `lost` on the way."""

    def __init__(self, device, lost: int):
        self.inner, self.lost, self.seen, self._splitter = LoopbackTransport(device), lost, 0, P.FrameSplitter()

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, timeout_s: float) -> bytes:
        out = b""
        for item in self._splitter.feed(self.inner.read(timeout_s)):
            frame = P.decode_frame(item)
            if frame.op == P.Msg.STATES:
                self.seen += 1
                if self.seen == self.lost + 1:
                    continue
            out += P.encode_frame(frame.op, frame.seq, frame.payload)
        return out

    def idle(self) -> bool:
        return self.inner.idle()

    def close(self) -> None:
        pass


def test_a_lost_state_frame_is_named(net):
    """One RUN (no segments): the lost frame and the samples missing from RUN_DONE's count are named."""
    from lifstp.device import load_network
    from lifstp.segments import write_readout

    client = DeviceClient(DropStatesFrame(GoldenEmulator(N_DEV), lost=1))
    load_network(client, net, seed=3)
    ro = StatesReadout(0, 12, 2)
    write_readout(client, ro.registers())
    stream = client.stream_run(2_000, start_tick=0, first_seq=0, units=12, every=2, first_sample=0)
    per_frame = P.samples_per_frame(12)
    assert stream.done.spikes == 1_000 and sorted(stream.frames) == [0, *range(2, -(-1_000 // per_frame))]
    assert stream.loss() == f"1 state frame(s) lost (stream positions 1); the device sent 1000 samples but " \
                            f"{1_000 - per_frame} arrived"
    assert not stream.complete and stream.frames_lost == 1
    ticks, states = stream.states()
    np.testing.assert_array_equal(ticks, np.delete(np.arange(0, 2_000, 2), np.s_[per_frame:2 * per_frame]))
