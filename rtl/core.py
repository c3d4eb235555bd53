"""The lifstp core: N leaky integrate-and-fire neurons with STP, time-multiplexed over L lanes.

Block diagram (one lane b of L; lane b owns neurons j with j % L == b at address j // L):

    write/read ports ──► host access (IDLE only) ──┐
                                                   ▼
    ┌─ lane b ───────────────────────────────────────────────────────────────────────┐
    │ V U REF RES RNG EL CLAMP memories ──read──► NeuronUpdate ──write──► (same)     │
    │ ACC memory ──read──► u += acc ──write 0                                        │
    │                       │ fire, e                                                │
    │                       ▼                                                        │
    │ ... all lanes ──► spike queue (DeliveryScheduler) ──► spikes stream (out)      │
    │                       │ row i, column c, e                                     │
    │ W bank b ──read W[i, c*L+b]──► acc[c] += rnd(W*e, shift) ──write──► ACC memory │
    └────────────────────────────────────────────────────────────────────────────────┘

A tick: its first cycle (clear the queue: the cycle the run request is taken in, or START) → UPDATE (M = N/L neuron addresses, one every I cycles, I = the
update unit's INTERVAL: 1 for the pipeline; each lane's result is written back update_latency(cfg)
cycles later, spikes pushed into the queue) → FLUSH (update_latency(cfg) cycles: the unit drains) →
DELIVER (one spike row per M cycles, one event per lane per cycle) → END (count the tick; the delivery
pipeline's last accumulates are written during END and after it). `cycles_per_tick` is the count:
M * (1 + spikes) + CYCLE_OVERHEAD (8) for the pipeline. docs/core.md has the pipeline stages.

The parts: `sequencer.TickSequencer` (the control FSM: a tick's phases, a host read's cycles),
`lane.Lane` (one lane's memories, weight bank, update unit and event accumulate, and who uses each
memory port), `delivery.DeliveryScheduler` (spike queue, row issue), `registers.RegisterFile` (the
global registers and their block-RAM copies), `host_read.HostRead` (a read request's answer) and
`status.CoreCounters` (TICKS, CYCLES_LAST_TICK, SATURATED_V/U). The core wires them and carries the
two pipelines' valid bits and addresses from issue to write-back.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import READOUT_REGISTERS

from .config import DATA_WIDTH, CoreConfig, Space, read_layout, readout_layout, spike_layout, write_layout
from .delivery import DeliveryScheduler
from .host_read import HostRead, split_address
from .lane import DELIVERY_LATENCY, Lane, update_latency, update_unit
from .registers import RegisterFile
from .sequencer import CYCLE_OVERHEAD, TickSequencer, cycles_per_tick
from .status import CoreCounters, status_layout
from .weights import WeightBank

__all__ = ["Core", "readout_layout", "status_layout", "update_unit", "update_latency", "cycles_per_tick", "CYCLE_OVERHEAD",
           "DELIVERY_LATENCY"]


class Core(wiring.Component):
    """One core of `cfg.n_neurons` neurons over `cfg.lanes` lanes (see the module docstring).

    Latency: a tick takes `cycles_per_tick(cfg, spikes)` cycles while ``spikes`` is ready; a read is
    answered 3 cycles after its request is taken (its answer offered until taken); a write takes
    effect at the clock edge.

    Parameters
    ----------
    cfg : CoreConfig
        N, L, formats, widths.
    weight_bank : callable or None
        factory(shape, depth) of each lane's weight bank (rtl/weights.py; None: `WeightBank`).

    Members
    -------
    write : :py:`In(stream.Signature(write_layout(cfg)))`
        Writes one global register (space REG, addr = index in spec.REGISTER_NAMES), one neuron's
        field (space NEURON, addr = neuron, field = `NeuronField`), one weight (space WEIGHT, addr =
        pre * N + post) or a status counter (space STATUS). Accepted only while the core is idle
        (ready low while it runs ticks or answers a read). Addresses must lie within their space (the
        command engine checks them): registers and counters are decoded on the low address bits only.
    read : :py:`In(stream.Signature(read_layout(cfg)))`
        A read request in space REG, NEURON or WEIGHT (snapshots); accepted while idle. (The counters
        are on ``status``.)
    read_data : :py:`Out(stream.Signature(DATA_WIDTH))`
        The answer to each read request, sign-extended.
    run : :py:`In(stream.Signature(cfg.counter_width))`
        Run K ticks (K = 1: one tick); accepted while idle.
    spikes : :py:`Out(stream.Signature(spike_layout(cfg)))`
        Every spike (tick, neuron), ticks ascending, neurons ascending within a tick. When it is not
        ready the core waits (back-pressure): no spike is ever dropped, the tick just takes longer.
    status : :py:`Out(status_layout(cfg))`
        Busy, ticks done, cycles used by the last tick, saturations of V and u (the golden model's
        status() counters).
    readout : :py:`Out(readout_layout(cfg))`
        States readout only: the registers sample_units, sample_first, sample_every, sample_wait.
    z_unit : :py:`In(range(cfg.n_neurons))`
        States readout only: a neuron, read between ticks.
    z : :py:`Out(1)`
        States readout only: that neuron's state in the last tick (fired or refractory), a cycle later.
    """

    def __init__(self, cfg: CoreConfig, weight_bank=None):
        self.cfg = cfg
        #: factory(shape, depth) of each lane's weight bank (rtl/weights.py); the board layer may swap it
        self.weight_bank = weight_bank or WeightBank
        super().__init__({
            "write": In(stream.Signature(write_layout(cfg))),
            "read": In(stream.Signature(read_layout(cfg))),
            "read_data": Out(stream.Signature(DATA_WIDTH)),
            "run": In(stream.Signature(cfg.counter_width)),
            "spikes": Out(stream.Signature(spike_layout(cfg))),
            "status": Out(status_layout(cfg)),
            **({"readout": Out(readout_layout(cfg)), "z_unit": In(range(cfg.n_neurons)), "z": Out(1)}
               if cfg.states_readout else {}),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        lanes, latency, interval = cfg.lanes, update_latency(cfg), update_unit(cfg).INTERVAL

        m.submodules.sequencer = seq = TickSequencer(cfg)
        m.submodules.registers = regs = RegisterFile(cfg)
        m.submodules.counters = ctr = CoreCounters(cfg)
        m.submodules.host_read = hrd = HostRead(cfg)
        m.submodules.sched = sched = DeliveryScheduler(cfg)
        lane = [Lane(cfg, self.weight_bank) for _ in range(lanes)]
        for b in range(lanes):
            m.submodules[f"lane_{b}"] = lane[b]

        # ---- Control and the host ports. ---------------------------------------------------------------
        wiring.connect(m, wiring.flipped(self.run), seq.run)
        wiring.connect(m, sched.spikes, wiring.flipped(self.spikes))
        m.d.comb += [
            self.write.ready.eq(seq.write_ready),
            seq.read_valid.eq(self.read.valid), self.read.ready.eq(seq.read_ready),
            hrd.request.eq(self.read.payload), hrd.take.eq(seq.read_take), hrd.sample.eq(seq.read_sample),
            self.read_data.valid.eq(seq.answer_valid), seq.answer_ready.eq(self.read_data.ready),
            sched.clear.eq(seq.clear), sched.enable.eq(seq.deliver), sched.tick.eq(ctr.ticks),
            seq.deliver_done.eq(~sched.busy | sched.last),
            seq.last_row.eq(regs.last_row), sched.last_col.eq(regs.last_row),
        ]
        with m.If(seq.answer_valid):  # 0 while none is offered: the executor loads a counter's top half from it
            m.d.comb += self.read_data.payload.eq(hrd.answer)
        wr = self.write.payload
        wr_lane, wr_laddr = split_address(cfg, wr.addr)
        wr_fire = Signal()  # a write is accepted this cycle
        m.d.comb += wr_fire.eq(self.write.valid & self.write.ready)
        # Registers and counters are decoded on the low address bits only: the command engine has
        # checked every address against its space (an out-of-range address never reaches the core).
        m.d.comb += [regs.we.eq(wr_fire & (wr.space == Space.REG)), regs.addr.eq(wr.addr), regs.data.eq(wr.data),
                     regs.read_addr.eq(hrd.addr), hrd.reg_data.eq(regs.read_data),
                     ctr.we.eq(wr_fire & (wr.space == Space.STATUS)), ctr.addr.eq(wr.addr), ctr.data.eq(wr.data)]

        # ---- Pipeline timing. --------------------------------------------------------------------------
        # Neuron update: an address issued in cycle t is written back in cycle t + update_latency
        # (n_valid/n_addr carry it along; nw_* is the write-back stage). With a shared-multiplier unit
        # one neuron is in the unit at a time: its address, latched as it starts, suffices.
        n_valid = [Signal(name=f"n{k}_valid") for k in range(latency + 1)]
        n_addr = [Signal(cfg.addr_bits, name=f"n{k}_addr") for k in range(latency + 1)]
        m.d.comb += [n_valid[0].eq(seq.issue), n_addr[0].eq(seq.addr)]
        for k in range(latency):
            m.d.sync += n_valid[k + 1].eq(n_valid[k])
            if k == 0 or interval == 1:
                m.d.sync += n_addr[k + 1].eq(n_addr[k])
        nw_valid, nw_addr = n_valid[-1], n_addr[-1]
        if interval > 1:
            with m.If(n_valid[1]):
                m.d.sync += nw_addr.eq(n_addr[1])
        # Delivery: issue (W read) -> d1 (W * e) -> d2 (rnd, acc read) -> d3 (acc write).
        d1_valid, d2_valid, d3_valid = Signal(), Signal(), Signal()
        d1_col, d2_col, d3_col = (Signal(cfg.addr_bits, name=f"d{k}_col") for k in (1, 2, 3))
        d1_eff = Signal(cfg.formats.frac_e + 1)
        m.d.sync += [d1_valid.eq(sched.issue_valid & seq.deliver), d1_col.eq(sched.issue_col),
                     d1_eff.eq(sched.issue_eff),
                     d2_valid.eq(d1_valid), d2_col.eq(d1_col),
                     d3_valid.eq(d2_valid), d3_col.eq(d2_col)]

        # ---- Lanes. -------------------------------------------------------------------------------------
        for b, ln in enumerate(lane):
            m.d.comb += [
                ln.regs.eq(regs.regs), ln.issue.eq(seq.issue), ln.addr.eq(seq.addr), ln.hold.eq(seq.hold),
                ln.start.eq(n_valid[1]), ln.start_addr.eq(n_addr[1]), ln.wb_valid.eq(nw_valid), ln.wb_addr.eq(nw_addr),
                ln.deliver.eq(seq.deliver), ln.waddr.eq(sched.issue_waddr), ln.event_eff.eq(d1_eff),
                ln.acc_read.eq(d2_valid), ln.acc_read_addr.eq(d2_col),
                ln.acc_write.eq(d3_valid), ln.acc_write_addr.eq(d3_col),
                ln.last_row.eq(regs.last_row), ln.last_active.eq(regs.last_lanes[b]),
                ln.host_addr.eq(hrd.lane_addr), hrd.fields[b].eq(ln.data), hrd.weights[b].eq(ln.weight),
                ln.wr_addr.eq(wr_laddr), ln.wr_data.eq(wr.data), ln.wr_field.eq(wr.field),
                ln.wr_neuron.eq(wr_fire & (wr.space == Space.NEURON) & (wr_lane == b)),
                ln.wr_weight.eq(wr_fire & (wr.space == Space.WEIGHT) & (wr_lane == b)),
            ]
            if cfg.shared_multiplier:
                m.d.comb += [ln.reg_data.eq(regs.read_data), ln.thr_data.eq(regs.thr_data)]
        if cfg.shared_multiplier:  # lane 0's unit asks for the operands that every lane's unit uses
            m.d.comb += [regs.hold.eq(seq.hold), regs.unit_index.eq(lane[0].reg_index),
                         regs.thr_index.eq(lane[0].thr_index)]

        # Spike queue push: one entry per update cycle in which any lane fired.
        fires = Cat(*(ln.fire for ln in lane))
        m.d.comb += [
            sched.push.valid.eq(nw_valid & fires.any()),
            sched.push.payload.addr.eq(nw_addr),
            sched.push.payload.mask.eq(fires),
        ]
        for b, ln in enumerate(lane):
            m.d.comb += sched.push.payload.eff[b].eq(ln.eff)

        # ---- The states readout: the readout registers and a neuron's state bit. --------------------
        if cfg.states_readout:
            m.d.comb += [self.readout[name].eq(regs.regs[name]) for name in READOUT_REGISTERS]
            z_lane, z_row = split_address(cfg, self.z_unit)
            z_lane_q = Signal.like(z_lane) if lanes > 1 else 0
            if lanes > 1:
                m.d.sync += z_lane_q.eq(z_lane)
            z = lane[0].z
            for b, ln in enumerate(lane):
                m.d.comb += ln.z_addr.eq(z_row)
                if b:
                    z = Mux(z_lane_q == b, ln.z, z)
            m.d.comb += self.z.eq(z)

        # ---- Status. -------------------------------------------------------------------------------------
        m.d.comb += [
            ctr.tick_end.eq(seq.tick_end), ctr.cycles.eq(seq.cycles),
            ctr.sat_valid.eq(nw_valid), ctr.sat_v.eq(sum(ln.sat_v for ln in lane)),
            ctr.sat_u.eq(sum(ln.sat_u for ln in lane)),
            self.status.busy.eq(seq.busy),
            self.status.ticks.eq(ctr.ticks),
            self.status.cycles_last_tick.eq(ctr.cycles_last_tick),
            self.status.saturated_v.eq(ctr.saturated_v),
            self.status.saturated_u.eq(ctr.saturated_u),
        ]
        return m
