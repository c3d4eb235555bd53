"""A WRITE's value against the limits of its destination (`lifstp.protocol.value_limits`)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.golden_model.spec import REGISTER_NAMES
from lifstp.rtl.config import DATA_WIDTH, CoreConfig, bits_for

from .compare import within
from .decode import FIELD_BITS, SPACE_BITS

__all__ = ["ValueCheck"]


class ValueCheck(wiring.Component):
    """Whether a value received for (space, field, register) lies within that destination's limits.

    Each (space, field, register) has constant limits and a constant wire size, so each case is a test
    of constant bits (`lifstp.rtl.engine.compare.within`: e.g. "the bits above width_v all copy the
    sign"), not a pair of wide comparators. Combinational (latency 0).

    Parameters
    ----------
    cfg : CoreConfig
        The core behind the engine (its N and formats give the limits and the wire widths).

    Members
    -------
    space : :py:`In(SPACE_BITS)`
        The destination's space (a valid `protocol.Space`).
    field : :py:`In(FIELD_BITS)`
        The neuron field (space NEURON; a valid `protocol.NeuronField`).
    index : :py:`In(bits_for(len(REGISTER_NAMES)))`
        The register's index in spec.REGISTER_NAMES (space REG: limits are per register).
    value : :py:`In(DATA_WIDTH)`
        The value as received: its wire bytes little-endian in the low bytes (two's complement for
        a signed destination); the bytes above them are ignored.
    ok : :py:`Out(1)`
        The value lies within `protocol.value_limits` of the destination.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "space": In(SPACE_BITS),
            "field": In(FIELD_BITS),
            "index": In(bits_for(len(REGISTER_NAMES))),
            "value": In(DATA_WIDTH),
            "ok": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        fmt, n, val = self.cfg.formats, self.cfg.n_neurons, self.value
        with m.Switch(self.space):
            for s in P.Space:
                with m.Case(int(s)):
                    if s == P.Space.REG:
                        with m.Switch(self.index):
                            for a in range(len(REGISTER_NAMES)):
                                with m.Case(a):
                                    m.d.comb += self.ok.eq(within(val, P.wire_bytes(s, 0, fmt, n),
                                                                  *P.value_limits(s, 0, a, fmt, n)))
                    elif s == P.Space.NEURON:
                        with m.Switch(self.field):
                            for f in P.NeuronField:
                                with m.Case(int(f)):
                                    m.d.comb += self.ok.eq(within(val, P.wire_bytes(s, f, fmt, n),
                                                                  *P.value_limits(s, f, 0, fmt, n)))
                    else:
                        m.d.comb += self.ok.eq(within(val, P.wire_bytes(s, 0, fmt, n),
                                                      *P.value_limits(s, 0, 0, fmt, n)))
        return m
