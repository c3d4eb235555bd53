"""The model's two arithmetic primitives as Amaranth expressions: `rnd` and `sat` (docs/model.md).

Amaranth arithmetic widens exactly (a product has the sum of its operands' widths, a difference of
unsigned values is signed), so these expressions compute what the golden model computes in int64,
without overflow, as long as the formats pass `Formats`' own checks.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

__all__ = ["rnd", "rnd_half", "add_rnd_half", "add_rnd", "sub_rnd", "sat", "as_signed", "fits"]


def as_signed(x: Value) -> Value:
    """x as a signed value of the same numeric value (one bit wider if x is unsigned)."""
    x = Value.cast(x)
    if x.shape().signed:
        return x
    return Cat(x, Const(0, 1)).as_signed()


def rnd(x: Value, s: int, bias: int = 0) -> Value:
    """rnd(x, s) = (x + 2^(s-1)) >> s, an arithmetic shift for signed x: round to nearest, ties up.
    rnd(x, 0) = x. `bias` adds to the rounding constant: only the mutation test uses it."""
    x = Value.cast(x)
    if s < 0:
        raise ValueError(f"rnd: negative shift {s}")
    if s == 0:
        return x + bias if bias else x
    if not bias:
        # (x + 2^(s-1)) >> s == ((x >> (s-1)) + 1) >> 1 exactly; the adder then spans only the bits
        # that survive the shift (half the carry chain of a 53-bit product rounded by 24).
        # (shift_right narrows the value, where >> would keep the full width of the product)
        return (x.shift_right(s - 1) + 1).shift_right(1)
    half = (1 << (s - 1)) + bias
    return (x + half) >> s if half >= 0 else (x - (-half)) >> s


def rnd_half(x: Value, s: int) -> Value:
    """q = x >> (s-1): what `add_rnd_half` and `sub_rnd` need of x, narrow enough to be registered.
    (For s = 0, where rnd(x, 0) = x, q = 2x - 1, which keeps both identities exact.)"""
    if s < 0:
        raise ValueError(f"rnd_half: negative shift {s}")
    x = as_signed(x)
    return x.shift_right(s - 1) if s else Cat(Const(1, 1), x).as_signed() - 2


def add_rnd_half(y: Value, q: Value) -> Value:
    """y + rnd(x, s) for q = rnd_half(x, s): (2y + 1 + q) >> 1 exactly, and 2y + 1 is y's bits below a
    constant 1, so one adder does the rounding and the sum."""
    return (Cat(Const(1, 1), as_signed(y)).as_signed() + q).shift_right(1)


def add_rnd(y: Value, x: Value, s: int, bias: int = 0) -> Value:
    """y + rnd(x, s) with one adder (`add_rnd_half`); with a `bias` (the mutation test only) the plain
    sum y + rnd(x, s, bias)."""
    if bias:
        return as_signed(y) + rnd(x, s, bias)
    return add_rnd_half(y, rnd_half(x, s))


def sub_rnd(y: Value, x: Value, s: int) -> Value:
    """y - rnd(x, s) with one adder: with q = rnd_half(x, s), rnd(x, s) = floor((q + 1) / 2) = ceil(q / 2),
    so y - rnd(x, s) = floor((2y - q) / 2) = (2y - q) >> 1 exactly."""
    return (Cat(Const(0, 1), as_signed(y)).as_signed() - rnd_half(x, s)).shift_right(1)


def fits(x: Value, width: int) -> Value:
    """x is representable in `width` bits of its own signedness: the bits above all copy the sign
    (signed x) or are zero (unsigned x). A test of bits: no comparator, no carry chain."""
    x = Value.cast(x)
    if len(x) <= width:
        return Const(1, 1)
    if not x.shape().signed:
        return x[width:] == 0
    top = x[width - 1:]
    return (top == 0) | (top == (1 << len(top)) - 1)


def sat(x: Value, lo: int, hi: int) -> tuple[Value, Value]:
    """x clipped to [lo, hi], and a flag that is 1 when clipping happened."""
    x = Value.cast(x)
    width = hi.bit_length() + 1
    if x.shape().signed and lo == -(1 << (width - 1)) and hi == (1 << (width - 1)) - 1 and len(x) > width:
        # The range of a signed width: a test of bits (`fits`) instead of two comparators.
        ok = fits(x, width)
        return Mux(ok, x[:width].as_signed(), Mux(x[-1], lo, hi)), ~ok
    over = x > hi
    under = x < lo
    return Mux(over, hi, Mux(under, lo, x)), over | under
