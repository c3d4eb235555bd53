"""The host end of the wire protocol: byte transports and the client that speaks the protocol over them.

A transport moves bytes (in-process emulator, a pipe to a simulator, a serial port); `DeviceClient`
turns commands into frames, matches replies by sequence number, turns ERROR replies into exceptions,
and runs the spike stream (or the state stream, docs/protocol.md "The state stream") with credit-based
flow control, so nothing is lost when the host is slow.
Every wait is bounded: a device that does not answer raises DeviceTimeout. Faults on the wire are
detected and counted (`LinkStats`); commands that may be repeated are sent again when their reply does
not come intact, and a run's stream reports what it lost (docs/protocol.md, "Faults on the wire").
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections import deque
from dataclasses import asdict, dataclass, field
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
#: Times a command is sent again when no intact reply comes (so at most MAX_RETRIES + 1 times).
MAX_RETRIES = 16
#: A burst sent again is halved first while its frame (WRITE) or its reply (READ) is longer than this:
#: on a noisy line a short frame gets through more often.
SPLIT_MIN_BYTES = 32
#: Quiet periods of a run (retry_after_s each, no spike frame, the device's tick unmoved) before the
#: host gives the run's stream up.
STALL_PERIODS = 3
#: Where a SPIKES payload's tick base starts: the payload from there on is the same bytes whenever a
#: segment is run again from the same state (only the stream seq before it may differ).
_SPIKES_BODY = P.struct_fields(P.SPIKES_HEADER)[1][0]
#: The same for a STATES payload (its tick of the first sample on).
_STATES_BODY = P.struct_fields(P.STATES_HEADER)[1][0]


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

    def idle(self) -> bool:
        """Nothing will come before the host writes again: no bytes waiting, and the device says it has
        nothing to do (GoldenEmulator.waiting: no run, or a run stalled for credit). A host need not
        wait out a timeout for a reply that was lost."""
        return not self._rx and bool(getattr(self.device, "waiting", False))

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
    readouts: P.Readout = P.Readout.SPIKES  #: what the device can send during a run

    def readout_names(self) -> str:
        """The readouts in words ("spikes, states")."""
        return ", ".join(r.name.lower() for r in P.Readout if r in self.readouts) or "none"


@dataclass
class LinkStats:
    """What the host noticed on the wire and did about it; all zero on a clean link. RUN.npz keeps each
    as `link_<name>` (docs/protocol.md, "Faults on the wire")."""

    frames_corrupted: int = 0  #: frames from the device that failed a check (COBS, CRC, length, content)
    frames_rejected: int = 0  #: host frames the device reported damaged (ERROR BAD_CRC, BAD_FRAMING, TOO_LONG)
    frames_lost: int = 0  #: spike (or state) frames missing from a run's stream, and RUN_DONEs that never came
    frames_repeated: int = 0  #: spike frames that came twice, replies to a frame already answered or sent again
    retries: int = 0  #: command frames sent again for want of an intact reply
    credit_regrants: int = 0  #: spike-frame credit granted again because a run's stream stalled
    reruns: int = 0  #: run segments repeated from their saved state (lifstp.segments)

    def as_dict(self) -> dict[str, int]:
        """The counts by name (RUN.npz keeps them as link_<name>)."""
        return asdict(self)

    def summary(self) -> str:
        """The nonzero counts, in one line ("" on a clean link)."""
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in asdict(self).items() if v)


@dataclass(frozen=True)
class RunDone:
    """The fields of a RUN_DONE frame."""

    ticks_run: int
    next_tick: int
    spikes: int
    spikes_dropped: int
    stopped: bool

    def as_dict(self) -> dict:
        """The fields by name, as DeviceClient.run returns them."""
        return asdict(self)


@dataclass(frozen=True)
class SpikeFrame:
    """One SPIKES frame as it arrived: its payload after the stream seq (tick base and records, the same
    bytes whenever the same segment is run from the same state) and its spikes."""

    body: bytes
    ticks: np.ndarray
    neurons: np.ndarray


@dataclass(frozen=True)
class StatesFrame:
    """One STATES frame as it arrived: its payload after the stream seq (as SpikeFrame.body), the ticks
    of its samples and the samples (samples x units uint8)."""

    body: bytes
    ticks: np.ndarray
    states: np.ndarray


@dataclass
class RunStream:
    """What one RUN delivered: the intact spike (or state) frames by position in the stream (0: the
    run's first frame) and its RUN_DONE, if that arrived. In the states readout `units` is the number of
    states per sample, and RUN_DONE's count and `spikes_arrived` count samples. In the stats readout
    (`counted`) no frames come but RUN_DONE, whose count is the samples the device counted."""

    n_ticks: int
    frames: dict[int, SpikeFrame | StatesFrame] = field(default_factory=dict)
    done: RunDone | None = None
    units: int = 0
    counted: bool = False

    @property
    def what(self) -> str:
        """What the stream carries, in words: "spike" or "state" (frames), "spikes" or "samples"."""
        return ("state", "samples") if self.units else ("spike", "spikes")

    @property
    def spikes_arrived(self) -> int:
        """Spikes (in the states readout: samples) in the frames that arrived."""
        return sum(len(f.ticks) for f in self.frames.values())

    @property
    def complete(self) -> bool:
        """Every spike (or sample) arrived: RUN_DONE came and counts as many as the frames hold (in the
        stats readout: RUN_DONE came)."""
        return self.done is not None and (self.counted or self.done.spikes == self.spikes_arrived)

    def gaps(self) -> list[int]:
        """Stream positions missing before the last frame that arrived."""
        return [k for k in range(max(self.frames, default=-1) + 1) if k not in self.frames]

    @property
    def frames_lost(self) -> int:
        """Frames known to be missing: the gaps, a missing tail (spikes short of RUN_DONE's count with no
        gap to explain it), a missing RUN_DONE. A lower bound: a lost tail may be several frames."""
        gaps = len(self.gaps())
        if self.done is None:
            return gaps + 1
        return gaps + (not gaps and not self.counted and self.spikes_arrived < self.done.spikes)

    def loss(self) -> str:
        """What is missing, in words."""
        said = []
        if gaps := self.gaps():
            said.append(f"{len(gaps)} {self.what[0]} frame(s) lost (stream positions {_spans(gaps)})")
        if self.done is None:
            said.append("its RUN_DONE never arrived")
        elif self.done.spikes != self.spikes_arrived and not self.counted:
            said.append(f"the device sent {self.done.spikes} {self.what[1]} but {self.spikes_arrived} arrived")
        return "; ".join(said) or "nothing"

    def spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(ticks int64, neurons int32) of the frames that arrived, in stream order."""
        order = sorted(self.frames)
        if not order:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        return (np.concatenate([self.frames[k].ticks for k in order]).astype(np.int64, copy=False),
                np.concatenate([self.frames[k].neurons for k in order]).astype(np.int32, copy=False))

    def states(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample ticks int64, samples x units uint8) of the state frames that arrived, in stream order."""
        order = sorted(self.frames)
        if not order:
            return np.empty(0, np.int64), np.empty((0, self.units), np.uint8)
        return (np.concatenate([self.frames[k].ticks for k in order]).astype(np.int64, copy=False),
                np.concatenate([self.frames[k].states for k in order]))


def _spans(positions: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    spans, start = [], positions[0]
    for a, b in zip(positions, positions[1:] + [None]):
        if b != a + 1:
            spans.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ", ".join(spans)


@dataclass
class _Job:
    """A command to be answered: `key` orders the replies (a burst's first address)."""

    key: int
    op: P.Op
    payload: bytes
    reply_len: int | None = None  #: the reply payload's length, if known: a reply of another is damaged
    tries: int = 0  #: transmissions without an intact reply
    complaint: DeviceError | None = None  #: raised instead of LinkError if the last try was answered wrongly


class DeviceClient:
    """Commands over a transport. Not thread-safe; one client per device.

    Every wait is bounded. A command whose reply does not come intact within `retry_after_s` (by default
    timeout_s / (retries + 1), so a device that never answers is given up after timeout_s) is sent again,
    up to `retries` times; only commands that may be repeated are (docs/protocol.md, "Faults on the
    wire"). `stats` counts what was noticed and done.
    """

    def __init__(self, transport, timeout_s: float = DEFAULT_TIMEOUT_S, retries: int = MAX_RETRIES,
                 retry_after_s: float | None = None):
        self.transport = transport
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_after_s = retry_after_s if retry_after_s is not None else timeout_s / (retries + 1)
        self._splitter = P.FrameSplitter()
        self._frames: deque[P.Frame] = deque()
        self._seq = 0
        self._received = 0  # bytes from the device, ever: tells a silent device from a noisy link
        self._unawaited: set[int] = set()  # seqs of frames sent whose replies nobody waits for (probes)
        self.info: DeviceInfo | None = None
        self.stats = LinkStats()
        # A delimiter first: whatever partial frame the device holds (line noise at power-up, a host
        # that died mid-frame) ends here instead of spoiling our first command.
        self.transport.write(bytes([P.DELIMITER]))

    # -- frames --------------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        # Never 0: the device reports a damaged frame with seq 0, so 0 would make its ERROR ambiguous.
        self._seq = self._seq % 255 + 1
        return self._seq

    def send(self, op: int, payload: bytes = b"") -> int:
        """Send one frame; returns its seq."""
        seq = self._next_seq()
        self._unawaited.discard(seq)
        self.transport.write(P.encode_frame(op, seq, payload))
        return seq

    def _read_frame(self, deadline: float) -> P.Frame | None:
        """The next intact frame from the device, or None at the deadline; damaged ones are counted."""
        while not self._frames:
            remaining = deadline - time.monotonic()
            # One read even past the deadline: what arrived while the host was busy still counts.
            data = self.transport.read(min(max(remaining, 0.0), 0.2))
            self._received += len(data)
            for item in self._splitter.feed(data):
                try:
                    if isinstance(item, P.ProtocolError):
                        raise item
                    self._frames.append(P.decode_frame(item))
                except P.ProtocolError:
                    self.stats.frames_corrupted += 1
            if not self._frames and (remaining <= 0 or (not data and self._idle())):
                return None  # the deadline, or nothing more is coming (as good as the deadline)
        return self._frames.popleft()

    def _idle(self) -> bool:
        idle = getattr(self.transport, "idle", None)
        return bool(idle and idle())

    def next_frame(self, timeout_s: float | None = None) -> P.Frame:
        """The next intact frame; DeviceTimeout if none comes in time."""
        wait = self.timeout_s if timeout_s is None else timeout_s
        frame = self._read_frame(time.monotonic() + wait)
        if frame is None:
            raise DeviceTimeout(f"no answer from the device within {wait:g} s")
        return frame

    @staticmethod
    def _device_error(frame: P.Frame) -> DeviceError:
        code, op, detail = P.ERROR_PAYLOAD.unpack(frame.payload)
        try:
            name = P.Err(code).name
        except ValueError:
            name = f"code {code}"
        return DeviceError(f"device rejected opcode 0x{op:02x}: {name} (detail {detail})",
                           P.Err(code) if code in P.Err._value2member_map_ else None, detail)

    def _raise_error(self, frame: P.Frame) -> None:
        raise self._device_error(frame)

    def _error_code(self, frame: P.Frame) -> int | None:
        """The code of an ERROR frame; None (and counted as corrupted) if its payload is malformed."""
        if len(frame.payload) != P.ERROR_PAYLOAD.size:
            self.stats.frames_corrupted += 1
            return None
        return P.ERROR_PAYLOAD.unpack(frame.payload)[0]

    def wait_reply(self, op: int, seq: int) -> P.Frame:
        """The reply to a command sent with send(), without retries: ERROR raises DeviceError, no reply
        within timeout_s DeviceTimeout; other frames (reports of damaged frames, the end of an earlier
        run) are passed over."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            frame = self._read_frame(deadline)
            if frame is None:
                raise DeviceTimeout(f"no answer from the device within {self.timeout_s:g} s")
            if frame.op == P.Msg.ERROR and frame.seq == seq and self._error_code(frame) is not None:
                self._raise_error(frame)
            if frame.op == op | P.REPLY_BIT and frame.seq == seq:
                return frame

    def command(self, op: P.Op, payload: bytes = b"", reply_len: int | None = None) -> bytes:
        """Send a command and return its reply's payload, sent again while no intact reply comes (one of
        `reply_len` bytes, if given). For commands that may be repeated: all but RUN, CREDIT and STOP."""
        return self._transact([_Job(0, op, payload, reply_len)])[0][0]

    def _transact(self, jobs: list[_Job], window: int = 1, split=None) -> dict[int, tuple[bytes, _Job]]:
        """Replies to `jobs` (key -> (payload, job)), with up to `window` frames in flight.

        The device answers every frame it can decode, in order, so a reply also tells that every frame
        sent before it and still unanswered is lost (or its reply is): those are sent again at once.
        Frames still unanswered after retry_after_s of silence are sent again too; split(job), if given,
        may cut a job in smaller ones first.
        """
        queue = deque(jobs)
        flight: dict[int, _Job] = {}  # seq -> job, in the order sent
        replies: dict[int, tuple[bytes, _Job]] = {}
        heard = self._received
        since = time.monotonic()
        while queue or flight:
            while queue and len(flight) < window:
                job = queue.popleft()
                flight[self.send(job.op, job.payload)] = job
                since = time.monotonic()  # after the send: a simulated device may answer inside it
            frame = self._read_frame(since + self.retry_after_s)
            if frame is None:  # silence: whatever is in flight is lost
                for job in flight.values():
                    self._again(job, queue, split, heard)
                flight.clear()
            elif frame.seq in flight and frame.op == flight[frame.seq].op | P.REPLY_BIT:
                job = self._answered(flight, frame.seq, queue, split, heard)
                since = time.monotonic()
                if job.reply_len is None or len(frame.payload) == job.reply_len:
                    replies[job.key] = (frame.payload, job)
                    continue
                self.stats.frames_corrupted += 1
                job.complaint = DeviceError(f"the device's {P.Op(job.op).name} reply has {len(frame.payload)} bytes, "
                                            f"not {job.reply_len}")
                self._again(job, queue, split, heard)
            elif frame.op == P.Msg.ERROR:
                code = self._error_code(frame)
                if code == P.Err.BAD_LENGTH and frame.seq in flight:
                    # The host sends every command at its length, so the frame grew on the wire: a zero
                    # byte appended behind the CRC (COBS code 0x01 before the delimiter) keeps the CRC
                    # valid, since this CRC has no final XOR.
                    self.stats.frames_rejected += 1
                    job = self._answered(flight, frame.seq, queue, split, heard)
                    job.complaint = self._device_error(frame)
                    self._again(job, queue, split, heard)
                    since = time.monotonic()
                    continue
                if code is not None and frame.seq in flight:
                    self._raise_error(frame)
                if code in P.DAMAGED:
                    self.stats.frames_rejected += 1
            elif frame.op & P.REPLY_BIT and frame.seq not in self._unawaited:
                self.stats.frames_repeated += 1
            # SPIKES and RUN_DONE here are the end of an earlier, abandoned run.
        return replies

    def _answered(self, flight: dict[int, _Job], seq: int, queue: deque, split, heard: int) -> _Job:
        """The job of frame `seq`, out of flight; the jobs sent before it still unanswered are queued
        again, since the device answers in order."""
        for earlier in list(flight):
            if earlier == seq:
                break
            self._again(flight.pop(earlier), queue, split, heard)
        return flight.pop(seq)

    def _again(self, job: _Job, queue: deque, split, heard: int) -> None:
        """Queue a job whose frame or reply was lost, split if it may be; give up after `retries`."""
        job.tries += 1
        if job.tries > self.retries:
            if job.complaint is not None:
                raise job.complaint
            if self._received == heard:
                raise DeviceTimeout(f"no answer from the device within {self.timeout_s:g} s")
            raise LinkError(f"no intact reply to {P.Op(job.op).name} after {job.tries} attempts: the link lost "
                            f"or damaged every one ({self.stats.summary()})")
        self.stats.retries += 1
        queue.extendleft(reversed((split(job) if split else None) or [job]))

    # -- commands ----------------------------------------------------------------------------------
    def identify(self) -> DeviceInfo:
        """Ask IDENTIFY and keep the answer in `info`; DeviceError for a device this host cannot use."""
        payload = self.command(P.Op.IDENTIFY, reply_len=P.IDENTIFY_PAYLOAD.size)
        version, n, lanes, *rest = P.IDENTIFY_PAYLOAD.unpack(payload)
        fields, max_payload, readouts = rest[:8], rest[8], rest[9]
        if version != P.PROTOCOL_VERSION:
            raise DeviceError(f"the device speaks protocol version {version}, this host {P.PROTOCOL_VERSION}")
        try:
            fmt = Formats(*fields)
        except ModelError as exc:
            raise DeviceError(f"the device reports formats this host cannot use: {exc}") from None
        self.info = DeviceInfo(version, n, lanes, fmt, max_payload, P.Readout(readouts & sum(P.Readout)))
        return self.info

    def reset(self) -> None:
        """RESET: tick, status counters and stream seq to 0 (refused with BUSY during a run)."""
        self.command(P.Op.RESET, reply_len=0)

    def _require_info(self) -> DeviceInfo:
        return self.info or self.identify()

    def write(self, space: P.Space, field: int, addr: int, values) -> None:
        """Write values to consecutive addresses, in bursts, WRITE_WINDOW frames in flight. The device
        checks a whole frame before writing any of it, so a burst that is sent again (halved first
        while it is long) never leaves a partial write behind."""
        info = self._require_info()
        values = np.asarray(values).reshape(-1)
        nbytes = P.wire_bytes(space, field, info.formats, info.n_neurons)
        per_frame = P.max_burst(space, field, info.formats, info.n_neurons)
        jobs = [_Job(addr + start, P.Op.WRITE, P.BURST_HEADER.pack(int(space), int(field), addr + start, len(chunk))
                     + P.pack_values(chunk, nbytes), reply_len=0)
                for start in range(0, len(values), per_frame) for chunk in [values[start:start + per_frame]]]
        self._transact(jobs, WRITE_WINDOW, split=lambda job: _halve(job, nbytes, writing=True))

    def read(self, space: P.Space, field: int, addr: int, count: int) -> np.ndarray:
        """Read `count` values from consecutive addresses, a burst at a time (halved when sent again)."""
        info = self._require_info()
        nbytes = P.wire_bytes(space, field, info.formats, info.n_neurons)
        per_frame = P.MAX_PAYLOAD // nbytes
        jobs = [_Job(addr + start, P.Op.READ, P.BURST_HEADER.pack(int(space), int(field), addr + start, k), k * nbytes)
                for start in range(0, count, per_frame) for k in [min(per_frame, count - start)]]
        replies = self._transact(jobs, split=lambda job: _halve(job, nbytes, writing=False))
        raw = b"".join(replies[key][0] for key in sorted(replies))
        if space == P.Space.REG:  # each register has its own signedness
            return np.concatenate([
                P.unpack_values(raw[j * nbytes:(j + 1) * nbytes], nbytes,
                                P.space_value_bits(space, field, info.formats, info.n_neurons, addr + j)[1])
                for j in range(count)]) if count else np.empty(0, np.int64)
        _, signed = P.space_value_bits(space, field, info.formats, info.n_neurons, addr)
        return P.unpack_values(raw, nbytes, signed)

    def status(self) -> dict[str, int]:
        """The status counters by lower-case name."""
        payload = self.command(P.Op.STATUS, reply_len=len(P.StatusCounter) * P.COUNTER_BYTES)
        values = P.unpack_values(payload, P.COUNTER_BYTES, False)
        return {c.name.lower(): int(v) for c, v in zip(P.StatusCounter, values)}

    # -- runs --------------------------------------------------------------------------------------
    def run(self, n_ticks: int, progress=None, credit: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """Run n_ticks ticks; returns (spike ticks, spike neurons, RUN_DONE fields). progress(k) is
        called with the number of ticks newly covered as spike frames arrive. A spike frame or RUN_DONE
        lost on the way raises LinkError naming what is missing (lifstp.segments runs again instead).

        By default the device may send CREDIT_WINDOW frames ahead and the host returns a frame of
        credit for each frame it reads. With `credit`, the run is granted that many frames at the start
        and the host sends nothing during it (the device's timing then depends on it alone; a run
        needing more frames stalls and is given up)."""
        stream = self.stream_run(n_ticks, on_tick=_increments(progress), credit=credit)
        if not stream.complete:
            raise LinkError(f"spikes of the run were lost on the link: {stream.loss()}")
        ticks, neurons = stream.spikes()
        return ticks, neurons, stream.done.as_dict()

    def stream_run(self, n_ticks: int, start_tick: int | None = None, first_seq: int | None = None,
                   on_tick=None, credit: int | None = None, units: int = 0, every: int = 1,
                   first_sample: int | None = None, counted: bool = False) -> RunStream:
        """Send RUN and collect what arrives: whatever is lost is missing from the RunStream, not raised.

        start_tick, the device's tick before the run, if known: frames outside the run's ticks are
        rejected (damaged, or left over from an earlier run), and frames count even before the RUN's
        reply (which may be lost). first_seq, the stream seq of the run's first frame, if known (0
        after RESET): positions count from it; otherwise from the first frame that arrives.
        on_tick(k): the first k ticks of the run are covered. credit: as in run (then no credit is
        returned or granted again during the run).

        units > 0: the run is in the states readout (the device's sample_* registers written before):
        STATES frames of `units` states per sample, `every` ticks apart, are collected instead of
        SPIKES. first_sample, the device tick of the run's first sample, if known: a frame whose
        samples are not on that grid (first_sample + j * every) is rejected as damaged, as is one
        whose samples lie outside the run's ticks. counted: the run is in the stats readout
        (sample_stats = 1 as well): the device counts its samples and sends no SPIKES or STATES frame;
        one arriving during the run is a LinkError. RUN_DONE's count is the samples counted.

        Credit is returned for every frame the device sent, as the stream seq tells (lost ones
        included). When the stream goes quiet for retry_after_s the host asks STATUS; if the device's
        tick has not moved since it last asked (or since the start), it grants a window of credit again
        (a CREDIT may have been lost; granting too much only lets the device run further ahead). After
        STALL_PERIODS quiet periods in which the tick has not moved, the run is given up (the device may
        still be running: see stop_and_reset).
        """
        if not 0 <= n_ticks <= P.RUN_MAX_TICKS:
            raise LifstpError(f"a run is 0 .. {P.RUN_MAX_TICKS} ticks, got {n_ticks}")
        n_dev = self.info.n_neurons if self.info else P.SPIKE_SKIP
        run_seq = self.send(P.Op.RUN, P.RUN_PAYLOAD.pack(n_ticks, CREDIT_WINDOW if credit is None else credit))
        stream = RunStream(n_ticks, units=units, counted=counted)
        data_op = P.Msg.STATES if units else P.Msg.SPIKES
        started = start_tick is not None
        last = None if first_seq is None else ((first_seq - 1) & 0xFFFF, -1)  # (seq, position) of the furthest frame
        origin = start_tick
        probe, device_tick, quiet = None, start_tick, 0
        deadline = time.monotonic() + self.retry_after_s
        while True:
            frame = self._read_frame(deadline)
            if frame is None:
                quiet += 1
                if quiet > STALL_PERIODS:
                    break
                probe = self.send(P.Op.STATUS)
                self._unawaited.add(probe)
                deadline = time.monotonic() + self.retry_after_s
            elif counted and frame.op in (P.Msg.SPIKES, P.Msg.STATES):
                if started:
                    raise LinkError(f"a {P.Msg(frame.op).name} frame arrived during a run in the stats readout, "
                                    "which sends none: the device ignored sample_stats")
            elif frame.op == data_op:
                if not started:
                    continue  # the end of an earlier, abandoned run
                try:
                    if units:
                        seq, base, states = P.decode_states(frame.payload, units)
                        ticks = base + every * np.arange(len(states), dtype=np.int64)
                        body, record = frame.payload[_STATES_BODY:], (states,)
                        bad = first_sample is not None and (base < first_sample or (base - first_sample) % every)
                    else:
                        seq, base, ticks, neurons = P.decode_spikes(frame.payload)
                        body, record = frame.payload[_SPIKES_BODY:], (neurons,)
                        bad = bool(len(neurons) and neurons.max() >= n_dev)
                except P.ProtocolError:
                    self.stats.frames_corrupted += 1
                    continue
                if bad or (start_tick is not None and (
                        base < start_tick or (len(ticks) and ticks[-1] >= start_tick + n_ticks))):
                    self.stats.frames_corrupted += 1
                    continue
                if last is None:
                    last = ((seq - 1) & 0xFFFF, -1)
                d = (seq - last[0]) & 0xFFFF
                pos = last[1] + d if d < 0x8000 else last[1] - (0x10000 - d)
                if pos in stream.frames or pos < 0:
                    self.stats.frames_repeated += 1
                    if pos in stream.frames and stream.frames[pos].body != body:
                        raise LinkError(f"two different {stream.what[0]} frames at stream position {pos}: a damaged "
                                        "frame passed its CRC check")
                    continue
                stream.frames[pos] = (StatesFrame if units else SpikeFrame)(body, ticks, *record)
                if pos > last[1]:
                    # One credit back per frame the device sent: this one and any lost before it.
                    if credit is None:
                        self.send(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(min(pos - last[1], 0xFFFF)))
                    last = (seq, pos)
                if origin is None:
                    origin = base
                if on_tick is not None and len(ticks):
                    on_tick(int(ticks[-1]) - origin)
                quiet, deadline = 0, time.monotonic() + self.retry_after_s
            elif frame.op == P.Msg.RUN_DONE:
                if not started:
                    continue
                if len(frame.payload) != P.RUN_DONE_PAYLOAD.size:
                    self.stats.frames_corrupted += 1
                    continue
                ran, next_tick, spikes, dropped, stopped = P.RUN_DONE_PAYLOAD.unpack(frame.payload)
                done = RunDone(ran, next_tick, spikes, dropped, bool(stopped))
                if start_tick is not None and done.next_tick != start_tick + done.ticks_run:
                    continue  # an earlier run's
                stream.done = done
                if on_tick is not None:
                    on_tick(done.ticks_run)
                break
            elif frame.op == P.Op.RUN | P.REPLY_BIT and frame.seq == run_seq:
                started = True
            elif frame.op == P.Op.STATUS | P.REPLY_BIT and frame.seq == probe:
                if len(frame.payload) == len(P.StatusCounter) * P.COUNTER_BYTES:
                    tick = int(P.unpack_values(frame.payload, P.COUNTER_BYTES, False)[P.StatusCounter.TICKS])
                    if tick != device_tick:
                        quiet, device_tick = 0, tick  # only slow
                    elif credit is None:  # stalled, most likely for credit lost on the way: a window again
                        self.send(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(CREDIT_WINDOW))
                        self.stats.credit_regrants += 1
            elif frame.op == P.Msg.ERROR:
                code = self._error_code(frame)
                if code == P.Err.BAD_LENGTH and frame.seq == run_seq:
                    self.stats.frames_rejected += 1
                    break  # the RUN frame grew on the wire (see _transact): no run
                if code is not None and frame.seq == run_seq:
                    self._raise_error(frame)
                if code in P.DAMAGED or code == P.Err.BAD_LENGTH:
                    self.stats.frames_rejected += 1
                    if started:  # most likely a CREDIT: grant it again
                        self.send(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(1))
        self.stats.frames_lost += stream.frames_lost
        return stream

    def stop_and_reset(self) -> None:
        """End whatever run the device may be in (STOP, with credit for its last frames) and RESET it;
        that run's frames are discarded. LinkError if it still runs after `retries` tries."""
        for _ in range(self.retries + 1):
            self.send(P.Op.STOP)
            self.send(P.Op.CREDIT, P.CREDIT_PAYLOAD.pack(CREDIT_WINDOW))
            try:
                self.reset()
                return
            except DeviceError as exc:
                if exc.code != P.Err.BUSY:
                    raise
            deadline = time.monotonic() + self.retry_after_s  # let the run wind down
            while (frame := self._read_frame(deadline)) is not None and frame.op != P.Msg.RUN_DONE:
                pass
        raise LinkError(f"the device still runs after {self.retries + 1} STOPs")


def _halve(job: _Job, nbytes: int, writing: bool) -> list[_Job] | None:
    """A burst in two halves, to be sent again, while its frame (WRITE) or its reply (READ) is longer
    than SPLIT_MIN_BYTES: on a noisy line a short frame gets through more often."""
    space, fld, addr, count = P.BURST_HEADER.unpack_from(job.payload)
    if count < 2 or (len(job.payload) if writing else count * nbytes) <= SPLIT_MIN_BYTES:
        return None
    half = count // 2
    values = job.payload[P.BURST_HEADER.size:]
    return [_Job(a, job.op, P.BURST_HEADER.pack(space, fld, a, k) + values[(a - addr) * nbytes:(a - addr + k) * nbytes],
                 0 if writing else k * nbytes, job.tries)
            for a, k in ((addr, half), (addr + half, count - half))]


def _increments(progress):
    """on_tick for a progress(k) callback: k = ticks newly covered."""
    if progress is None:
        return None
    reported = 0

    def on_tick(covered: int) -> None:
        nonlocal reported
        if covered > reported:
            progress(covered - reported)
            reported = covered

    return on_tick
