"""The wire protocol between a host and a lifstp device, defined once (docs/protocol.md).

The host, the golden device emulator and the RTL command engine take every constant from here:
framing (COBS with a CRC-16), opcodes, error codes, address spaces, field widths on the wire, and the
spike-stream encoding. The widths and limits of registers and neuron fields are the model's table
(spec.REGISTERS, spec.NEURON_FIELDS). This module depends on nothing else in the project but the
model's spec.
"""

from __future__ import annotations

import binascii
import enum
import re
import struct
from dataclasses import dataclass

import numpy as np

from amaranth.lib.crc import catalog
from cobs import cobs

from lifstp.golden_model.spec import NEURON_FIELDS, REGISTER_NAMES, REGISTERS, SAMPLE_UNITS_MAX, Formats

#: Protocol version reported by IDENTIFY; bumped on any incompatible change.
PROTOCOL_VERSION = 3
#: Frame delimiter on the wire (COBS removes every zero from the encoded frame).
DELIMITER = 0x00
#: Largest payload of one frame (after opcode and sequence number, before the CRC). A device buffers
#: one whole frame before acting on it, so a corrupted frame never writes anything.
MAX_PAYLOAD = 256
#: Bytes of opcode + sequence number in front of the payload, and of the CRC behind it.
HEADER_BYTES, CRC_BYTES = 2, 2
#: Largest frame between delimiters once COBS-encoded (one overhead byte per 254 bytes, plus one).
MAX_ENCODED = HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES + (HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES) // 254 + 1
#: CRC over opcode, sequence number and payload: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), sent
#: big-endian. Amaranth's catalogue gives both the software reference and the gateware.
CRC = catalog.CRC16_CCITT_FALSE
#: Spike-stream record: tick delta (1 byte) and neuron id (2 bytes, little-endian).
SPIKE_RECORD_BYTES = 3
#: Neuron id in a spike record that means "no spike: only advance the tick by the delta".
SPIKE_SKIP = 0xFFFF
#: Largest tick delta one record carries.
SPIKE_MAX_DELTA = 0xFF


class Op(enum.IntEnum):
    """Command opcodes (host to device). A reply carries the command's opcode | REPLY_BIT."""

    RESET = 0x01  #: zero the tick number, status counters and stream seq (registers, weights, neuron memories kept); BUSY during a run
    IDENTIFY = 0x02  #: reply: version, N, lanes, formats, MAX_PAYLOAD, readouts
    WRITE = 0x03  #: burst write: space, field, first address, count, then count values
    READ = 0x04  #: burst read: space, field, first address, count; reply: count values
    RUN = 0x05  #: run K ticks, streaming spikes; payload: K (u32), initial credit (u16)
    CREDIT = 0x06  #: allow the device to send this many more spike frames (u16)
    STOP = 0x07  #: end a run at the next tick boundary
    STATUS = 0x08  #: reply: the status counters


#: Set in the opcode of every reply to a command.
REPLY_BIT = 0x80


class Msg(enum.IntEnum):
    """Frames the device sends on its own (not replies)."""

    SPIKES = 0x40  #: stream seq (u16), tick base (u32), spike records
    STATES = 0x42  #: stream seq (u16), tick of the first sample (u32), samples of packed state bits
    RUN_DONE = 0x41  #: a run ended: ticks run (u32), next tick (u32), spikes (u32), dropped (u32), stopped (u8)
    ERROR = 0x7F  #: error code (u8), opcode of the offending frame or 0 (u8), detail (u16)


class Err(enum.IntEnum):
    """Error codes of an ERROR frame. The device stays usable after every one of them."""

    BAD_CRC = 1  #: the CRC does not match: the frame was dropped unexecuted
    BAD_FRAMING = 2  #: the COBS encoding is malformed, or the frame is shorter than header + CRC
    TOO_LONG = 3  #: more than MAX_ENCODED bytes before a delimiter: dropped up to the next delimiter
    UNKNOWN_OPCODE = 4  #: detail: none
    BAD_LENGTH = 5  #: the payload length does not fit the command (detail: expected length, if known)
    BAD_ADDRESS = 6  #: a space, field or range outside the device (detail: first address, or min(range end, 0xFFFF))
    BAD_VALUE = 7  #: a value outside its field's range (detail: index of the value in the burst)
    BUSY = 8  #: a command other than CREDIT, STOP, STATUS during a run


#: Errors that say a frame arrived damaged. The device sends them with seq 0 (it does not trust the
#: seq byte of a damaged frame), so the host cannot tell which of its frames they are about.
DAMAGED = frozenset({Err.BAD_CRC, Err.BAD_FRAMING, Err.TOO_LONG})


class Space(enum.IntEnum):
    """Address spaces of WRITE and READ."""

    REG = 0  #: global registers; address = index in spec.REGISTER_NAMES
    NEURON = 1  #: per-neuron state or configuration; address = neuron, field = NeuronField
    WEIGHT = 2  #: recurrent weight W[pre, post]; address = pre * N + post
    STATUS = 3  #: status counters; address = StatusCounter (writing sets the counter)
    STATS = 4  #: the statistics readout's counts; address = i * STATS_UNITS_MAX + j (unit i, unit j)


#: Most units the statistics readout counts (the first of the readout's range; docs/protocol.md).
STATS_UNITS_MAX = 64
#: Bytes of one count of space STATS (u32, saturating).
STATS_COUNT_BYTES = 4


#: Per-neuron quantities (space NEURON), numbered in the order of spec.NEURON_FIELDS, which gives each
#: one's width, signedness, limits and meaning: V, U, REF, RES, RNG, EL, CLAMP, ACC.
NeuronField = enum.IntEnum("NeuronField", [(q.name.upper(), i) for i, q in enumerate(NEURON_FIELDS)],
                           module=__name__)


class StatusCounter(enum.IntEnum):
    """Status counters (space STATUS; all in the STATUS reply, in this order, u32 each, saturating)."""

    TICKS = 0  #: ticks run since reset
    CYCLES_LAST_TICK = 1  #: clock cycles the last tick took (0 on the golden device)
    SATURATED_V = 2  #: saturations of V
    SATURATED_U = 3  #: saturations of u
    SPIKES_DROPPED = 4  #: spikes lost inside the device (flow control should keep this 0)
    FRAMES_REJECTED = 5  #: frames answered with an ERROR


#: Bytes of each counter in a STATUS reply.
COUNTER_BYTES = 4


class ProtocolError(Exception):
    """A frame that cannot be decoded, or an ERROR reply; `code` is an Err where one applies."""

    def __init__(self, message: str, code: Err | None = None, detail: int = 0):
        super().__init__(message)
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------------------------------------------
# Field widths on the wire


def value_bytes(bits: int) -> int:
    return (bits + 7) // 8


def neuron_field_bits(field: NeuronField, fmt: Formats, n_neurons: int) -> tuple[int, bool]:
    """(bits, signed) of a per-neuron field (spec.NEURON_FIELDS)."""
    q = NEURON_FIELDS[field]
    return q.bits(fmt, n_neurons), q.signed


def register_bits(name: str, fmt: Formats) -> tuple[int, bool]:
    """(bits, signed) of a global register (spec.REGISTERS); KeyError for an unknown name."""
    if name not in REGISTER_NAMES:
        raise KeyError(name)
    q = REGISTERS[REGISTER_NAMES.index(name)]
    return q.bits(fmt), q.signed


def space_value_bits(space: Space, field: int, fmt: Formats, n_neurons: int, addr: int = 0) -> tuple[int, bool]:
    """(bits, signed) of one value of a WRITE/READ burst in this space and field."""
    if space == Space.REG:
        return register_bits(REGISTER_NAMES[addr], fmt)
    if space == Space.NEURON:
        return neuron_field_bits(NeuronField(field), fmt, n_neurons)
    if space == Space.WEIGHT:
        return fmt.width_w, True
    if space == Space.STATS:
        return 8 * STATS_COUNT_BYTES, False
    return 8 * COUNTER_BYTES, False


def value_range(bits: int, signed: bool) -> tuple[int, int]:
    """(lowest, highest) of a two's complement (signed) or unsigned number of `bits` bits."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def value_limits(space: "Space", field: int, addr: int, fmt: Formats, n_neurons: int) -> tuple[int, int, bool]:
    """(lowest, highest, signed) of a value a device accepts at (space, field, addr): the range of its
    format, narrowed where the model needs it (spec.REGISTERS, spec.NEURON_FIELDS). A WRITE with a value
    outside gets BAD_VALUE."""
    if space == Space.REG:
        q = REGISTERS[addr]
        return (*q.limits(fmt, n_neurons), q.signed)
    if space == Space.NEURON:
        q = NEURON_FIELDS[NeuronField(field)]
        return (*q.limits(fmt, n_neurons), q.signed)
    bits, signed = space_value_bits(space, field, fmt, n_neurons, addr)
    return (*value_range(bits, signed), signed)


def space_size(space: Space, n_neurons: int) -> int:
    """Number of addresses in a space."""
    return {Space.REG: len(REGISTER_NAMES), Space.NEURON: n_neurons, Space.WEIGHT: n_neurons * n_neurons,
            Space.STATUS: len(StatusCounter), Space.STATS: STATS_UNITS_MAX * STATS_UNITS_MAX}[space]


#: Registers are written one value per WRITE burst entry with each register's own width; to keep bursts
#: uniform every register travels in REGISTER_WIRE_BYTES bytes.
REGISTER_WIRE_BYTES = 4


def wire_bytes(space: Space, field: int, fmt: Formats, n_neurons: int) -> int:
    """Bytes of one value on the wire in this space and field (little-endian, two's complement)."""
    if space == Space.REG:
        return REGISTER_WIRE_BYTES
    if space == Space.STATUS:
        return COUNTER_BYTES
    return value_bytes(space_value_bits(space, field, fmt, n_neurons)[0])


# ---------------------------------------------------------------------------------------------------
# Framing


def _check_crc() -> None:
    """`crc16` computes CRC with binascii's CRC-CCITT (polynomial 0x1021, MSB first, any initial value):
    right for CRC only if CRC is such a CRC."""
    if (CRC.crc_width, CRC.polynomial, CRC.reflect_input, CRC.reflect_output) != (16, 0x1021, False, False):
        raise ImportError(f"crc16 assumes a non-reflected 16-bit CRC of polynomial 0x1021, not {CRC}")


_check_crc()


def crc16(data: bytes) -> int:
    """CRC of a frame body; equals CRC(data_width=8).compute(data) (tests/test_protocol.py), but in C:
    amaranth's reference computes bit by bit and would dominate the golden device's time."""
    return binascii.crc_hqx(data, CRC.initial_crc) ^ CRC.xor_output


def encode_frame(op: int, seq: int, payload: bytes = b"") -> bytes:
    """One frame on the wire: COBS(op, seq, payload, CRC) followed by the delimiter."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD={MAX_PAYLOAD}")
    body = bytes([op & 0xFF, seq & 0xFF]) + payload
    return cobs.encode(body + crc16(body).to_bytes(2, "big")) + bytes([DELIMITER])


@dataclass(frozen=True)
class Frame:
    """A decoded frame."""

    op: int
    seq: int
    payload: bytes


def decode_frame(encoded: bytes) -> Frame:
    """Decode the bytes between two delimiters; ProtocolError with the Err code that applies."""
    if len(encoded) > MAX_ENCODED:
        raise ProtocolError(f"frame of {len(encoded)} bytes is longer than {MAX_ENCODED}", Err.TOO_LONG)
    try:
        raw = cobs.decode(encoded)
    except cobs.DecodeError as exc:
        raise ProtocolError(f"malformed COBS encoding: {exc}", Err.BAD_FRAMING) from None
    if len(raw) < HEADER_BYTES + CRC_BYTES:
        raise ProtocolError(f"frame of {len(raw)} bytes is shorter than header and CRC", Err.BAD_FRAMING)
    body, crc = raw[:-CRC_BYTES], int.from_bytes(raw[-CRC_BYTES:], "big")
    if crc16(body) != crc:
        raise ProtocolError("CRC mismatch", Err.BAD_CRC)
    return Frame(body[0], body[1], body[2:])


class FrameSplitter:
    """Cuts a byte stream into frames at delimiters; over-long runs are reported as TOO_LONG once and
    skipped to the next delimiter."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes | ProtocolError]:
        out: list[bytes | ProtocolError] = []
        for b in data:
            if b == DELIMITER:
                if self._overflow:
                    self._overflow = False
                elif self._buf:
                    out.append(bytes(self._buf))
                self._buf.clear()
            elif self._overflow:
                continue
            elif len(self._buf) >= MAX_ENCODED:
                self._buf.clear()
                self._overflow = True
                out.append(ProtocolError(f"more than {MAX_ENCODED} bytes without a delimiter", Err.TOO_LONG))
            else:
                self._buf.append(b)
        return out


# ---------------------------------------------------------------------------------------------------
# Payloads

BURST_HEADER = struct.Struct("<BBIH")  #: space, field, first address, count
RUN_PAYLOAD = struct.Struct("<IH")  #: ticks, initial credit
#: Most ticks of one RUN (its tick count is a u32).
RUN_MAX_TICKS = 0xFFFFFFFF
CREDIT_PAYLOAD = struct.Struct("<H")
SPIKES_HEADER = struct.Struct("<HI")  #: stream seq, tick base
RUN_DONE_PAYLOAD = struct.Struct("<IIIIB")  #: ticks run, next tick, spikes sent, spikes dropped, stopped
ERROR_PAYLOAD = struct.Struct("<BBH")  #: code, opcode, detail
IDENTIFY_PAYLOAD = struct.Struct("<BHB8BHB")  #: version, N, lanes, 8 format fields, MAX_PAYLOAD, readouts
STATES_HEADER = struct.Struct("<HI")  #: stream seq, tick of the frame's first sample


class Readout(enum.IntFlag):
    """What a device can send during a run (IDENTIFY's readouts, a bit each)."""

    SPIKES = 1  #: every spike (register sample_units = 0)
    STATES = 2  #: the states of a range of units every sample_every ticks (sample_units > 0)
    STATS = 4  #: their counts accumulated on the device instead (sample_stats = 1), read in space STATS


def struct_fields(payload: struct.Struct) -> tuple[tuple[int, int], ...]:
    """(byte offset, bytes) of each field of a little-endian payload struct, in order: where the RTL
    finds the fields in a frame (a repeat count gives that many fields, e.g. IDENTIFY's 8 formats)."""
    if not payload.format.startswith("<"):
        raise ValueError(f"payload format {payload.format!r} is not little-endian without padding ('<')")
    fields, offset = [], 0
    for count, code in re.findall(r"(\d*)([a-zA-Z?])", payload.format[1:]):
        size = struct.calcsize("<" + code)
        for _ in range(int(count or 1)):
            fields.append((offset, size))
            offset += size
    assert offset == payload.size
    return tuple(fields)


#: Spike records per SPIKES frame.
SPIKES_PER_FRAME = (MAX_PAYLOAD - SPIKES_HEADER.size) // SPIKE_RECORD_BYTES
#: Largest STATES payload: that of a full SPIKES frame, so both fit the device's frame buffers alike.
STATES_MAX_PAYLOAD = SPIKES_HEADER.size + SPIKES_PER_FRAME * SPIKE_RECORD_BYTES
if SAMPLE_UNITS_MAX != 8 * (STATES_MAX_PAYLOAD - STATES_HEADER.size):
    raise ImportError("spec.SAMPLE_UNITS_MAX is not the number of state bits a STATES frame holds")


def state_bytes(units: int) -> int:
    """Bytes of one sample of `units` states (a bit each, unit first + k at bit k % 8 of byte k // 8)."""
    return (units + 7) // 8


def samples_per_frame(units: int) -> int:
    """Samples of `units` states in a full STATES frame (a frame is sent when the next would not fit)."""
    return (STATES_MAX_PAYLOAD - STATES_HEADER.size) // state_bytes(units)


def encode_states(stream_seq: int, first_tick: int, states) -> bytes:
    """STATES payload of samples × units states (0/1), the first of tick `first_tick`."""
    states = np.asarray(states, dtype=np.uint8)
    packed = np.packbits(states, axis=1, bitorder="little")
    return STATES_HEADER.pack(stream_seq & 0xFFFF, first_tick & 0xFFFFFFFF) + packed.tobytes()


def decode_states(payload: bytes, units: int) -> tuple[int, int, np.ndarray]:
    """(stream seq, tick of the first sample, samples × units uint8) of a STATES payload."""
    nb = state_bytes(units)
    if len(payload) < STATES_HEADER.size + nb or (len(payload) - STATES_HEADER.size) % nb:
        raise ProtocolError(f"STATES payload of {len(payload)} bytes is malformed for {units} units",
                            Err.BAD_LENGTH)
    seq, first = STATES_HEADER.unpack_from(payload)
    packed = np.frombuffer(payload, dtype=np.uint8, offset=STATES_HEADER.size).reshape(-1, nb)
    return seq, first, np.unpackbits(packed, axis=1, count=units, bitorder="little")


def pack_values(values, nbytes: int) -> bytes:
    """Integers to consecutive little-endian two's-complement fields of nbytes bytes (1..8)."""
    arr = np.asarray(values)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        arr = np.array([int(v) & 0xFFFFFFFFFFFFFFFF for v in np.ravel(arr)], dtype=np.uint64)
    words = arr.reshape(-1).astype(np.int64, copy=False).view(np.uint64) if arr.dtype != np.uint64 else arr.reshape(-1)
    return words.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :nbytes].tobytes()


def unpack_values(data: bytes, nbytes: int, signed: bool) -> np.ndarray:
    """Fields of nbytes bytes back to integers (int64, or uint64 for unsigned 8-byte fields)."""
    if len(data) % nbytes:
        raise ProtocolError(f"{len(data)} bytes is not a whole number of {nbytes}-byte values", Err.BAD_LENGTH)
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, nbytes)
    padded = np.zeros((raw.shape[0], 8), dtype=np.uint8)
    padded[:, :nbytes] = raw
    words = padded.view("<u8").reshape(-1)
    if not signed:
        return words.copy() if nbytes == 8 else words.astype(np.int64)
    shift = np.int64(64 - 8 * nbytes)
    return (words.view(np.int64) << shift) >> shift


def max_burst(space: Space, field: int, fmt: Formats, n_neurons: int) -> int:
    """Most values of one WRITE burst frame."""
    return (MAX_PAYLOAD - BURST_HEADER.size) // wire_bytes(space, field, fmt, n_neurons)


def format_fields(fmt: Formats) -> tuple[int, ...]:
    """The 8 format fields IDENTIFY reports, in order."""
    return (fmt.frac_v, fmt.width_v, fmt.frac_w, fmt.width_w, fmt.frac_k, fmt.frac_r, fmt.frac_e, fmt.width_ref)


def encode_spikes(stream_seq: int, tick_base: int, ticks, neurons) -> bytes:
    """SPIKES payload for spikes (ticks ascending, all >= tick_base); gaps longer than SPIKE_MAX_DELTA
    take SKIP records. The caller keeps records within SPIKES_PER_FRAME."""
    ticks = np.asarray(ticks, dtype=np.int64)
    neurons = np.asarray(neurons, dtype=np.int64)
    deltas = np.diff(ticks, prepend=np.int64(tick_base))
    skips = np.maximum(0, (deltas - 1) // SPIKE_MAX_DELTA)
    total = len(ticks) + int(skips.sum())
    rec_delta = np.full(total, SPIKE_MAX_DELTA, dtype=np.int64)
    rec_neuron = np.full(total, SPIKE_SKIP, dtype=np.int64)
    pos = np.arange(len(ticks)) + np.cumsum(skips)  # each spike's record follows its SKIPs
    rec_delta[pos] = deltas - skips * SPIKE_MAX_DELTA
    rec_neuron[pos] = neurons
    return encode_spike_records(stream_seq, tick_base, rec_delta, rec_neuron)


def encode_spike_records(stream_seq: int, tick_base: int, deltas, neurons) -> bytes:
    """SPIKES payload of the given records (tick delta 0..SPIKE_MAX_DELTA, neuron or SPIKE_SKIP)."""
    deltas = np.asarray(deltas, dtype=np.int64)
    neurons = np.asarray(neurons, dtype=np.int64)
    records = np.empty((len(deltas), SPIKE_RECORD_BYTES), dtype=np.uint8)
    records[:, 0] = deltas
    records[:, 1] = neurons & 0xFF
    records[:, 2] = neurons >> 8
    return SPIKES_HEADER.pack(stream_seq & 0xFFFF, tick_base & 0xFFFFFFFF) + records.tobytes()


def decode_spikes(payload: bytes) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(stream seq, tick base, ticks int64, neurons int32) of a SPIKES payload."""
    if len(payload) < SPIKES_HEADER.size or (len(payload) - SPIKES_HEADER.size) % SPIKE_RECORD_BYTES:
        raise ProtocolError(f"SPIKES payload of {len(payload)} bytes is malformed", Err.BAD_LENGTH)
    seq, base = SPIKES_HEADER.unpack_from(payload)
    rec = np.frombuffer(payload, dtype=np.uint8, offset=SPIKES_HEADER.size).reshape(-1, SPIKE_RECORD_BYTES)
    ticks = base + np.cumsum(rec[:, 0].astype(np.int64))
    neurons = rec[:, 1].astype(np.int32) | (rec[:, 2].astype(np.int32) << 8)
    keep = neurons != SPIKE_SKIP
    return seq, base, ticks[keep], neurons[keep]
