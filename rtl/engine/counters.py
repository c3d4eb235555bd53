"""The status counters as the engine sends them: the core's four, taken to the wire's 32 bits, and
the two the engine keeps itself (SPIKES_DROPPED, FRAMES_REJECTED)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import CoreConfig, bits_for
from lifstp.rtl.status import status_layout

__all__ = ["EngineCounters", "COUNTER_BITS"]

#: Bits of a status counter on the wire.
COUNTER_BITS = 8 * P.COUNTER_BYTES
_COUNTER_MAX = (1 << COUNTER_BITS) - 1


class EngineCounters(wiring.Component):
    """SPIKES_DROPPED and FRAMES_REJECTED, and the counter of a given index as the wire has it.

    The core's counters (TICKS, CYCLES_LAST_TICK, SATURATED_V, SATURATED_U) come from its status
    port and saturate at 0xFFFFFFFF when they are wider. SPIKES_DROPPED is a register loaded whole.
    FRAMES_REJECTED, which only the executor touches, is kept byte-serially: each ``turn`` rotates it
    by one byte (four turns leave it whole), and the byte turned out of its low end is the one
    incremented (with the carry of the previous byte; an increment over four turns saturates at
    0xFFFFFFFF), replaced by ``data``'s low byte, or kept. This takes an 8-bit incrementer instead of
    a 32-bit one and keeps FRAMES_REJECTED out of the counter multiplexer: ``rejected`` shows its
    current low byte. A reset clears both.

    Latency: ``word`` and ``rejected`` are combinational; loads and turns take effect at the clock edge.

    Parameters
    ----------
    cfg : CoreConfig
        The core behind the engine (its counter width).

    Members
    -------
    status : :py:`In(status_layout(cfg))`
        The core's status port (its counters).
    index : :py:`In(bits_for(len(StatusCounter)))`
        A `protocol.StatusCounter`.
    word : :py:`Out(COUNTER_BITS)`
        Counter ``index``: a core counter (saturated to 32 bits) or SPIKES_DROPPED (for FRAMES_REJECTED
        too: that one is sent from ``rejected``).
    data : :py:`In(COUNTER_BITS)`
        A value to load: whole into SPIKES_DROPPED, its low byte into FRAMES_REJECTED's turn.
    load_dropped : :py:`In(1)`
        SPIKES_DROPPED takes ``data``.
    dropped : :py:`Out(COUNTER_BITS)`
        SPIKES_DROPPED.
    turn : :py:`In(1)`
        FRAMES_REJECTED rotates by a byte.
    increment : :py:`In(1)`
        The turn adds the carry: 1 at the ``first`` turn unless FRAMES_REJECTED is 0xFFFFFFFF, then the
        carry out of the previous turn.
    load_rejected : :py:`In(1)`
        The turn takes ``data``'s low byte.
    first : :py:`In(1)`
        This turn is the first of four (the least significant byte).
    rejected : :py:`Out(8)`
        The low byte of FRAMES_REJECTED as it stands.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "status": In(status_layout(cfg)),
            "index": In(bits_for(len(P.StatusCounter))),
            "word": Out(COUNTER_BITS),
            "data": In(COUNTER_BITS),
            "load_dropped": In(1),
            "dropped": Out(COUNTER_BITS),
            "turn": In(1),
            "increment": In(1),
            "load_rejected": In(1),
            "first": In(1),
            "rejected": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        st = self.status
        spikes_dropped = Signal(COUNTER_BITS)
        frames_rejected = Signal(COUNTER_BITS)
        carry = Signal(reset_less=True)

        with m.If(self.load_dropped):
            m.d.sync += spikes_dropped.eq(self.data)
        first_carry = Mux(self.first, ~frames_rejected.all(), carry)
        rejected_sum = frames_rejected[:8] + (self.increment & first_carry)
        with m.If(self.turn):
            new_byte = Mux(self.load_rejected, self.data[:8], rejected_sum[:8])
            m.d.sync += [frames_rejected.eq(Cat(frames_rejected[8:], new_byte)), carry.eq(rejected_sum[8])]

        def sat32(x):
            if len(x) > COUNTER_BITS:
                return Mux(x > _COUNTER_MAX, _COUNTER_MAX, x)[:COUNTER_BITS]
            return x

        # In StatusCounter order; FRAMES_REJECTED is sent from its own low byte.
        counters = [sat32(st.ticks), sat32(st.cycles_last_tick), sat32(st.saturated_v), sat32(st.saturated_u),
                    spikes_dropped]
        assert list(P.StatusCounter)[:len(counters)] == list(range(len(counters)))
        assert P.StatusCounter.FRAMES_REJECTED == len(counters)
        with m.Switch(self.index):
            for c, sig in enumerate(counters):
                with m.Case(c) if c < len(counters) - 1 else m.Default():
                    m.d.comb += self.word.eq(sig)
        m.d.comb += [self.dropped.eq(spikes_dropped), self.rejected.eq(frames_rejected[:8])]
        return m
