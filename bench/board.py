"""`lifstp bench board`: how fast a board runs a network, from measurements only.

- cycles per tick: the board's own design (its N, lanes, formats, multipliers and weight memory, as
  its top level builds it) runs the network in Verilator, its byte output always taken; the harness
  counts the busy cycles of the run (bench/board_rtl.py), and `rtl/engine/cycles.py` says what the
  RTL's cycle count predicts for the same spikes and frames;
- the clock: the board's design clock, and what nextpnr's report of its build achieves there
  (bench/board_clock.py);
- the link: the readout's bytes per tick (the encoded frames the run produced) against the board's
  UART (bench/board_speed.py);
- the golden model: the same network, the same ticks, in the same process, on one core;
- and, as a check of the estimate, the same run through the board's UART bridge with the serial lines
  simulated at the board's divisor: what the whole path does, as the board would.

The network is a Boltzmann machine mapped onto the core as `lifstp sample` maps it (the calibration
on the golden model with the core's formats, renewing synapses). The last line is
`board: name=... ticks_per_s=... realtime_x=... ratio_vs_golden=... link_bound=yes|no`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from lifstp import bm as bm_mod
from lifstp import protocol as P
from lifstp.boards.uart import BITS_PER_BYTE
from lifstp.device import GoldenDevice
from lifstp.analysis import sample_states
from lifstp.errors import InputError, LifstpError
from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import preset_name, quantise, quantise_potentials, quantise_weights
from lifstp.mapping import map_bm
from lifstp.network import Network
from lifstp.rtl.engine.cycles import run_cycles
from lifstp.sampling import calibration_for, sample_ticks, sampling_params

from .board_clock import BoardClock, board_clock
from .board_rtl import MAX_CREDIT, RtlRun, frames_needed, run_on_board_rtl
from .board_speed import BoardSpeed

#: The readouts the benchmark knows: what the board sends the host per tick.
READOUTS = ("spikes", "states", "stats")
#: Seconds of timed golden-model runs, at least (the best run counts).
GOLDEN_MIN_S = 1.0


def golden_ticks_per_s(network: Network, n_ticks: int, seed: int, formats) -> tuple[float, np.ndarray, np.ndarray]:
    """The golden model on `network` (quantised as the device loads it) for n_ticks ticks on one core:
    (best ticks/s over runs of at least GOLDEN_MIN_S in all, compilation excluded; spike ticks;
    spike neurons)."""
    fixed = quantise(network.params, formats)
    weights, _ = quantise_weights(network.weights_pa, network.params, formats)
    core = GoldenCore(fixed, quantise_potentials(network.e_l_mv, formats), weights, network.clamp, seed)
    core.run(1)  # compile
    best, spent = 0.0, 0.0
    while spent < GOLDEN_MIN_S or best == 0.0:
        core.reset(seed)
        t0 = time.perf_counter()
        ticks, neurons = core.run(n_ticks)
        wall = time.perf_counter() - t0
        spent += wall
        best = max(best, n_ticks / wall)
    return best, ticks, neurons


def _same_spikes(run: RtlRun, ticks: np.ndarray, neurons: np.ndarray) -> bool:
    return np.array_equal(run.spike_tick, ticks) and np.array_equal(run.spike_neuron, neurons)


def _core_text(cfg, weight_bank) -> str:
    lanes = "one shared multiplier per lane" if cfg.shared_multiplier else "full-throughput lanes"
    memory = "SPRAM" if weight_bank is not None else "block RAM"
    formats = preset_name(cfg.formats) or "custom"
    return f"N = {cfg.n_neurons}, L = {cfg.lanes}, {lanes}, {formats} formats, weights in {memory}"


def run_board_bench(board_name: str, bm_path: str | Path, report: str | Path | None = None, build: bool = False,
                    duration_ms: float = 1000.0, readout: str = "spikes", seed: int = 1, out=sys.stdout,
                    lanes: int | None = None, formats: str | None = None) -> int:
    """Measure board `board_name` (with `lanes` and `formats` in place of its core's, when given) on the
    machine in `bm_path` and print the table and the last line. InputError or
    lifstp.boards.build.BuildError for bad input (see the module docstring)."""
    import dataclasses

    from lifstp.boards.top import board
    from lifstp.sim.harness import board_binary, board_bridge

    try:
        b = board(board_name)
        b = dataclasses.replace(b, default_lanes=lanes or b.default_lanes,
                                default_formats=formats or b.default_formats)
        b.config()  # a core the board cannot have is refused here
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if readout not in READOUTS:
        raise InputError(f"unknown readout {readout!r}; known: {', '.join(READOUTS)}")
    device = board_bridge(b).device
    cfg = device.cfg
    if readout != "spikes" and not cfg.states_readout:
        raise InputError(f"{b.name}'s core is built without the states and stats readouts; use --readout spikes")
    machine = bm_mod.load(bm_path)
    if machine.n > cfg.n_neurons:
        raise InputError(f"{bm_path}: {machine.n} units, more than the {cfg.n_neurons} neurons of {b.name}'s core")
    params = sampling_params()
    n_ticks = sample_ticks(duration_ms, params.dt_ms)

    def log(message: str) -> None:
        print(f"  ({message})", file=out, flush=True)

    clock = board_clock(b, cfg, report, build, log=log)
    net = map_bm(machine, params, calibration_for(GoldenDevice(cfg.formats), params))
    golden, ticks, neurons = golden_ticks_per_s(net, n_ticks, seed, cfg.formats)
    if frames_needed(len(ticks), n_ticks) > MAX_CREDIT:
        raise InputError(f"--duration-ms {duration_ms:g}: {len(ticks)} spikes need more SPIKES frames than one "
                         f"run can be granted ({MAX_CREDIT}); give a shorter duration")
    states = None
    stats = readout == "stats"
    if readout != "spikes":  # states: every unit of the machine, stats: the first 64, every tau_ref ticks
        tau_ref = int(quantise(net.params, cfg.formats).tau_ref_ticks)
        units = min(machine.n, P.STATS_UNITS_MAX) if stats else machine.n
        states = (0, units, tau_ref)
        expected = sample_states(ticks, neurons, machine.n, n_ticks, tau_ref, tau_ref, 0)[:, :units]
        if stats:
            z = expected.astype(np.int64)
            expected_counts = (len(z), z.T @ z)
    piped = run_on_board_rtl(board_binary(b, log=log), net, n_ticks, seed, states=states, stats=stats)
    uart = run_on_board_rtl(board_binary(b, serial=True, log=log), net, n_ticks, seed, serial=True, states=states,
                            stats=stats)
    for run in (piped, uart):
        if stats:
            if run.stats[0] != expected_counts[0] or not np.array_equal(run.stats[1], expected_counts[1]):
                raise LifstpError(f"the {b.name} design in Verilator counted other statistics than the golden "
                                  f"model's spikes give; its timing would not mean anything")
        elif states is not None:
            if not np.array_equal(run.states, expected):
                raise LifstpError(f"the {b.name} design in Verilator gave other states than the golden model's "
                                  f"spikes give; its timing would not mean anything")
        elif not _same_spikes(run, ticks, neurons):
            raise LifstpError(f"the {b.name} design in Verilator gave other spikes than the golden model "
                             f"({len(run.spike_tick)} against {len(ticks)}); its timing would not mean anything")
    speed = BoardSpeed(piped.cycles_per_tick, clock.hz, piped.bytes_per_tick, clock.baud, golden, params.dt_ms)
    _print_table(b, cfg, device.weight_bank, machine, bm_path, n_ticks, params.dt_ms, seed, clock, piped, uart,
                 speed, out, states)
    print(speed.summary_line(b.name), file=out)
    return 0


def _print_table(b, cfg, weight_bank, machine, bm_path, n_ticks, dt_ms, seed, clock: BoardClock, piped: RtlRun,
                 uart: RtlRun, speed: BoardSpeed, out, states=None) -> None:
    if states is None:
        lo, hi = run_cycles(cfg, n_ticks, piped.sent, machine.n)  # load_network sets n_active = n
        model = f" (rtl/engine/cycles.py: {lo}..{hi}{'' if lo <= piped.busy_cycles <= hi else ', which DISAGREES'})"
    else:
        model = ""  # cycles.py models the spike stream's timeline only
    uart_tps = n_ticks / (uart.busy_cycles / clock.hz)
    mbaud = f"{clock.baud / 1e6:g} Mbaud"
    verdict = "link-bound" if speed.link_bound else "core-bound"
    readout = ("spikes per tick", f"{len(piped.spike_tick) / n_ticks:.4f}",
               f"{len(piped.spike_tick)} spikes in Verilator, equal to the golden model's")
    if states is not None:
        first, units, every = states
        what = "counted" if piped.stats else "sent"
        n_samples = piped.stats[0] if piped.stats else len(piped.states)
        readout = (f"samples {what}", f"{n_samples}",
                   f"states of units {first}..{first + units - 1} every {every} ticks in Verilator, "
                   + ("their on and co-activation counts equal" if piped.stats else "equal to")
                   + " those of the golden model's spikes")
    rows = [
        readout,
        ("cycles per tick", f"{speed.cycles_per_tick:.2f}",
         f"Verilator: {piped.busy_cycles} busy cycles / {n_ticks} ticks{model}"),
        ("clock", f"{clock.hz / 1e6:g} MHz",
         f"{b.name}'s design clock; its build reaches {clock.fmax_hz / 1e6:.2f} MHz ({clock.report})"),
        ("core limit", f"{speed.compute_ticks_per_s:,.0f} ticks/s", "clock / cycles per tick"),
        ("bytes per tick", f"{speed.bytes_per_tick:.4f}",
         f"{len(piped.sent)} bytes of encoded frames (COBS, CRC, delimiters) / {n_ticks} ticks"),
        ("link limit", f"{speed.link_ticks_per_s:,.0f} ticks/s", f"{mbaud} / {BITS_PER_BYTE} bits per byte / bytes per tick"),
        ("board", f"{speed.ticks_per_s:,.0f} ticks/s",
         f"the smaller limit: one frame buffer is filled while the other is sent; {verdict}"),
        ("real time", f"{speed.realtime_x:.3g}x", f"ticks/s x dt ({dt_ms:g} ms)"),
        ("golden model", f"{speed.golden_ticks_per_s:,.0f} ticks/s", "the same network and ticks, one core"),
        ("ratio vs golden", f"{speed.ratio_vs_golden:.3g}", "board / golden"),
        ("through the UART", f"{uart_tps:,.0f} ticks/s",
         f"Verilator, {b.name}'s UART bridge at {mbaud}: {uart.busy_cycles} busy cycles / {n_ticks} ticks "
         f"({uart_tps / speed.ticks_per_s:.2f}x the board figure)"),
    ]
    config = "recorded" if clock.config else "not recorded (no build.json): assumed the default core"
    print(f"{b.name}: {_core_text(cfg, weight_bank)}; {machine.n}-unit machine {bm_path}, {n_ticks} ticks "
          f"({n_ticks * dt_ms:g} ms), seed {seed}; build configuration {config}", file=out)
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    for name, value, source in rows:
        print(f"  {name:<{width}}  {value:>{vwidth}}  {source}", file=out)
