"""The stats readout (docs/protocol.md, "The statistics readout") on the golden device: through the host
API and the CLI its counts are S.T @ S of the states S of the same run in the states readout, over
segments whose starts do not line up with the samples; RUN.npz keeps them; analysis.run_moments reads
them; bad choices are refused before anything is sent; a device that sends frames anyway, a saturated
count and a lost RUN_DONE are handled; a noisy link gives the fault-free counts."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lifstp import protocol as P
from lifstp.analysis import run_distribution, run_moments, run_states
from lifstp.bm import random_bm, save
from lifstp.cli import main
from lifstp.device import GoldenDevice, ProtocolDevice
from lifstp.emulator import GoldenEmulator
from lifstp.errors import InputError, LifstpError
from lifstp.faults import FaultRates, FaultyTransport
from lifstp.golden_model.spec import REGISTER_NAMES
from lifstp.link import DeviceClient, LinkError, LoopbackTransport
from lifstp.readout import StatsReadout, stats_readout
from lifstp.sampling import RUN_KEYS, STATS_KEYS, load_run, run_network
from lifstp.segments import STATS_COUNT_MAX

from test_protocol import small_network
from test_states_readout import N_DEV, SEGMENT, TICKS, _patched, golden

READOUT_REGS = ("sample_units", "sample_stats")


@pytest.fixture(scope="module")
def net():
    return small_network()


def readout_registers(dev) -> dict:
    regs = dev.client.read(P.Space.REG, 0, 0, len(REGISTER_NAMES))
    return {name: int(regs[REGISTER_NAMES.index(name)]) for name in READOUT_REGS}


@pytest.mark.parametrize("units, every, wait, segment", [
    ((1, 11), 7, 5, SEGMENT),   # 7 does not divide 1000: each segment's first sample is elsewhere
    (None, 1, 0, 300),          # every tick, all 12 units, a short last segment
    ((4, 5), 333, 1234, 900),   # one unit, the first sample in the second segment
])
def test_stats_equal_the_states_of_the_same_run(net, units, every, wait, segment):
    choice = dict(units=units, every=every, wait=wait)
    states = golden(segment)[0].run(net, TICKS, seed=3, readout="states", **choice)
    dev, _ = golden(segment)
    run = dev.run(net, TICKS, seed=3, readout="stats", **choice)
    s = states.states.astype(np.int64)
    assert run.readout == "stats" and isinstance(run.states_readout, StatsReadout)
    assert (run.states_readout.first, run.states_readout.stop) == (units or (0, net.n))
    assert run.stats_samples == len(s) == len(range(wait, TICKS, every))
    assert run.stats_counts.dtype == np.int64 and run.stats_counts.shape == (s.shape[1],) * 2
    np.testing.assert_array_equal(run.stats_counts, s.T @ s)
    assert run.stats_counts.trace() > 0 and len(run.spike_tick) == len(run.states) == 0
    got_units, means, co = run_moments(run)
    want_units, want_means, want_co = run_moments(states)
    np.testing.assert_array_equal(got_units, want_units)
    np.testing.assert_allclose(means, s.mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(co, want_co, rtol=0, atol=1e-15)
    assert run.status["ticks"] == TICKS and not any(run.link.values())
    assert readout_registers(dev) == {"sample_units": 0, "sample_stats": 0}


def test_a_spike_run_after_a_stats_run_streams_spikes(net):
    dev, _ = golden()
    dev.run(net, 2_000, seed=3, readout="stats", units=(0, 6), every=10)
    again = dev.run(net, 2_000, seed=3)
    plain = golden()[0].run(net, 2_000, seed=3)
    assert len(plain.spike_tick) > 50
    np.testing.assert_array_equal(again.spike_tick, plain.spike_tick)
    np.testing.assert_array_equal(again.spike_neuron, plain.spike_neuron)


def test_moments_of_a_spike_run_equal_the_stats(net):
    """run_moments of a spike run (its states decoded from the spikes) equal the device's counts."""
    spikes = golden()[0].run(net, TICKS, seed=3)
    stats = golden()[0].run(net, TICKS, seed=3, readout="stats", every=9)
    _, means, co = run_moments(spikes, every_ticks=9, n_neurons=net.n, tau_ref_ticks=net.params.tau_ref_ticks)
    np.testing.assert_allclose(co * stats.stats_samples, stats.stats_counts, rtol=0, atol=1e-9)
    np.testing.assert_allclose(means, run_moments(stats)[1], rtol=0, atol=1e-15)


def test_run_npz_round_trip(tmp_path, net):
    run = run_network(net, GoldenDevice(), 300.0, seed=3, readout="stats", units=(2, 10), every=9)
    run.save(tmp_path / "run.npz")
    got = load_run(tmp_path / "run.npz")
    assert set(RUN_KEYS + STATS_KEYS + ("readout",)) <= set(got) and not {"states", "state_ticks"} & set(got)
    assert got["readout"] == "stats"
    assert (got["state_first"], got["state_units"], got["state_every"], got["state_wait"]) == (2, 8, 9, 0)
    assert got["stats_samples"] == run.stats_samples == len(range(0, run.n_ticks, 9))
    assert got["stats_counts"].dtype == np.int64
    np.testing.assert_array_equal(got["stats_counts"], run.stats_counts)
    states = run_network(net, GoldenDevice(), 300.0, seed=3, readout="states", units=(2, 10), every=9)
    units, means, co = run_moments(got)
    np.testing.assert_array_equal(units, np.arange(2, 10))
    np.testing.assert_allclose(means, states.states.mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(co, run_moments(states)[2], rtol=0, atol=1e-15)
    with pytest.raises(InputError, match="counted every 9 ticks, not every 10"):
        run_moments(got, every_ticks=10)
    with pytest.raises(InputError, match="from tick 0 on; moments from tick 50 need"):
        run_moments(got, start_tick=50)
    for needs_states in (run_states, run_distribution):
        with pytest.raises(InputError, match=r"stats readout.*need --readout states"):
            needs_states(got)
    kept = {k: v for k, v in np.load(tmp_path / "run.npz").items() if k != "stats_counts"}
    np.savez(tmp_path / "bad.npz", **kept)
    with pytest.raises(InputError, match="missing key.*stats_counts"):
        load_run(tmp_path / "bad.npz")


class NoStatsEmulator(GoldenEmulator):
    """The golden device with IDENTIFY reporting spikes and states only."""

    def _send(self, op, seq, payload):
        if op == P.Op.IDENTIFY | P.REPLY_BIT:
            payload = payload[:-1] + bytes([int(P.Readout.SPIKES | P.Readout.STATES)])
        super()._send(op, seq, payload)


class IgnoresStatsEmulator(GoldenEmulator):
    """A device that reports the stats readout but sends the states anyway."""

    def _run(self, f):
        super()._run(f)
        self._stats = False


class SaturatingEmulator(GoldenEmulator):
    """A device whose count of the range's units 2 and 3 starts each run at its largest."""

    def _run(self, f):
        super()._run(f)
        if self._units and self._stats:
            self.stats[2, 3] = self.stats[3, 2] = STATS_COUNT_MAX


@pytest.mark.parametrize("kwargs, message", [
    (dict(readout="stats", units=(0, 13)), "not a range of the network's units 0:12"),
    (dict(readout="stats", units=range(0, 12, 2)), "the stats readout's units are a contiguous range"),
    (dict(readout="stats", every=0), r"the stats readout's period is 1 \.\. 65535 ticks, got 0"),
    (dict(readout="stats", wait=70_000), "the stats readout's first sample"),
])
def test_api_bad_stats_choice_sends_nothing(net, kwargs, message):
    dev, link = golden()
    with pytest.raises(InputError, match=message):
        dev.run(net, 100, seed=0, **kwargs)
    assert link.ops == []


def test_api_too_many_units_sends_nothing():
    big = small_network(n=P.STATS_UNITS_MAX + 6)
    dev, link = golden(n=big.n)
    with pytest.raises(InputError, match=f"units 3:68 are 65 units; the stats readout counts at most "
                                         f"{P.STATS_UNITS_MAX}"):
        dev.run(big, 100, seed=0, readout="stats", units=(3, 68))
    assert link.ops == []
    assert stats_readout(big.n, 10, (6, 70)).units == P.STATS_UNITS_MAX


def test_api_device_without_stats_readout(net):
    dev, link = golden(emulator=NoStatsEmulator)
    with pytest.raises(InputError, match=r"the device golden has no stats readout \(IDENTIFY reports: spikes, "
                                         r"states\)"):
        dev.run(net, 100, seed=0, readout="stats")
    assert set(link.ops) == {P.Op.IDENTIFY}


def test_frames_in_a_stats_run_are_a_link_error(net):
    dev, _ = golden(emulator=IgnoresStatsEmulator)
    with pytest.raises(LinkError, match="a STATES frame arrived during a run in the stats readout"):
        dev.run(net, 2_000, seed=3, readout="stats")
    assert readout_registers(dev) == {"sample_units": 0, "sample_stats": 0}


def test_a_saturated_count_is_an_error(net):
    dev, _ = golden(emulator=SaturatingEmulator)
    with pytest.raises(LifstpError, match=f"ticks 0..1000: the device's count of units 3 and 4 on together "
                                          f"reached {STATS_COUNT_MAX}, where it saturates"):
        dev.run(net, 2_000, seed=3, readout="stats", units=(1, 9))
    assert readout_registers(dev) == {"sample_units": 0, "sample_stats": 0}


class DropRunDone:
    """A loopback that loses the device's first `lost` RUN_DONE frames on the way."""

    def __init__(self, device, lost: int):
        self.inner, self.lost, self._splitter = LoopbackTransport(device), lost, P.FrameSplitter()

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, timeout_s: float) -> bytes:
        out = b""
        for item in self._splitter.feed(self.inner.read(timeout_s)):
            frame = P.decode_frame(item)
            if frame.op == P.Msg.RUN_DONE and self.lost:
                self.lost -= 1
                continue
            out += P.encode_frame(frame.op, frame.seq, frame.payload)
        return out

    def idle(self) -> bool:
        return self.inner.idle()

    def close(self) -> None:
        pass


def test_a_lost_run_done_costs_nothing(net):
    """A segment whose RUN_DONE is lost but whose device rests at its end: its counts are read as they
    are (no re-run), and the run's counts are the clean run's."""
    choice = dict(readout="stats", units=(0, 12), every=7, wait=2)
    clean = golden()[0].run(net, 3_000, seed=3, **choice)
    link = DropRunDone(GoldenEmulator(N_DEV), lost=2)
    run = ProtocolDevice("golden", DeviceClient(link, retry_after_s=0.05), segment_ticks=SEGMENT).run(
        net, 3_000, seed=3, **choice)
    assert link.lost == 0 and run.link["reruns"] == 0 and run.link["frames_lost"] == 2
    assert run.stats_samples == clean.stats_samples
    np.testing.assert_array_equal(run.stats_counts, clean.stats_counts)


FAULT_TICKS, FAULT_SEGMENT = 12_000, 4_000


@pytest.mark.parametrize("seed", range(3))
def test_stats_through_a_faulty_link(net, seed):
    """At 1e-3 faults per byte each way, the counts are exactly the fault-free run's."""
    choice = dict(readout="stats", units=(0, 12), every=3, wait=1)
    clean = golden(FAULT_SEGMENT)[0].run(net, FAULT_TICKS, seed=2, **choice)
    assert clean.stats_samples == 4_000 and clean.stats_counts.trace() > 0
    rates = FaultRates.per_byte(1e-3)
    link = FaultyTransport(LoopbackTransport(GoldenEmulator(N_DEV)), rates, rates, seed=seed)
    run = ProtocolDevice("golden", DeviceClient(link), segment_ticks=FAULT_SEGMENT).run(net, FAULT_TICKS, seed=2,
                                                                                       **choice)
    assert run.stats_samples == clean.stats_samples
    np.testing.assert_array_equal(run.stats_counts, clean.stats_counts)
    assert sum(c.faults for c in link.counts.values()) > 0 and run.link["retries"] > 0


@pytest.fixture(scope="module")
def bm_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bm") / "bm.npz"
    save(path, random_bm(6, np.random.default_rng(4)))
    return path


def test_cli_stats_equal_the_states(tmp_path, bm_file, capsys):
    common = [str(bm_file), "--device", "golden", "--duration-ms", "400", "--seed", "5", "--no-progress",
              "--units", "1:5", "--every", "13"]
    assert main(["sample", *common, "--readout", "states", "--out", str(tmp_path / "states.npz")]) == 0
    assert main(["sample", *common, "--readout", "stats", "--out", str(tmp_path / "stats.npz")]) == 0
    out = capsys.readouterr().out
    states, stats = load_run(tmp_path / "states.npz"), load_run(tmp_path / "stats.npz")
    s = states["states"].astype(np.int64)
    assert f"the counts of {len(s)} samples of units 1:5 every 13 ticks" in out, out
    assert f"({s.mean():.3f} mean state)" in out, out
    assert stats["readout"] == "stats" and stats["stats_samples"] == len(s) == -(-stats["n_ticks"] // 13)
    np.testing.assert_array_equal(stats["stats_counts"], s.T @ s)
    assert (stats["state_first"], stats["state_units"], stats["state_every"]) == (1, 4, 13)


@pytest.mark.parametrize("args, message", [
    (["--readout", "stats", "--units", "0:7"], "units 0:7 are not a range of the network's units 0:6"),
    (["--readout", "stats", "--every", "0"], r"the stats readout's period is 1 \.\. 65535 ticks, got 0"),
    (["--readout", "stats", "--units", "2"], "expected A:B"),
])
def test_cli_bad_stats_choice_sends_nothing(tmp_path, bm_file, monkeypatch, capsys, args, message):
    link = _patched(monkeypatch, GoldenEmulator)
    code = main(["sample", str(bm_file), "--duration-ms", "100", "--out", str(tmp_path / "r.npz"), *args])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert link.ops == [] and not (tmp_path / "r.npz").exists()


def test_cli_too_many_units(tmp_path, monkeypatch, capsys):
    path = tmp_path / "big.npz"
    save(path, random_bm(P.STATS_UNITS_MAX + 1, np.random.default_rng(0)))
    link = _patched(monkeypatch, GoldenEmulator, n=P.STATS_UNITS_MAX + 1)
    code = main(["sample", str(path), "--duration-ms", "100", "--readout", "stats", "--out", str(tmp_path / "r.npz")])
    err = capsys.readouterr().err
    assert code != 0 and f"are 65 units; the stats readout counts at most {P.STATS_UNITS_MAX}" in err, err
    assert link.ops == []


def test_cli_device_without_stats_readout(tmp_path, bm_file, monkeypatch, capsys):
    link = _patched(monkeypatch, NoStatsEmulator)
    code = main(["sample", str(bm_file), "--duration-ms", "100", "--readout", "stats",
                 "--out", str(tmp_path / "r.npz")])
    err = capsys.readouterr().err
    assert code != 0 and "the device golden has no stats readout (IDENTIFY reports: spikes, states)" in err, err
    assert set(link.ops) == {P.Op.IDENTIFY} and not (tmp_path / "r.npz").exists()
