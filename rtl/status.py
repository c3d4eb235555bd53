"""The core's status counters: TICKS, CYCLES_LAST_TICK, SATURATED_V and SATURATED_U."""

from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import DATA_WIDTH, CoreConfig, StatusCounter

__all__ = ["CoreCounters", "status_layout", "COUNTER_ADDR_BITS"]

#: Low address bits on which the core decodes a counter (the command engine has checked the rest).
COUNTER_ADDR_BITS = int(max(StatusCounter)).bit_length()


def status_layout(cfg: CoreConfig) -> data.StructLayout:
    """The status port: busy flag and the counters of `StatusCounter`."""
    w = cfg.counter_width
    return data.StructLayout({
        "busy": 1,
        "ticks": unsigned(w),
        "cycles_last_tick": unsigned(w),
        "saturated_v": unsigned(w),
        "saturated_u": unsigned(w),
    })


class CoreCounters(wiring.Component):
    """The counters the core keeps, each `cfg.counter_width` bits, wrapping modulo 2^counter_width.

    At a ``tick_end`` TICKS counts the tick and CYCLES_LAST_TICK takes ``cycles``; in a cycle with
    ``sat_valid`` (a write-back of the neuron update) SATURATED_V and SATURATED_U add ``sat_v`` and
    ``sat_u`` (the lanes whose V, resp. u, saturated). A host write (``we``) sets the counter
    ``addr``; it wins over the saturations' addition in the same cycle (and never meets a
    tick's end: the core takes host writes only while idle). All take effect at the clock edge
    (latency 1).

    Parameters
    ----------
    cfg : CoreConfig
        The core (counter width, lanes).

    Members
    -------
    tick_end : :py:`In(1)`
        A tick ends in this cycle.
    cycles : :py:`In(cfg.counter_width)`
        The cycles of the tick that ends (with ``tick_end``).
    sat_valid : :py:`In(1)`
        ``sat_v`` and ``sat_u`` count in this cycle.
    sat_v : :py:`In(range(cfg.lanes + 1))`
        Lanes whose V saturated.
    sat_u : :py:`In(range(cfg.lanes + 1))`
        Lanes whose u saturated.
    we : :py:`In(1)`
        A host write of counter ``addr``.
    addr : :py:`In(COUNTER_ADDR_BITS)`
        A `StatusCounter` (only the core's four are written).
    data : :py:`In(DATA_WIDTH)`
        The value written (its low counter_width bits).
    ticks : :py:`Out(cfg.counter_width)`
        TICKS: ticks run since the reset or the last write.
    cycles_last_tick : :py:`Out(cfg.counter_width)`
        CYCLES_LAST_TICK: the cycles of the last tick.
    saturated_v : :py:`Out(cfg.counter_width)`
        SATURATED_V: updates in which V saturated.
    saturated_u : :py:`Out(cfg.counter_width)`
        SATURATED_U: updates in which u saturated.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        w = cfg.counter_width
        super().__init__({
            "tick_end": In(1),
            "cycles": In(w),
            "sat_valid": In(1),
            "sat_v": In(range(cfg.lanes + 1)),
            "sat_u": In(range(cfg.lanes + 1)),
            "we": In(1),
            "addr": In(COUNTER_ADDR_BITS),
            "data": In(DATA_WIDTH),
            "ticks": Out(w),
            "cycles_last_tick": Out(w),
            "saturated_v": Out(w),
            "saturated_u": Out(w),
        })

    def elaborate(self, platform):
        m = Module()
        counters = {StatusCounter.TICKS: self.ticks, StatusCounter.CYCLES_LAST_TICK: self.cycles_last_tick,
                    StatusCounter.SATURATED_V: self.saturated_v, StatusCounter.SATURATED_U: self.saturated_u}
        with m.If(self.sat_valid):
            m.d.sync += [self.saturated_v.eq(self.saturated_v + self.sat_v),
                         self.saturated_u.eq(self.saturated_u + self.sat_u)]
        with m.If(self.we):
            with m.Switch(self.addr):
                for k, sig in counters.items():
                    with m.Case(k):
                        m.d.sync += sig.eq(self.data)
        with m.If(self.tick_end):
            m.d.sync += [self.ticks.eq(self.ticks + 1), self.cycles_last_tick.eq(self.cycles)]
        return m
