"""Comparisons of a value with constants as tests of its bits, for the command engine's checks.

On the iCE40 a comparison x >= c built as a subtraction takes a carry chain as long as x; against a
constant it reduces to logic on the bits of x, from the top bit down, which Yosys maps onto a few LUTs.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value

from lifstp import protocol as P
from lifstp.rtl.arith import fits

__all__ = ["at_least", "at_most", "within", "clamp16"]


def clamp16(x: Value) -> Value:
    """min(x, 0xFFFF) of an unsigned x, as 16 bits."""
    return Mux(x[16:].any(), 0xFFFF, x[:16]) if len(x) > 16 else x


def at_least(x: Value, c: int) -> Value:
    """Unsigned x >= c for a constant c, as logic on the bits of x (from the top bit down) rather
    than a subtraction."""
    x = Value.cast(x)
    if c <= 0:
        return Const(1, 1)
    if c >= 1 << len(x):
        return Const(0, 1)
    top, rest = x[-1], x[:-1]
    half = 1 << (len(x) - 1)
    return (top & at_least(rest, c - half)) if c >= half else (top | at_least(rest, c))


def at_most(x: Value, c: int) -> Value:
    """Unsigned x <= c for a constant c, as logic on the bits of x (see `at_least`)."""
    return ~at_least(x, c + 1)


def within(raw: Value, nbytes: int, lo: int, hi: int, signed_: bool) -> Value:
    """The value in the low `nbytes` bytes of `raw` (two's complement if `signed_`) lies in [lo, hi].
    Limits that are the whole range of a narrower width become a test of the bits above it; the few
    others (clamp modes, R <= 1, ...) are tests against constants (`at_least`, `at_most`)."""
    x = raw[:8 * nbytes]
    width = len(x)
    for w in range(1, width + 1):
        if (lo, hi) == P.value_range(w, signed_):
            return fits(x.as_signed() if signed_ else x, w)
    if signed_:  # offset binary: flipping the sign bit adds 2^(width-1), an unsigned order
        x, lo, hi = Cat(x[:-1], ~x[-1]), lo + (1 << (width - 1)), hi + (1 << (width - 1))
    return at_least(x, lo) & at_most(x, hi)
