"""The protocol's payload structs as the engine sees them: each field's bits, taken from the struct
format (protocol.struct_fields), so that the RTL never restates an offset or a width."""

from __future__ import annotations

import struct

from amaranth.hdl import Value

from lifstp import protocol as P

__all__ = ["field_width", "field_bytes", "fields_of"]


def field_width(payload: struct.Struct, index: int) -> int:
    """Bits of field `index` of a payload struct."""
    return 8 * P.struct_fields(payload)[index][1]


def field_bytes(payload: struct.Struct, index: int, base: int = P.HEADER_BYTES) -> range:
    """Positions in the frame body of the bytes of field `index` (the payload starting at `base`)."""
    offset, size = P.struct_fields(payload)[index]
    return range(base + offset, base + offset + size)


def fields_of(value: Value, payload: struct.Struct) -> list[Value]:
    """The fields of a payload held little-endian in `value` (its byte i at bits 8i .. 8i+7)."""
    return [value[8 * offset:8 * (offset + size)] for offset, size in P.struct_fields(payload)]
