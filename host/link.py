"""The host end of the wire protocol: byte transports and the client that speaks the protocol over them.

A transport moves bytes (in-process emulator, a pipe to a simulator, a serial port); `DeviceClient`
turns commands into frames, matches replies by sequence number, turns ERROR replies into exceptions,
and runs the spike stream with credit-based flow control, so nothing is lost when the host is slow.
Every wait is bounded: a device that does not answer raises DeviceTimeout.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lifstp.golden_model.spec import Formats, ModelError

from . import protocol as P
from .errors import LifstpError

#: Seconds to wait for a reply before the device is declared unresponsive.
DEFAULT_TIMEOUT_S = 5.0
#: Spike frames the host lets the device send ahead of what it has read.
CREDIT_WINDOW = 32
#: WRITE frames the host sends before waiting for their acknowledgements.
WRITE_WINDOW = 8


class DeviceError(LifstpError):
    """The device answered a command with an ERROR frame."""

    def __init__(self, message: str, code: P.Err | None = None, detail: int = 0):
        super().__init__(message)
        self.code = code
        self.detail = detail


class DeviceTimeout(LifstpError):
    """The device did not answer within the timeout."""


class LinkError(LifstpError):
    """The byte stream from the device was corrupted (a frame lost, a CRC failed)."""


class LoopbackTransport:
    """Bytes to and from an in-process device model (anything with feed(bytes) -> bytes)."""

    def __init__(self, device):
        self.device = device
        self._rx = bytearray()

    def write(self, data: bytes) -> None:
        self._rx += self.device.feed(data)

    def read(self, timeout_s: float) -> bytes:
        if not self._rx:
            self._rx += self.device.feed(b"")
        out, self._rx = bytes(self._rx), bytearray()
        return out

    def close(self) -> None:
        pass


class SerialTransport:
    """A pyserial port or URL (serial:///dev/ttyUSB1, socket://host:port, a pseudo-terminal path)."""

    def __init__(self, url: str, baudrate: int = 115200):
        import serial

        try:
            self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, write_timeout=DEFAULT_TIMEOUT_S)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceTimeout(f"cannot open {url!r}: {exc}") from None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.port.write(data)
        except serial.SerialTimeoutException:
            raise DeviceTimeout("the device stopped accepting bytes (write timed out)") from None

    def read(self, timeout_s: float) -> bytes:
        self.port.timeout = timeout_s
        first = self.port.read(1)
        if not first:
            return b""
        return first + self.port.read(self.port.in_waiting)

    def close(self) -> None:
        self.port.close()


class PipeTransport:
    """Bytes to and from a program over its stdin/stdout (the compiled Verilator harness,
    lifstp.sim.harness); the program is started here and stopped by close()."""

    def __init__(self, program: str | Path):
        self.proc = subprocess.Popen([str(program)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.proc.stdin], [], DEFAULT_TIMEOUT_S)
            if not ready:
                raise DeviceTimeout("the program behind the pipe stopped taking bytes")
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
        """Stop the program; returns what it printed on stderr (the harness: its cycle counts)."""
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


@dataclass(frozen=True)
class DeviceInfo:
    """What IDENTIFY reports."""

    protocol_version: int
    n_neurons: int
    lanes: int
    formats: Formats
    max_payload: int


class DeviceClient:
    """Commands over a transport. Not thread-safe; one client per device."""

    def __init__(self, transport, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.transport = transport
        self.timeout_s = timeout_s
        self._splitter = P.FrameSplitter()
        self._frames: deque[P.Frame] = deque()
        self._seq = 0
        self.info: DeviceInfo | None = None
        self.link_errors = 0
        # A delimiter first: whatever partial frame the device holds (line noise at power-up, a host
        # that died mid-frame) ends here instead of spoiling our first command.
        self.transport.write(bytes([P.DELIMITER]))

    # -- frames --------------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def send(self, op: int, payload: bytes = b"") -> int:
        seq = self._next_seq()
        self.transport.write(P.encode_frame(op, seq, payload))
        return seq

    def _poll(self, deadline: float) -> None:
        """Read what the device sent, decode it into frames; raise DeviceTimeout after the deadline."""
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeout(f"no answer from the device within {self.timeout_s:g} s")
            data = self.transport.read(min(remaining, 0.2))
            for item in self._splitter.feed(data):
                if isinstance(item, P.ProtocolError):
                    self.link_errors += 1
                    raise LinkError(f"corrupted frame from the device: {item}")
                try:
                    self._frames.append(P.decode_frame(item))
                except P.ProtocolError as exc:
                    self.link_errors += 1
                    raise LinkError(f"corrupted frame from the device: {exc}") from None

    def next_frame(self, timeout_s: float | None = None) -> P.Frame:
        self._poll(time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s))
        return self._frames.popleft()

    def _raise_error(self, frame: P.Frame) -> None:
        code, op, detail = P.ERROR_PAYLOAD.unpack(frame.payload)
        try:
            name = P.Err(code).name
        except ValueError:
            name = f"code {code}"
        raise DeviceError(f"device rejected opcode 0x{op:02x}: {name} (detail {detail})",
                          P.Err(code) if code in P.Err._value2member_map_ else None, detail)

    def wait_reply(self, op: int, seq: int) -> P.Frame:
        """The reply to command (op, seq); ERROR raises DeviceError. Stray stream frames are an error."""
        while True:
            frame = self.next_frame()
            if frame.op == P.Msg.ERROR and frame.seq in (seq, 0):
                self._raise_error(frame)
            if frame.op == op | P.REPLY_BIT and frame.seq == seq:
                return frame
            if frame.op in (P.Msg.SPIKES, P.Msg.RUN_DONE):
                continue  # the end of an earlier, abandoned run
            raise LinkError(f"unexpected frame 0x{frame.op:02x} (seq {frame.seq}) while waiting for 0x{op:02x}")

    def command(self, op: P.Op, payload: bytes = b"") -> bytes:
        return self.wait_reply(op, self.send(op, payload)).payload

    # -- commands ----------------------------------------------------------------------------------
    def identify(self) -> DeviceInfo:
        payload = self.command(P.Op.IDENTIFY)
        if len(payload) != P.IDENTIFY_PAYLOAD.size:
            raise DeviceError(f"the device's IDENTIFY reply has {len(payload)} bytes, not {P.IDENTIFY_PAYLOAD.size}")
        version, n, lanes, *rest = P.IDENTIFY_PAYLOAD.unpack(payload)
        fields, max_payload = rest[:8], rest[8]
        if version != P.PROTOCOL_VERSION:
            raise DeviceError(f"the device speaks protocol version {version}, this host {P.PROTOCOL_VERSION}")
        try:
            fmt = Formats(*fields)
        except ModelError as exc:
            raise DeviceError(f"the device reports formats this host cannot use: {exc}") from None
        self.info = DeviceInfo(version, n, lanes, fmt, max_payload)
        return self.info

    def reset(self) -> None:
        self.command(P.Op.RESET)

    def _require_info(self) -> DeviceInfo:
        return self.info or self.identify()

    def write(self, space: P.Space, field: int, addr: int, values) -> None:
        """Write values to consecutive addresses, in bursts, several frames in flight."""
        info = self._require_info()
        values = np.asarray(values).reshape(-1)
        nbytes = P.wire_bytes(space, field, info.formats, info.n_neurons)
        per_frame = P.max_burst(space, field, info.formats, info.n_neurons)
        in_flight: deque[int] = deque()
        for start in range(0, len(values), per_frame):
            chunk = values[start:start + per_frame]
            payload = P.BURST_HEADER.pack(int(space), int(field), addr + start, len(chunk)) + P.pack_values(chunk, nbytes)
            in_flight.append(self.send(P.Op.WRITE, payload))
            if len(in_flight) >= WRITE_WINDOW:
                self.wait_reply(P.Op.WRITE, in_flight.popleft())
        while in_flight:
            self.wait_reply(P.Op.WRITE, in_flight.popleft())

    def read(self, space: P.Space, field: int, addr: int, count: int) -> np.ndarray:
        info = self._require_info()
        nbytes = P.wire_bytes(space, field, info.formats, info.n_neurons)
        bits, signed = P.space_value_bits(space, field, info.formats, info.n_neurons, addr)
        per_frame = P.MAX_PAYLOAD // nbytes
        out: list[np.ndarray] = []
        for start in range(0, count, per_frame):
            k = min(per_frame, count - start)
            reply = self.command(P.Op.READ, P.BURST_HEADER.pack(int(space), int(field), addr + start, k))
            if space == P.Space.REG:  # each register has its own signedness
                for j in range(k):
                    _, sg = P.space_value_bits(space, field, info.formats, info.n_neurons, addr + start + j)
                    out.append(P.unpack_values(reply[j * nbytes:(j + 1) * nbytes], nbytes, sg))
            else:
                out.append(P.unpack_values(reply, nbytes, signed))
        return np.concatenate(out)

    def status(self) -> dict[str, int]:
        values = P.unpack_values(self.command(P.Op.STATUS), P.COUNTER_BYTES, False)
        return {c.name.lower(): int(v) for c, v in zip(P.StatusCounter, values)}

    def run(self, n_ticks: int, progress=None, credit: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """Run n_ticks ticks; returns (spike ticks, spike neurons, RUN_DONE fields). progress(k) is
        called with the number of ticks newly covered as spike frames arrive.

        By default the device may send CREDIT_WINDOW frames ahead and the host returns a frame of
        credit for each frame it reads. With `credit`, the run is granted that many frames at the start
        and the host sends nothing during it (the device's timing then depends on it alone; a run
        needing more frames stalls and times out)."""
        if not 0 <= n_ticks <= P.RUN_MAX_TICKS:
            raise LifstpError(f"a run is 0 .. {P.RUN_MAX_TICKS} ticks, got {n_ticks}")
        seq = self.send(P.Op.RUN, P.RUN_PAYLOAD.pack(n_ticks, CREDIT_WINDOW if credit is None else credit))
        self.wait_reply(P.Op.RUN, seq)
        ticks: list[np.ndarray] = []
        neurons: list[np.ndarray] = []
        expected_seq = None
        start_tick, reported = None, 0
        while True:
            frame = self.next_frame()
            if frame.op == P.Msg.SPIKES:
                stream_seq, base, t_frame, n_frame = P.decode_spikes(frame.payload)
                if expected_seq is not None and stream_seq != expected_seq:
                    raise LinkError(f"spike frames lost: expected stream seq {expected_seq}, got {stream_seq}")
                expected_seq = (stream_seq + 1) & 0xFFFF
                if start_tick is None:
                    start_tick = base
                if len(t_frame):
                    ticks.append(t_frame)
                    neurons.append(n_frame)
                    if progress is not None:
                        covered = int(t_frame[-1]) - start_tick
                        if covered > reported:
                            progress(covered - reported)
                            reported = covered
                if credit is None:
                    self.send(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(1))
            elif frame.op == P.Msg.RUN_DONE:
                ran, next_tick, n_spikes, dropped, stopped = P.RUN_DONE_PAYLOAD.unpack(frame.payload)
                if progress is not None and ran > reported:
                    progress(ran - reported)
                t = np.concatenate(ticks) if ticks else np.empty(0, np.int64)
                n = np.concatenate(neurons) if neurons else np.empty(0, np.int32)
                if len(t) != n_spikes:
                    raise LinkError(f"the device sent {n_spikes} spikes but {len(t)} arrived")
                return t, n, {"ticks_run": ran, "next_tick": next_tick, "spikes": n_spikes,
                              "spikes_dropped": dropped, "stopped": bool(stopped)}
            elif frame.op == P.Msg.ERROR:
                self._raise_error(frame)
            else:
                raise LinkError(f"unexpected frame 0x{frame.op:02x} during a run")
