"""`lifstp bench board`: the cycle count of a run against the RTL's formula (docs/engine.md, "Cycles of a
run") in Verilator on small cores of both boards' kinds; the nextpnr report's clock and the refusal of
bad reports; the link-limit arithmetic; bad command lines."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from lifstp.bench.board_clock import board_clock
from lifstp.bench.board_speed import BoardSpeed, link_ticks_per_s
from lifstp.boards.build import BuildError, read_report
from lifstp.boards.top import BOARDS
from lifstp.bm import random_bm, save
from lifstp.cli import main
from lifstp.golden_model.spec import ClampMode, ModelParams
from lifstp.network import Network

#: nextpnr's fmax entries as the default builds report them (the iCE40 has a constant net's clock too).
FMAX = {
    "icebreaker": {"$PACKER_GND_NET_$glb_clk": {"achieved": 256.08, "constraint": 12.0},
                   "bridge.clk": {"achieved": 16.116, "constraint": 15.0096}},
    "ulx3s-85f": {"$glbnet$bridge.device.core.clk": {"achieved": 49.434, "constraint": 45.0005}},
}
UTILISATION = {
    "icebreaker": {"ICESTORM_LC": {"used": 5033, "available": 5280}, "ICESTORM_DSP": {"used": 6, "available": 8}},
    "ulx3s-85f": {"TRELLIS_COMB": {"used": 11563, "available": 83640}, "MULT18X18D": {"used": 84, "available": 156}},
}


def _report(tmp_path, name: str, fmax=None, util=None, stamp=None):
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    path = folder / "report.json"
    path.write_text(json.dumps({"fmax": fmax if fmax is not None else FMAX[name],
                                "utilization": util if util is not None else UTILISATION[name],
                                "critical_paths": []}))
    if stamp is not None:
        (folder / "build.json").write_text(json.dumps(stamp))
    return path


def _cfg(b):
    from lifstp.sim.harness import board_bridge

    return board_bridge(b).device.cfg


def _small(name: str, n: int = 16):
    """The board's definition with a small core (its lanes, multipliers, formats and weight memory kept;
    n a multiple of its lanes)."""
    return dataclasses.replace(BOARDS[name], default_neurons=n)


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s-85f"])
def test_run_cycles_measured_equal_the_formula(name):
    """Busy cycles of runs in Verilator lie in the range `rtl/engine/cycles.py: run_cycles` gives (its
    width is the header's phase alignment, at most 3 cycles a frame): silent runs (SKIP records), k
    neurons firing every tick (full frames), and a free network."""
    from lifstp.bench.board_rtl import run_on_board_rtl
    from lifstp.rtl.engine.cycles import run_cycles
    from lifstp.sim.harness import board_binary

    b = _small(name)
    binary = board_binary(b)
    cfg = _cfg(b)
    n = cfg.n_neurons
    every_tick = ModelParams(tau_ref_ms=ModelParams().dt_ms)
    rng = np.random.default_rng(0)
    nets = []
    for k, ticks in [(0, 600), (2, 60), (n, 40)]:
        clamp = np.full(n, int(ClampMode.OFF))
        clamp[rng.choice(n, k, replace=False)] = int(ClampMode.ON)
        nets.append((Network(every_tick, np.full(n, -60.0), np.zeros((n, n)), clamp), ticks))
    nets.append((Network(ModelParams(), rng.normal(-55, 3, n), rng.normal(0, 200, (n, n))), 400))
    k = n - 3  # a smaller machine: only its neurons are updated and delivered to (n_active = k)
    nets.append((Network(ModelParams(), rng.normal(-55, 3, k), rng.normal(0, 200, (k, k))), 400))
    for net, ticks in nets:
        run = run_on_board_rtl(binary, net, ticks, seed=1)
        lo, hi = run_cycles(cfg, ticks, run.sent, net.n)
        assert lo <= run.busy_cycles <= hi, (name, ticks, run.busy_cycles, lo, hi)


def test_states_and_stats_readouts_on_the_board_design():
    """The ULX3S's design (a small core) in Verilator: the states readout gives the states of the golden
    model's spikes in fewer bytes than the spikes, the stats readout their counts, with hardly a byte
    sent during the run."""
    from lifstp.analysis import sample_states
    from lifstp.bench.board_rtl import run_on_board_rtl
    from lifstp.golden_model.fixed import GoldenCore
    from lifstp.sim.harness import board_binary

    b = _small("ulx3s-85f", 16)
    binary = board_binary(b)
    rng = np.random.default_rng(2)
    net = Network(ModelParams(), rng.normal(-52, 2, 16), rng.normal(0, 150, (16, 16)))
    ticks, every = 2000, 50
    t, n = GoldenCore.from_physical(net.params, net.e_l_mv, net.weights_pa, seed=1, formats=_cfg(b).formats).run(ticks)
    want = sample_states(t, n, 16, ticks, net.params.tau_ref_ticks, every, 0)
    assert 0.05 < want.mean() < 0.95
    spikes = run_on_board_rtl(binary, net, ticks, seed=1)
    states = run_on_board_rtl(binary, net, ticks, seed=1, states=(0, 16, every))
    stats = run_on_board_rtl(binary, net, ticks, seed=1, states=(0, 16, every), stats=True)
    assert np.array_equal(states.states, want)
    z = want.astype(np.int64)
    assert stats.stats[0] == len(want) and np.array_equal(stats.stats[1], z.T @ z)
    assert stats.bytes_per_tick < states.bytes_per_tick < spikes.bytes_per_tick
    # A sample costs its units a cycle each and a few more between two ticks (the spikes' records,
    # no longer written, cost less); the stats unit clears its counts as the run starts (4096 cycles,
    # which the first sample waits for) and then counts two cycles a pair of on units while the core
    # runs on.
    samples, on = len(want), want.sum(axis=1)
    assert 0 < states.busy_cycles - spikes.busy_cycles <= samples * (16 + 8)
    assert stats.busy_cycles - states.busy_cycles <= 4096 + int((on * (on + 1)).sum()) + 4 * samples


@pytest.mark.parametrize("name,clock,mhz", [("icebreaker", "bridge.clk", 16.116),
                                            ("ulx3s-85f", "$glbnet$bridge.device.core.clk", 49.434)])
def test_report_gives_the_design_clock(tmp_path, name, clock, mhz):
    """The core's clock is the one nextpnr constrained at the board's design clock; the board runs at
    that clock (its PLL's), not at the achieved Fmax."""
    b = BOARDS[name]
    rep = read_report(_report(tmp_path, name), b)
    assert rep.design_clock() == (clock, mhz)
    c = board_clock(b, _cfg(b), _report(tmp_path, name))
    assert (c.hz, c.fmax_hz, c.baud, c.config) == (b.sys_clk_hz, mhz * 1e6, b.default_baud, None)


def test_report_with_a_stamp_gives_the_builds_baud(tmp_path):
    b = BOARDS["icebreaker"]
    cfg = _cfg(b)
    stamp = {"board": b.name, "n_neurons": cfg.n_neurons, "lanes": cfg.lanes,
             "shared_multiplier": cfg.shared_multiplier, "baud": 115200}
    assert board_clock(b, cfg, _report(tmp_path, b.name, stamp=stamp)).baud == 115200


def test_a_build_of_another_core_is_taken_for_that_core(tmp_path):
    """The stamp of a 4-lane ULX3S build at the default formats, fields anywhere (the old default),
    matches that core (`lifstp bench board --lanes 4 --formats default` on such a board) and not the
    board's default (8 lanes, dsp18, fields in block RAM)."""
    b = BOARDS["ulx3s-85f"]
    old = dataclasses.replace(b, default_lanes=4, default_formats="default", fields_in_block_ram=False).config()
    stamp = {"board": b.name, "n_neurons": 256, "lanes": 4, "shared_multiplier": False, "baud": 3_000_000}
    path = _report(tmp_path, b.name, stamp=stamp)  # recorded before the formats were: the defaults
    assert board_clock(b, old, path).config["lanes"] == 4
    with pytest.raises(BuildError, match="L = 4, formats default, neuron fields in any RAM"):
        board_clock(b, b.config(), path)
    stamp = {**stamp, "lanes": 8, "formats": "dsp18", "fields_in_block_ram": True}
    assert board_clock(b, b.config(), _report(tmp_path, b.name, stamp=stamp)).config["formats"] == "dsp18"


@pytest.mark.parametrize("case,needle", [
    ("not json", "not a nextpnr report (not JSON)"),
    ("no fmax", "not a nextpnr report"),
    ("other family", "not a report of a build for icebreaker"),
    ("no clock", "no clock constrained at the board's 15 MHz"),
    ("missed", "misses icebreaker's clock"),
    ("other core", "a build of N = 64, L = 1"),
    ("other formats", "formats dsp18, neuron fields in any RAM (see"),
    ("other board", "a build for ulx3s-85f"),
    ("missing", "cannot read it"),
])
def test_bad_reports_are_refused(tmp_path, case, needle):
    b = BOARDS["icebreaker"]
    cfg = _cfg(b)
    stamp = {"board": b.name, "n_neurons": cfg.n_neurons, "lanes": cfg.lanes, "shared_multiplier": True, "baud": 1}
    path = {
        "not json": lambda: _write(tmp_path / "r.json", "Info: this is nextpnr's log, not its report"),
        "no fmax": lambda: _write(tmp_path / "r.json", json.dumps({"utilization": UTILISATION["icebreaker"]})),
        "other family": lambda: _report(tmp_path, "icebreaker", util=UTILISATION["ulx3s-85f"]),
        "no clock": lambda: _report(tmp_path, "icebreaker", fmax=FMAX["ulx3s-85f"]),
        "missed": lambda: _report(tmp_path, "icebreaker", fmax={"bridge.clk": {"achieved": 14.2, "constraint": 15.0}}),
        "other core": lambda: _report(tmp_path, "icebreaker", stamp={**stamp, "n_neurons": 64}),
        "other formats": lambda: _report(tmp_path, "icebreaker", stamp={**stamp, "formats": "dsp18"}),
        "other board": lambda: _report(tmp_path, "icebreaker", stamp={**stamp, "board": "ulx3s-85f"}),
        "missing": lambda: tmp_path / "nowhere" / "report.json",
    }[case]()
    with pytest.raises(BuildError) as err:
        board_clock(b, cfg, path)
    assert needle in str(err.value)


def _write(path, text):
    path.write_text(text)
    return path


def test_link_limit_arithmetic():
    """3 Mbaud carries 300 000 bytes/s (10 line bits a byte): 2.5 bytes a tick allow 120 000 ticks/s."""
    assert link_ticks_per_s(2.5, 3_000_000) == pytest.approx(120_000)
    assert link_ticks_per_s(0.0, 3_000_000) == math.inf
    s = BoardSpeed(cycles_per_tick=100.0, clock_hz=30e6, bytes_per_tick=2.5, baud=3_000_000,
                   golden_ticks_per_s=1e6, dt_ms=0.1)
    assert s.compute_ticks_per_s == pytest.approx(300_000)
    # two frame buffers: the core and the line work at once, the smaller limit sets the pace
    assert (s.ticks_per_s, s.link_bound) == (pytest.approx(120_000), True)
    assert s.realtime_x == pytest.approx(120_000 * 1e-4)
    assert s.ratio_vs_golden == pytest.approx(0.12)
    assert s.summary_line("x") == ("board: name=x ticks_per_s=1.2e+05 realtime_x=12 ratio_vs_golden=0.12 "
                                   "link_bound=yes")
    core_bound = dataclasses.replace(s, bytes_per_tick=0.5)
    assert (core_bound.ticks_per_s, core_bound.link_bound) == (pytest.approx(300_000), False)

@pytest.fixture
def small_bm(tmp_path):
    path = tmp_path / "bm.npz"
    save(path, random_bm(5, np.random.default_rng(0)))
    return path


@pytest.mark.parametrize("args,needle", [
    (["--board", "pico-ice"], "unknown board 'pico-ice'"),
    ([], "needs --board"),
    (["--board", "ulx3s-85f", "BIG"], "300 units, more than the 256 neurons"),
    (["--board", "icebreaker", "--build-report", "BAD"], "not a nextpnr report"),
    (["--board", "icebreaker", "--duration-ms", "0"], "positive number of ms"),
    (["--board", "icebreaker", "--readout", "counts"], "unknown readout 'counts'"),
    (["--board", "icebreaker", "--readout", "states"], "built without the states and stats readouts"),
    (["--board", "ulx3s-85f", "--lanes", "3"], "lanes must be a power of two"),
])
def test_bad_bench_board_arguments(tmp_path, small_bm, capsys, args, needle):
    bm = small_bm
    if "BIG" in args:
        args = [a for a in args if a != "BIG"]
        bm = tmp_path / "big.npz"
        save(bm, random_bm(300, np.random.default_rng(1)))
    args = [str(_write(tmp_path / "bad.json", "{}")) if a == "BAD" else a for a in args]
    code = main(["bench", "board", "--bm", str(bm), *args])
    err = capsys.readouterr().err
    assert code != 0 and needle in err and err.count("\n") == 1 and err.startswith("lifstp: error:"), err


def test_board_options_belong_to_bench_board(capsys):
    assert main(["bench", "link", "--board", "icebreaker"]) != 0
    assert "options of `lifstp bench board`" in capsys.readouterr().err
    assert main(["bench", "link", "--formats", "dsp18"]) != 0
    assert "options of `lifstp bench board`" in capsys.readouterr().err
