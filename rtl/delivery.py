"""Spike delivery (docs/model.md "One tick", phase 2): the spike queue, the scheduler that turns each
queued spike into a row of weight reads, and the per-event accumulate.

The neuron pipeline pushes one queue entry per update cycle in which any lane fired: the lane address
a (neurons a*L .. a*L+L-1), a mask of the lanes that fired and their efficacies. In the delivery
phase the scheduler pops the entries in order and, within an entry, the fired lanes in ascending order,
so spikes leave in ascending neuron order (the golden model's order). Each spike is offered on the
spike stream and, once taken, occupies the issue slot for M = N/L cycles: in cycle c it reads column c
of its weight row from every lane's bank (bank b holds W[i, c*L + b] at address i*M + c) and the core
adds rnd(W * e, event_shift) into acc[c*L + b]. The next spike follows in the cycle after its last
column, so the scheduler sustains one synaptic event per cycle per lane.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import Formats

from .arith import rnd
from .config import CoreConfig, spike_layout

__all__ = ["event_shift", "event_round", "event_contribution", "EventAccumulate", "queue_entry_layout", "DeliveryScheduler"]


def event_shift(fmt: Formats, mutation: str | None = None) -> int:
    """frac_w + frac_e - frac_v: the shift that brings a product W * e to the units of u."""
    return max(0, fmt.event_shift - 1) if mutation == "event_shift" else fmt.event_shift


def event_round(product: Value, fmt: Formats, mutation: str | None = None) -> Value:
    """rnd(product, event_shift): a product W * e in the units of u."""
    return rnd(product, event_shift(fmt, mutation))


def event_contribution(w: Value, e: Value, fmt: Formats, mutation: str | None = None) -> Value:
    """rnd(W * e, frac_w + frac_e - frac_v): one synaptic event in the units of u."""
    return event_round(w * e, fmt, mutation)


class EventAccumulate(wiring.Component):
    """Combinational: acc_next = acc + rnd(w * e, event_shift), one synaptic event of one lane.

    Ports: ``acc`` (In) the accumulator before the event; ``w`` (In) the weight W[i, j];
    ``eff`` (In) the spike's efficacy e; ``acc_next`` (Out) the accumulator after the event.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        fmt = cfg.formats
        super().__init__({
            "acc": In(signed(cfg.acc_width)),
            "w": In(signed(fmt.width_w)),
            "eff": In(unsigned(fmt.frac_e + 1)),
            "acc_next": Out(signed(cfg.acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.acc_next.eq(
            self.acc + event_contribution(self.w, self.eff, self.cfg.formats, self.cfg.mutation))
        return m


def queue_entry_layout(cfg: CoreConfig) -> data.StructLayout:
    """One spike-queue entry: the lane address, which lanes fired, their efficacies."""
    return data.StructLayout({
        "addr": unsigned(cfg.addr_bits),
        "mask": unsigned(cfg.lanes),
        "eff": data.ArrayLayout(unsigned(cfg.formats.frac_e + 1), cfg.lanes),
    })


class DeliveryScheduler(wiring.Component):
    """The spike queue and the row-issue logic of the delivery phase.

    Ports:

    - ``clear`` (In): empty the queue (at the start of each tick).
    - ``push`` (In stream of `queue_entry_layout`): an entry from the neuron pipeline; always accepted
      (the queue holds M entries, at most one per update cycle).
    - ``enable`` (In): the delivery phase runs (entries are popped only then).
    - ``tick`` (In): the tick number stamped on the spikes.
    - ``spikes`` (Out stream of `spike_layout`): each spike (tick, neuron), offered when its delivery
      can start; delivery waits while the stream is not ready (back-pressure: nothing is dropped).
    - ``issue_valid``, ``issue_col``, ``issue_waddr``, ``issue_eff`` (Out): a column of a weight row is
      being read this cycle: the lanes' accumulator address c, the weight-bank address i*M + c and
      the spike's efficacy.
    - ``last_col`` (In): the last column of a row, ceil(n_active / L) - 1 (`RegisterFile.last_row`):
      a spike reads only the active neurons' columns.
    - ``busy`` (Out): entries or a row remain.
    - ``last`` (Out): this cycle issues the last column of the last spike (the phase can end).
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "clear": In(1),
            "push": In(stream.Signature(queue_entry_layout(cfg), always_ready=True)),
            "enable": In(1),
            "tick": In(cfg.tick_width),
            "spikes": Out(stream.Signature(spike_layout(cfg))),
            "issue_valid": Out(1),
            "issue_col": Out(cfg.addr_bits),
            "issue_waddr": Out(range(cfg.n_neurons * cfg.depth)),
            "issue_eff": Out(cfg.formats.frac_e + 1),
            "last_col": In(cfg.addr_bits),
            "busy": Out(1),
            "last": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        depth, lanes = cfg.depth, cfg.lanes
        layout = queue_entry_layout(cfg)

        m.submodules.queue = queue = Memory(shape=layout, depth=depth, init=[])
        wr = queue.write_port()
        rd = queue.read_port(transparent_for=[wr])

        wr_ptr = Signal(range(depth + 1))
        rd_ptr = Signal(range(depth + 1))
        rd_ptr_next = Signal.like(rd_ptr)
        done_mask = Signal(lanes)  # lanes of the head entry already taken

        # Queue write side.
        m.d.comb += [wr.addr.eq(wr_ptr), wr.data.eq(self.push.payload), wr.en.eq(self.push.valid)]
        with m.If(self.clear):
            m.d.sync += wr_ptr.eq(0)
        with m.Elif(self.push.valid):
            m.d.sync += wr_ptr.eq(wr_ptr + 1)

        # Head of the queue: the read port always shows entry rd_ptr (its address is rd_ptr's next value).
        entry = rd.data
        m.d.comb += rd.addr.eq(rd_ptr_next)
        have_entry = self.enable & (rd_ptr != wr_ptr)
        remaining = Signal(lanes)
        m.d.comb += remaining.eq(entry.mask & ~done_mask)
        lane = Signal(range(max(lanes, 2)))
        for b in reversed(range(lanes)):  # lowest set lane wins
            with m.If(remaining[b]):
                m.d.comb += lane.eq(b)
        onehot = Signal(lanes)
        m.d.comb += onehot.eq(Const(1, lanes) << lane)
        last_of_entry = remaining == onehot
        neuron = Signal(cfg.neuron_bits)
        if lanes == 1:
            m.d.comb += neuron.eq(entry.addr)
        else:
            m.d.comb += neuron.eq(Cat(lane[:cfg.lane_bits], entry.addr))

        # Issue slot: one column per cycle; a new spike may start in the cycle of the previous row's last column.
        row_valid = Signal()
        row_col = Signal(cfg.addr_bits)
        row_waddr = Signal.like(self.issue_waddr)
        row_eff = Signal.like(self.issue_eff)
        slot_free = ~row_valid | (row_col == self.last_col)
        m.d.comb += [
            self.spikes.valid.eq(have_entry & slot_free),
            self.spikes.payload.tick.eq(self.tick),
            self.spikes.payload.neuron.eq(neuron),
        ]
        take = self.spikes.valid & self.spikes.ready
        m.d.comb += rd_ptr_next.eq(rd_ptr)
        with m.If(self.clear):
            m.d.comb += rd_ptr_next.eq(0)
            m.d.sync += [done_mask.eq(0), row_valid.eq(0)]
        with m.Elif(take):
            m.d.sync += [
                row_valid.eq(1),
                row_col.eq(0),
                row_waddr.eq(neuron * depth),
                row_eff.eq(entry.eff[lane]),
            ]
            with m.If(last_of_entry):
                m.d.comb += rd_ptr_next.eq(rd_ptr + 1)
                m.d.sync += done_mask.eq(0)
            with m.Else():
                m.d.sync += done_mask.eq(done_mask | onehot)
        with m.Elif(row_valid):
            with m.If(row_col == self.last_col):
                m.d.sync += row_valid.eq(0)
            with m.Else():
                m.d.sync += [row_col.eq(row_col + 1), row_waddr.eq(row_waddr + 1)]
        m.d.sync += rd_ptr.eq(rd_ptr_next)

        m.d.comb += [
            self.issue_valid.eq(row_valid),
            self.issue_col.eq(row_col),
            self.issue_waddr.eq(row_waddr),
            self.issue_eff.eq(row_eff),
            self.busy.eq(have_entry | row_valid),
            self.last.eq(row_valid & (row_col == self.last_col) & ~have_entry),
        ]
        return m
