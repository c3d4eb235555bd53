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

A tick: START (clear the queue) → UPDATE (M = N/L neuron addresses, one every I cycles, I = the
update unit's INTERVAL: 1 for the pipeline; each lane's result is written back update_latency(cfg)
cycles later, spikes pushed into the queue) → FLUSH (update_latency(cfg) cycles: the unit drains) →
DELIVER (one spike row per M cycles, one event per lane per cycle) → DRAIN (the delivery pipeline
drains) → END (count the tick). `cycles_per_tick` is the count: M * (1 + spikes) + CYCLE_OVERHEAD (10)
for the pipeline. docs/core.md has the pipeline stages.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import NOISE_COUNT_MAX, NOISE_UNIFORM_BITS, REGISTER_NAMES

from .config import (DATA_WIDTH, NO_RW_CHECK, CoreConfig, NeuronField, Space, StatusCounter, bits_for, read_layout,
                     register_word_shape, spike_layout, threshold_pair_width, write_layout)
from .arith import add_rnd_half, rnd_half
from .delivery import DeliveryScheduler, event_shift
from .neuron import NeuronUpdate, register_layout
from .neuron_shared import SharedNeuronUpdate
from .weights import WeightBank

__all__ = ["Core", "status_layout", "update_unit", "update_latency", "cycles_per_tick", "CYCLE_OVERHEAD",
           "DELIVERY_LATENCY"]


def update_unit(cfg: CoreConfig) -> type[NeuronUpdate]:
    """The neuron update each lane of this core uses."""
    return SharedNeuronUpdate if cfg.shared_multiplier else NeuronUpdate


def update_latency(cfg: CoreConfig) -> int:
    """Cycles from a neuron address issued to the memories to its write-back: the read, then the unit."""
    return 1 + update_unit(cfg).LATENCY

#: Cycles from a weight address issued to the accumulator written: the weight read (W, e registered),
#: the product W * e, its rounding (and the accumulator read), then acc + rnd(W * e) is written.
DELIVERY_LATENCY = 3


def cycles_per_tick(cfg: CoreConfig, spikes: int = 0) -> int:
    """Cycles of one tick with `spikes` spikes, the spike stream always ready: START (1), UPDATE
    ((M - 1) * I + 1: an address every I cycles), FLUSH (update_latency: the unit drains), DELIVER
    (M per spike, plus the cycle that finds the queue empty), DRAIN (DELIVERY_LATENCY - 1: the delivery
    pipeline drains) and END (1)."""
    m, interval = cfg.depth, update_unit(cfg).INTERVAL
    return 1 + (m - 1) * interval + 1 + update_latency(cfg) + m * spikes + 1 + (DELIVERY_LATENCY - 1) + 1


#: Cycles of a tick beyond M * (1 + spikes) for the full-throughput pipeline.
CYCLE_OVERHEAD = cycles_per_tick(CoreConfig(n_neurons=1)) - 1

#: Fields the neuron pipeline writes back each tick (EL and CLAMP are configuration, written by the host).
_UPDATED = {
    NeuronField.V: "v_next", NeuronField.U: "u_next", NeuronField.REF: "ref_next",
    NeuronField.RES: "res_next", NeuronField.RNG: "rng_next",
}
_INPUTS = {
    NeuronField.V: "v", NeuronField.U: "u", NeuronField.REF: "ref", NeuronField.RES: "res",
    NeuronField.RNG: "rng", NeuronField.EL: "e_l", NeuronField.CLAMP: "clamp", NeuronField.ACC: "acc",
}


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


class Core(wiring.Component):
    """One core of `cfg.n_neurons` neurons over `cfg.lanes` lanes (see the module docstring).

    Ports:

    - ``write`` (In stream of `write_layout`): writes one global register (space REG, addr = index in
      spec.REGISTER_NAMES), one neuron's field (space NEURON, addr = neuron, field = `NeuronField`),
      one weight (space WEIGHT, addr = pre * N + post) or a status counter (space STATUS). Accepted
      only while the core is idle (ready low while it runs ticks or answers a read). Addresses must
      lie within their space (the command engine checks them): registers and counters are decoded on
      the low address bits only.
    - ``read`` (In stream of `read_layout`): a read request in space REG, NEURON or WEIGHT (snapshots);
      accepted while idle. (The counters are on ``status``.)
    - ``read_data`` (Out stream, 64 bits): the answer to each read request, sign-extended.
    - ``run`` (In stream, counter_width bits): run K ticks (K = 1: one tick); accepted while idle.
    - ``spikes`` (Out stream of `spike_layout`): every spike (tick, neuron), ticks ascending, neurons
      ascending within a tick. When it is not ready the core waits (back-pressure): no spike is ever
      dropped, the tick just takes longer.
    - ``status`` (Out `status_layout`): busy, ticks done, cycles used by the last tick, saturations of
      V and u (the golden model's status() counters).
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
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        fmt = cfg.formats
        lanes, depth = cfg.lanes, cfg.depth

        regs = Signal(register_layout(cfg))
        ticks = Signal(cfg.counter_width)
        cycles = Signal(cfg.counter_width)
        cycles_last = Signal(cfg.counter_width)
        sat_v = Signal(cfg.counter_width)
        sat_u = Signal(cfg.counter_width)
        remaining = Signal(cfg.counter_width)
        cycles_next = Signal(cfg.counter_width)  # one incrementer for every state that counts
        m.d.comb += cycles_next.eq(cycles + 1)
        busy = Signal()

        # ---- Memories: one per neuron field and lane, one weight bank per lane. -----------------------
        rports, wports, wbanks = [], [], []
        for b in range(lanes):
            rp_lane, wp_lane = {}, {}
            for f in NeuronField:
                # No field memory but ACC is ever read and written at one address in one cycle (the
                # update reads an address several cycles before it writes it back, the host reads and
                # writes in separate cycles), so Yosys need not add logic for such a collision
                # (no_rw_check). ACC's delivery read-modify-write needs its transparency.
                mem = Memory(shape=cfg.field_shape(f), depth=depth, init=[],
                             attrs={} if f == NeuronField.ACC else NO_RW_CHECK)
                m.submodules[f"{f.name.lower()}_{b}"] = mem
                wp = mem.write_port()
                # acc: a delivery write and the next row's read of the same address can meet when M = 1.
                rp = mem.read_port(transparent_for=[wp] if f == NeuronField.ACC else [])
                rp_lane[f], wp_lane[f] = rp, wp
            rports.append(rp_lane)
            wports.append(wp_lane)
            wbank = self.weight_bank(signed(fmt.width_w), cfg.n_neurons * depth)
            m.submodules[f"weights_{b}"] = wbank
            wbanks.append(wbank)

        m.submodules.sched = sched = DeliveryScheduler(cfg)
        wiring.connect(m, sched.spikes, wiring.flipped(self.spikes))
        m.d.comb += sched.tick.eq(ticks)

        # ---- Host access decode. ----------------------------------------------------------------------
        lb = cfg.lane_bits

        def split(addr):
            """(lane, lane address) of a neuron index or of a weight index pre * N + post."""
            return (addr[:lb] if lb else 0), addr[lb:]

        wr = self.write.payload
        wr_lane, wr_laddr = split(wr.addr)
        wr_fire = Signal()  # a write is accepted this cycle
        m.d.comb += wr_fire.eq(self.write.valid & self.write.ready)

        h_space = Signal(2)
        h_field = Signal(3)
        h_addr = Signal.like(self.read.payload.addr)
        h_lane, h_laddr = split(h_addr)
        resp = Signal(DATA_WIDTH)

        # ---- Neuron update pipeline: issue (read) → NeuronUpdate stages → write back. ----------------
        # A neuron address issued in cycle t is written back in cycle t + update_latency (n_valid/n_addr
        # carry it along; nw_* is the write-back stage). With a shared-multiplier unit an address is
        # issued every `interval` cycles (phase counts them).
        unit, latency = update_unit(cfg), update_latency(cfg)
        interval = unit.INTERVAL
        phase = Signal(range(interval))
        upd_addr = Signal(cfg.addr_bits)
        in_update = Signal()
        in_deliver = Signal()
        n_valid = [Signal(name=f"n{k}_valid") for k in range(latency + 1)]
        n_addr = [Signal(cfg.addr_bits, name=f"n{k}_addr") for k in range(latency + 1)]
        m.d.comb += [n_valid[0].eq(in_update), n_addr[0].eq(upd_addr)]
        for k in range(latency):
            m.d.sync += n_valid[k + 1].eq(n_valid[k])
            if k == 0 or interval == 1:
                m.d.sync += n_addr[k + 1].eq(n_addr[k])
        nw_valid, nw_addr = n_valid[-1], n_addr[-1]
        if interval > 1:  # one neuron in the unit at a time: its address, latched as it starts, suffices
            with m.If(n_valid[1]):
                m.d.sync += nw_addr.eq(n_addr[1])
        # The update unit's inputs are the memories' read data. The shared unit does not latch them: in
        # UPDATE and FLUSH the read ports read only when an address is issued, and hold their data between.
        hold_reads = Signal()

        # ---- Delivery pipeline: issue (W read) → d1 (W·e) → d2 (rnd, acc read) → d3 (acc write). ---------
        d1_valid = Signal()
        d1_col = Signal(cfg.addr_bits)
        d1_eff = Signal(fmt.frac_e + 1)
        d2_valid = Signal()
        d2_col = Signal(cfg.addr_bits)
        d3_valid = Signal()
        d3_col = Signal(cfg.addr_bits)
        m.d.sync += [d1_valid.eq(sched.issue_valid & in_deliver), d1_col.eq(sched.issue_col),
                     d1_eff.eq(sched.issue_eff),
                     d2_valid.eq(d1_valid), d2_col.eq(d1_col),
                     d3_valid.eq(d2_valid), d3_col.eq(d2_col)]
        m.d.comb += sched.enable.eq(in_deliver)

        updates = []
        for b in range(lanes):
            upd = unit(cfg)
            m.submodules[f"update_{b}"] = upd
            updates.append(upd)
            m.d.comb += upd.regs.eq(regs)
            if cfg.shared_multiplier:
                m.d.comb += upd.start.eq(n_valid[1])  # the memories' data of the issued address
            for f, name in _INPUTS.items():
                m.d.comb += getattr(upd, name).eq(rports[b][f].data)

        # Spike queue push: one entry per update cycle in which any lane fired.
        fires = Cat(*(u.fire for u in updates))
        m.d.comb += [
            sched.push.valid.eq(nw_valid & fires.any()),
            sched.push.payload.addr.eq(nw_addr),
            sched.push.payload.mask.eq(fires),
        ]
        for b, upd in enumerate(updates):
            m.d.comb += sched.push.payload.eff[b].eq(upd.eff)

        # Saturation counters.
        n_sat_v = sum(u.sat_v for u in updates)
        n_sat_u = sum(u.sat_u for u in updates)

        # Memory ports: the pipelines when running, the host otherwise.
        for b in range(lanes):
            # The event's contribution rnd(W[i, c*L+b] * e), in two registered steps.
            # (one event fits the accumulator's width, which bounds N of them)
            # d3 holds rnd_half of the product (one event fits acc_width, so its q = 2 * event + {0, -1}
            # fits two bits more): the accumulate then rounds and adds with one adder.
            d2_prod = Signal(signed(fmt.width_w + fmt.frac_e + 2), name=f"d2_prod_{b}")
            shift = event_shift(fmt, cfg.mutation)
            d3_event = Signal(signed(cfg.acc_width + 2), name=f"d3_event_{b}")
            m.d.sync += [d2_prod.eq(wbanks[b].rdata * d1_eff),
                         d3_event.eq(rnd_half(d2_prod, shift))]
            acc_plus_event = add_rnd_half(rports[b][NeuronField.ACC].data, d3_event)
            for f in NeuronField:
                rp, wp = rports[b][f], wports[b][f]
                m.d.comb += [rp.addr.eq(h_laddr), rp.en.eq(~hold_reads | in_update)]
                with m.If(in_update):
                    m.d.comb += rp.addr.eq(upd_addr)
                if f == NeuronField.ACC:
                    with m.If(d2_valid):
                        m.d.comb += rp.addr.eq(d2_col)
                host_we = wr_fire & (wr.space == Space.NEURON) & (wr.field == f) & (wr_lane == b)
                if f in _UPDATED or f == NeuronField.ACC:
                    new = getattr(updates[b], _UPDATED[f]) if f in _UPDATED else 0
                    # the shared unit gives the generator's next state as it starts (n_valid[1])
                    early = f == NeuronField.RNG and interval > 1
                    with m.If(n_valid[1] if early else nw_valid):
                        m.d.comb += [wp.addr.eq(n_addr[1] if early else nw_addr), wp.data.eq(new), wp.en.eq(1)]
                    if f == NeuronField.ACC:
                        with m.Elif(d3_valid):
                            m.d.comb += [wp.addr.eq(d3_col), wp.data.eq(acc_plus_event), wp.en.eq(1)]
                    with m.Else():
                        m.d.comb += [wp.addr.eq(wr_laddr), wp.data.eq(wr.data), wp.en.eq(host_we)]
                else:
                    m.d.comb += [wp.addr.eq(wr_laddr), wp.data.eq(wr.data), wp.en.eq(host_we)]
            wbank = wbanks[b]
            m.d.comb += wbank.raddr.eq(h_laddr)
            with m.If(in_deliver):
                m.d.comb += wbank.raddr.eq(sched.issue_waddr)
            m.d.comb += [
                wbank.waddr.eq(wr_laddr),
                wbank.wdata.eq(wr.data),
                wbank.we.eq(wr_fire & (wr.space == Space.WEIGHT) & (wr_lane == b)),
            ]

        # A copy of the registers for reading back, in a block RAM: one memory read port instead of a
        # multiplexer over every register bit. Each value is kept as written, in register_word_shape (the
        # command engine has checked its range, so that is the register's value sign- or zero-extended).
        # The shared update unit reads its multiplier operands from it while the neurons are updated.
        reg_word = register_word_shape(fmt)
        reg_bits = bits_for(len(REGISTER_NAMES))
        m.submodules.reg_copy = reg_copy = Memory(shape=reg_word, depth=len(REGISTER_NAMES), init=[],
                                                  attrs=NO_RW_CHECK)  # written only while idle
        reg_copy_wp, reg_copy_rp = reg_copy.write_port(), reg_copy.read_port()
        m.d.comb += [reg_copy_wp.addr.eq(wr.addr), reg_copy_wp.data.eq(wr.data),
                     reg_copy_wp.en.eq(wr_fire & (wr.space == Space.REG)), reg_copy_rp.addr.eq(h_addr)]
        if cfg.shared_multiplier:
            # The noise thresholds as pairs (T_e[m], T_i[m]), one pair per cycle for the shared unit.
            half = NOISE_UNIFORM_BITS + 1
            m.submodules.thresholds = thr = Memory(shape=threshold_pair_width(), depth=NOISE_COUNT_MAX, init=[],
                                                   attrs={"ram_style": "block", **NO_RW_CHECK})  # not 136 flip-flops
            thr_wp, thr_rp = thr.write_port(granularity=half), thr.read_port()
            m.d.comb += [thr_wp.data.eq(Cat(wr.data[:half], wr.data[:half])), thr_rp.addr.eq(updates[0].thr_index)]
            with m.If(wr_fire & (wr.space == Space.REG)):
                with m.Switch(wr.addr[:reg_bits]):
                    for pair in range(NOISE_COUNT_MAX):
                        for half_index, source in enumerate(("exc", "inh")):  # low half, high half
                            with m.Case(REGISTER_NAMES.index(f"noise_thr_{source}{pair}")):
                                m.d.comb += [thr_wp.addr.eq(pair), thr_wp.en.eq(1 << half_index)]
            with m.If(hold_reads):
                m.d.comb += reg_copy_rp.addr.eq(updates[0].reg_index)
            for upd in updates:
                m.d.comb += [upd.reg_data.eq(reg_copy_rp.data), upd.thr_data.eq(thr_rp.data)]

        # Host writes of registers and counters.
        # Registers and counters are decoded on the low address bits only: the command engine has
        # checked every address against its space (an out-of-range address never reaches the core).
        ctr_bits = int(max(StatusCounter)).bit_length()
        with m.If(wr_fire & (wr.space == Space.REG)):
            with m.Switch(wr.addr[:reg_bits]):
                for k, name in enumerate(REGISTER_NAMES):
                    with m.Case(k):
                        m.d.sync += regs[name].eq(wr.data)
        counters = {StatusCounter.TICKS: ticks, StatusCounter.CYCLES_LAST_TICK: cycles_last,
                    StatusCounter.SATURATED_V: sat_v, StatusCounter.SATURATED_U: sat_u}
        with m.If(nw_valid):
            m.d.sync += [sat_v.eq(sat_v + n_sat_v), sat_u.eq(sat_u + n_sat_u)]
        with m.If(wr_fire & (wr.space == Space.STATUS)):
            with m.Switch(wr.addr[:ctr_bits]):
                for k, sig in counters.items():
                    with m.Case(k):
                        m.d.sync += sig.eq(wr.data)

        # ---- Control. ---------------------------------------------------------------------------------
        # Width of every readable value but the generator state, as a signed number.
        readable = [reg_word, signed(fmt.width_w),
                    *(cfg.field_shape(f) for f in NeuronField if f != NeuronField.RNG)]
        narrow_width = max(sh.width + (0 if sh.signed else 1) for sh in readable)
        wait = Signal(range(max(latency, DELIVERY_LATENCY) + 1))  # cycles left in FLUSH / DRAIN
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.write.ready.eq(1), self.run.ready.eq(1), self.read.ready.eq(~self.run.valid)]
                with m.If(self.run.valid & (self.run.payload != 0)):
                    m.d.sync += remaining.eq(self.run.payload)
                    m.next = "START"
                with m.Elif(self.read.valid):
                    rq = self.read.payload
                    m.d.sync += [h_space.eq(rq.space), h_field.eq(rq.field), h_addr.eq(rq.addr)]
                    m.next = "RD_ISSUE"
            with m.State("START"):
                m.d.comb += [busy.eq(1), sched.clear.eq(1)]
                m.d.sync += [cycles.eq(1), upd_addr.eq(0), phase.eq(0)]
                m.next = "UPDATE"
            with m.State("UPDATE"):
                m.d.comb += [busy.eq(1), in_update.eq(phase == 0), hold_reads.eq(interval > 1)]
                m.d.sync += cycles.eq(cycles_next)
                if interval > 1:
                    m.d.sync += phase.eq(Mux(phase == interval - 1, 0, phase + 1))
                with m.If(phase == interval - 1):
                    m.d.sync += upd_addr.eq(upd_addr + 1)
                with m.If((upd_addr == depth - 1) & (phase == 0)):  # the last address is issued
                    m.d.sync += wait.eq(latency - 1)
                    m.next = "FLUSH"
            with m.State("FLUSH"):  # update_latency cycles: the last write-back and queue push happen
                m.d.comb += [busy.eq(1), hold_reads.eq(interval > 1)]
                m.d.sync += [cycles.eq(cycles_next), wait.eq(wait - 1)]
                with m.If(wait == 0):
                    m.next = "DELIVER"
            with m.State("DELIVER"):
                m.d.comb += [busy.eq(1), in_deliver.eq(1)]
                m.d.sync += cycles.eq(cycles_next)
                # Leave with the last column's issue: its accumulate (d3) is written during END.
                with m.If(~sched.busy | sched.last):
                    if DELIVERY_LATENCY > 1:
                        m.d.sync += wait.eq(DELIVERY_LATENCY - 2)
                        m.next = "DRAIN"
                    else:
                        m.next = "END"
            with m.State("DRAIN"):  # DELIVERY_LATENCY - 1 cycles: the delivery pipeline drains
                m.d.comb += busy.eq(1)
                m.d.sync += [cycles.eq(cycles_next), wait.eq(wait - 1)]
                with m.If(wait == 0):
                    m.next = "END"
            with m.State("END"):
                m.d.comb += busy.eq(1)
                m.d.sync += [ticks.eq(ticks + 1), cycles_last.eq(cycles_next), remaining.eq(remaining - 1)]
                with m.If(remaining == 1):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "START"
            with m.State("RD_ISSUE"):  # the read ports see h_laddr this cycle
                m.next = "RD_DATA"
            with m.State("RD_DATA"):
                # Every value but the generator state fits `narrow` (signed, sign-extended below): the
                # wide multiplexer is built once, at the widths of the values, not at DATA_WIDTH.
                narrow = Signal(signed(narrow_width))
                with m.Switch(h_space):
                    with m.Case(Space.REG):
                        m.d.comb += narrow.eq(reg_copy_rp.data.as_signed())
                    with m.Case(Space.NEURON):
                        with m.Switch(Cat(h_field, h_lane) if lanes > 1 else h_field):
                            for b in range(lanes):
                                for f in NeuronField:
                                    if f != NeuronField.RNG:
                                        with m.Case(int(f) | (b << 3)):
                                            m.d.comb += narrow.eq(rports[b][f].data)
                    with m.Case(Space.WEIGHT):
                        weight = wbanks[0].rdata
                        for b in range(1, lanes):
                            weight = Mux(h_lane == b, wbanks[b].rdata, weight)
                        m.d.comb += narrow.eq(weight)
                rng_data = rports[0][NeuronField.RNG].data
                for b in range(1, lanes):
                    rng_data = Mux(h_lane == b, rports[b][NeuronField.RNG].data, rng_data)
                m.d.sync += resp.eq(Mux((h_space == Space.NEURON) & (h_field == NeuronField.RNG), rng_data,
                                        narrow.as_signed()))
                m.next = "RD_RESP"
            with m.State("RD_RESP"):
                m.d.comb += [self.read_data.valid.eq(1), self.read_data.payload.eq(resp)]
                with m.If(self.read_data.ready):
                    m.next = "IDLE"

        m.d.comb += [
            self.status.busy.eq(busy),
            self.status.ticks.eq(ticks),
            self.status.cycles_last_tick.eq(cycles_last),
            self.status.saturated_v.eq(sat_v),
            self.status.saturated_u.eq(sat_u),
        ]
        return m
