"""The core's control: the phases of a tick, run after run, and a host read's three cycles between them."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .config import CoreConfig
from .lane import DELIVERY_LATENCY, update_latency, update_unit

__all__ = ["TickSequencer", "cycles_per_tick", "CYCLE_OVERHEAD"]


def cycles_per_tick(cfg: CoreConfig, spikes: int = 0, n_active: int = 0) -> int:
    """Cycles of one tick with `spikes` spikes, the spike stream always ready: its first (1: the run
    request taken in IDLE, or START), UPDATE ((M - 1) * I + 1: an address every I cycles), FLUSH
    (update_latency: the unit drains), DELIVER (M per spike, plus the cycle that finds the queue empty)
    and END (1); M = ceil(n_active / L) active addresses (`CoreConfig.active_depth`). The delivery
    pipeline's last DELIVERY_LATENCY - 1 cycles overlap END and what follows it."""
    m, interval = cfg.active_depth(n_active), update_unit(cfg).INTERVAL
    return 1 + (m - 1) * interval + 1 + update_latency(cfg) + m * spikes + 1 + 1


#: Cycles of a tick beyond M * (1 + spikes) for the full-throughput pipeline.
CYCLE_OVERHEAD = cycles_per_tick(CoreConfig(n_neurons=1)) - 1


class TickSequencer(wiring.Component):
    """The core's control FSM.

    IDLE takes host writes, and a run request of K ticks (K = 0 is taken and ignored) or else a read
    request. A tick: its first cycle (clear the spike queue: the cycle IDLE takes the run request in,
    or START for the second and later of the K ticks) → UPDATE (neuron addresses 0 .. M - 1 issued,
    one every I cycles, I = the update unit's INTERVAL) → FLUSH (update_latency cycles: the unit
    drains) → DELIVER (until the scheduler is done: it has no spike, or issues its last column) → END
    (the tick is counted) → START for the next of the K ticks, or IDLE. A tick takes
    `cycles_per_tick(cfg, spikes)` cycles while the spike stream is ready.

    The last accumulates are written in the DELIVERY_LATENCY - 1 cycles after DELIVER: during END and
    the first cycles of IDLE or START. The next tick reads an accumulator no earlier than the cycle in
    which its last accumulate is written, which the ACC read port's transparency forwards (M = 1); IDLE
    takes a host write or read only once they are written (a host write of ACC would meet one on the
    write port). A read request: RD_ISSUE (the request latched; the memories read its address) →
    RD_DATA (the value registered) → RD_RESP (offered until taken) → IDLE.

    Parameters
    ----------
    cfg : CoreConfig
        The core (M, the update unit, counter width).

    Members
    -------
    run : :py:`In(stream.Signature(cfg.counter_width))`
        Run K ticks; taken in IDLE.
    write_ready : :py:`Out(1)`
        Host writes are taken (IDLE).
    read_valid : :py:`In(1)`
        A read request is offered.
    read_ready : :py:`Out(1)`
        The read request is taken (IDLE, no run request offered).
    read_take : :py:`Out(1)`
        The read request is latched (IDLE, a read request and no tick starting).
    read_sample : :py:`Out(1)`
        The memories show the requested value: register it (RD_DATA).
    answer_valid : :py:`Out(1)`
        The answer is offered (RD_RESP).
    answer_ready : :py:`In(1)`
        The answer is taken.
    busy : :py:`Out(1)`
        Ticks are being run (UPDATE to END, and START).
    clear : :py:`Out(1)`
        Empty the spike queue (a tick's first cycle).
    issue : :py:`Out(1)`
        Neuron address ``addr`` is issued to the lanes' update units (UPDATE, every I-th cycle).
    addr : :py:`Out(cfg.addr_bits)`
        The neuron address being issued.
    hold : :py:`Out(1)`
        The memories' read ports hold their data between issues (shared unit: UPDATE and FLUSH).
    deliver : :py:`Out(1)`
        The delivery phase (DELIVER).
    last_row : :py:`In(cfg.addr_bits)`
        The last address UPDATE issues (`RegisterFile.last_row`: ceil(n_active / L) - 1).
    deliver_done : :py:`In(1)`
        The scheduler has no spike left or issues its last column in this cycle.
    tick_end : :py:`Out(1)`
        The tick is counted (END).
    cycles : :py:`Out(cfg.counter_width)`
        Cycles of the tick so far, this one included (at ``tick_end``: the tick's).
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "run": In(stream.Signature(cfg.counter_width)),
            "write_ready": Out(1),
            "read_valid": In(1),
            "read_ready": Out(1),
            "read_take": Out(1),
            "read_sample": Out(1),
            "answer_valid": Out(1),
            "answer_ready": In(1),
            "busy": Out(1),
            "clear": Out(1),
            "issue": Out(1),
            "addr": Out(cfg.addr_bits),
            "hold": Out(1),
            "deliver": Out(1),
            "last_row": In(cfg.addr_bits),
            "deliver_done": In(1),
            "tick_end": Out(1),
            "cycles": Out(cfg.counter_width),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        latency, interval = update_latency(cfg), update_unit(cfg).INTERVAL
        busy, upd_addr = self.busy, self.addr
        cycles = Signal(cfg.counter_width)
        cycles_next = self.cycles  # one incrementer for every state that counts
        m.d.comb += cycles_next.eq(cycles + 1)
        remaining = Signal(cfg.counter_width)
        phase = Signal(range(interval))
        wait = Signal(range(latency + 1))  # cycles left in FLUSH
        draining = Signal(range(DELIVERY_LATENCY + 1))  # cycles until the last accumulate is written
        with m.If(draining != 0):
            m.d.sync += draining.eq(draining - 1)

        def first_cycle():  # a tick's first cycle: IDLE taking the run request, or START
            m.d.comb += self.clear.eq(1)
            m.d.sync += [cycles.eq(1), upd_addr.eq(0), phase.eq(0)]
            m.next = "UPDATE"

        with m.FSM():
            with m.State("IDLE"):
                drained = draining == 0
                m.d.comb += [self.write_ready.eq(drained), self.run.ready.eq(1),
                             self.read_ready.eq(~self.run.valid & drained)]
                with m.If(self.run.valid & (self.run.payload != 0)):
                    m.d.sync += remaining.eq(self.run.payload)
                    first_cycle()
                with m.Elif(self.read_valid & drained):
                    m.d.comb += self.read_take.eq(1)
                    m.next = "RD_ISSUE"
            with m.State("START"):
                m.d.comb += busy.eq(1)
                first_cycle()
            with m.State("UPDATE"):
                m.d.comb += [busy.eq(1), self.issue.eq(phase == 0), self.hold.eq(interval > 1)]
                m.d.sync += cycles.eq(cycles_next)
                if interval > 1:
                    m.d.sync += phase.eq(Mux(phase == interval - 1, 0, phase + 1))
                with m.If(phase == interval - 1):
                    m.d.sync += upd_addr.eq(upd_addr + 1)
                with m.If((upd_addr == self.last_row) & (phase == 0)):  # the last active address is issued
                    m.d.sync += wait.eq(latency - 1)
                    m.next = "FLUSH"
            with m.State("FLUSH"):  # update_latency cycles: the last write-back and queue push happen
                m.d.comb += [busy.eq(1), self.hold.eq(interval > 1)]
                m.d.sync += [cycles.eq(cycles_next), wait.eq(wait - 1)]
                with m.If(wait == 0):
                    m.next = "DELIVER"
            with m.State("DELIVER"):
                m.d.comb += [busy.eq(1), self.deliver.eq(1)]
                m.d.sync += cycles.eq(cycles_next)
                # Leave with the last column's issue: its accumulate is written DELIVERY_LATENCY
                # cycles later, after END.
                with m.If(self.deliver_done):
                    m.d.sync += draining.eq(DELIVERY_LATENCY)
                    m.next = "END"
            with m.State("END"):
                m.d.comb += [busy.eq(1), self.tick_end.eq(1)]
                m.d.sync += remaining.eq(remaining - 1)
                with m.If(remaining == 1):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "START"
            with m.State("RD_ISSUE"):  # the read ports see the request's address this cycle
                m.next = "RD_DATA"
            with m.State("RD_DATA"):
                m.d.comb += self.read_sample.eq(1)
                m.next = "RD_RESP"
            with m.State("RD_RESP"):
                m.d.comb += self.answer_valid.eq(1)
                with m.If(self.answer_ready):
                    m.next = "IDLE"
        return m
