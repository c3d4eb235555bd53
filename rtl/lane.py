"""One lane of the core: its neurons' memories and weight bank, its neuron update unit and its share
of the synaptic events, and the choice, cycle by cycle, of who uses each memory port."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import NOISE_COUNT_MAX, REGISTER_NAMES

from .arith import add_rnd_half, rnd_half
from .config import (DATA_WIDTH, NO_RW_CHECK, CoreConfig, NeuronField, bits_for, register_word_shape,
                     threshold_pair_width)
from .delivery import event_shift
from .host_read import lane_data_layout
from .neuron import NeuronUpdate, register_layout
from .neuron_shared import SharedNeuronUpdate
from .weights import WeightBank

__all__ = ["Lane", "update_unit", "update_latency", "DELIVERY_LATENCY"]


def update_unit(cfg: CoreConfig) -> type[NeuronUpdate]:
    """The neuron update each lane of this core uses."""
    return SharedNeuronUpdate if cfg.shared_multiplier else NeuronUpdate


def update_latency(cfg: CoreConfig) -> int:
    """Cycles from a neuron address issued to the memories to its write-back: the read, then the unit."""
    return 1 + update_unit(cfg).LATENCY


#: Cycles from a weight address issued to the accumulator written: the weight read (W, e registered),
#: the product W * e, its rounding (and the accumulator read), then acc + rnd(W * e) is written.
DELIVERY_LATENCY = 3

#: Fields the neuron update writes back each tick (EL and CLAMP are configuration, written by the host).
_UPDATED = {
    NeuronField.V: "v_next", NeuronField.U: "u_next", NeuronField.REF: "ref_next",
    NeuronField.RES: "res_next", NeuronField.RNG: "rng_next",
}
_INPUTS = {
    NeuronField.V: "v", NeuronField.U: "u", NeuronField.REF: "ref", NeuronField.RES: "res",
    NeuronField.RNG: "rng", NeuronField.EL: "e_l", NeuronField.CLAMP: "clamp", NeuronField.ACC: "acc",
}


class Lane(wiring.Component):
    """Lane b of the core: neurons j with j % L == b at address j // L, and their weights column-wise.

    A memory per neuron field (depth M = N / L) and a weight bank (depth N * M: W[i, c * L + b] at
    i * M + c). Their ports serve, in order of priority:

    - the neuron update (``issue``): every field memory reads ``addr`` into the update unit; the
      unit's results are written back at ``wb_addr`` with ``wb_valid`` (the shared unit's generator
      state at ``start_addr`` with ``start``), and ACC is cleared there.
    - the delivery of a spike (``deliver``): the bank reads ``waddr``; the next cycle the product
      W * ``eff`` is registered, the cycle after it is rounded (rnd_half, one event in acc_width + 2
      bits) while ACC reads ``acc_read_addr`` (``acc_read``), and the next ACC[``acc_write_addr``]
      takes acc + rnd(W * e, event_shift) (``acc_write``): DELIVERY_LATENCY cycles from issue to write.
    - the host: the memories read ``host_addr`` (``data`` and ``weight`` in the next cycle) and take
      ``wr_data`` at ``wr_addr`` (``wr_neuron``: field ``wr_field``; ``wr_weight``: the bank).

    No field memory but ACC is ever read and written at one address in one cycle (the update reads
    an address several cycles before it writes it back, the host reads and writes in separate
    cycles), so they carry `NO_RW_CHECK`; ACC's read port is transparent for its write port, which
    the delivery's read-modify-write needs (a write and the next row's read of one address meet when
    M = 1). With the shared unit the read ports read only when an address is issued while ``hold``
    is high, so their data stays valid for the whole neuron.

    Parameters
    ----------
    cfg : CoreConfig
        The core.
    weight_bank : callable
        factory(shape, depth) of the weight bank (rtl/weights.py).

    Members
    -------
    regs : :py:`In(register_layout(cfg))`
        The global registers.
    issue : :py:`In(1)`
        The field memories read ``addr`` for the update unit.
    addr : :py:`In(cfg.addr_bits)`
        The neuron address issued.
    hold : :py:`In(1)`
        The field memories' read ports read only with ``issue`` (shared unit: UPDATE and FLUSH).
    start : :py:`In(1)`
        The data of the issued address is at the read ports (the shared unit starts the neuron).
    start_addr : :py:`In(cfg.addr_bits)`
        The address whose data is at the read ports.
    wb_valid : :py:`In(1)`
        The update unit's results are written back in this cycle.
    wb_addr : :py:`In(cfg.addr_bits)`
        The address they are written back to.
    fire : :py:`Out(1)`
        The neuron written back fires (with ``wb_valid``).
    eff : :py:`Out(cfg.formats.frac_e + 1)`
        Its spike's efficacy e.
    sat_v : :py:`Out(1)`
        Its V saturated in this update.
    sat_u : :py:`Out(1)`
        Its u saturated in this update.
    deliver : :py:`In(1)`
        The weight bank reads ``waddr`` (the delivery phase).
    waddr : :py:`In(range(cfg.n_neurons * cfg.depth))`
        The weight address of the column issued.
    event_eff : :py:`In(cfg.formats.frac_e + 1)`
        The efficacy of the spike whose weight was read in the cycle before.
    acc_read : :py:`In(1)`
        ACC reads ``acc_read_addr`` (the event's accumulator).
    acc_read_addr : :py:`In(cfg.addr_bits)`
        The event's column c (accumulator of neuron c * L + b).
    acc_write : :py:`In(1)`
        ACC[``acc_write_addr``] takes acc + rnd(W * e).
    acc_write_addr : :py:`In(cfg.addr_bits)`
        The column of the event being written.
    last_row : :py:`In(cfg.addr_bits)`
        The last address updated and delivered to (`RegisterFile.last_row`).
    last_active : :py:`In(1)`
        This lane's neuron at ``last_row`` is active (below n_active): if not, nothing is written
        there (no write-back, no event) and it never fires or counts a saturation. Only with L > 1:
        with one lane the last row always is.
    z_addr : :py:`In(cfg.addr_bits)`
        States readout only: the address whose state bit ``z`` shows in the next cycle.
    z : :py:`Out(1)`
        States readout only: the state of the neuron at ``z_addr`` in the last tick it was updated
        (it fired or was refractory), or after a host write of its REF, whether REF is nonzero.
    host_addr : :py:`In(range(cfg.n_neurons * cfg.depth))`
        The host's read address in the lane (the field memories use its low bits).
    data : :py:`Out(lane_data_layout(cfg))`
        The field memories' read data.
    weight : :py:`Out(signed(cfg.formats.width_w))`
        The weight bank's read data.
    wr_addr : :py:`In(range(cfg.n_neurons * cfg.depth))`
        The host's write address in the lane.
    wr_data : :py:`In(DATA_WIDTH)`
        The value written (cut to the field's width).
    wr_field : :py:`In(bits_for(len(NeuronField)))`
        The field written with ``wr_neuron``.
    wr_neuron : :py:`In(1)`
        A host write of a neuron field of this lane.
    wr_weight : :py:`In(1)`
        A host write of a weight of this lane.
    reg_index : :py:`Out(range(len(REGISTER_NAMES)))`
        Shared unit only: the register its multiplier asks for.
    reg_data : :py:`In(register_word_shape(cfg.formats))`
        Shared unit only: that register's value, a cycle later.
    thr_index : :py:`Out(range(NOISE_COUNT_MAX))`
        Shared unit only: the threshold pair it asks for.
    thr_data : :py:`In(threshold_pair_width())`
        Shared unit only: that pair, a cycle later.
    """

    def __init__(self, cfg: CoreConfig, weight_bank=None):
        self.cfg = cfg
        self.weight_bank = weight_bank or WeightBank
        fmt, n_weights = cfg.formats, cfg.n_neurons * cfg.depth
        ports = {
            "regs": In(register_layout(cfg)),
            "issue": In(1),
            "addr": In(cfg.addr_bits),
            "hold": In(1),
            "start": In(1),
            "start_addr": In(cfg.addr_bits),
            "wb_valid": In(1),
            "wb_addr": In(cfg.addr_bits),
            "fire": Out(1),
            "eff": Out(fmt.frac_e + 1),
            "sat_v": Out(1),
            "sat_u": Out(1),
            "deliver": In(1),
            "waddr": In(range(n_weights)),
            "event_eff": In(fmt.frac_e + 1),
            "acc_read": In(1),
            "acc_read_addr": In(cfg.addr_bits),
            "acc_write": In(1),
            "acc_write_addr": In(cfg.addr_bits),
            "last_row": In(cfg.addr_bits),
            "last_active": In(1),
            "host_addr": In(range(n_weights)),
            "data": Out(lane_data_layout(cfg)),
            "weight": Out(signed(fmt.width_w)),
            "wr_addr": In(range(n_weights)),
            "wr_data": In(DATA_WIDTH),
            "wr_field": In(bits_for(len(NeuronField))),
            "wr_neuron": In(1),
            "wr_weight": In(1),
        }
        if cfg.states_readout:
            ports.update({"z_addr": In(cfg.addr_bits), "z": Out(1)})
        if cfg.shared_multiplier:
            ports.update({
                "reg_index": Out(range(len(REGISTER_NAMES))),
                "reg_data": In(register_word_shape(fmt)),
                "thr_index": Out(range(NOISE_COUNT_MAX)),
                "thr_data": In(threshold_pair_width()),
            })
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, depth = self.cfg, self.cfg.formats, self.cfg.depth
        interval = update_unit(cfg).INTERVAL

        rports, wports = {}, {}
        style = {"ram_style": "block"} if cfg.fields_in_block_ram else {}
        for f in NeuronField:
            mem = Memory(shape=cfg.field_shape(f), depth=depth, init=[],
                         attrs=style if f == NeuronField.ACC else {**style, **NO_RW_CHECK})
            m.submodules[f.name.lower()] = mem
            wports[f] = wp = mem.write_port()
            rports[f] = mem.read_port(transparent_for=[wp] if f == NeuronField.ACC else [])
            m.d.comb += self.data[f.name.lower()].eq(rports[f].data)
        m.submodules.weights = wbank = self.weight_bank(signed(fmt.width_w), cfg.n_neurons * depth)
        m.d.comb += self.weight.eq(wbank.rdata)

        m.submodules.update = upd = update_unit(cfg)(cfg)
        m.d.comb += upd.regs.eq(self.regs)
        if cfg.shared_multiplier:
            m.d.comb += [upd.start.eq(self.start),  # the memories' data of the issued address
                         self.reg_index.eq(upd.reg_index), upd.reg_data.eq(self.reg_data),
                         self.thr_index.eq(upd.thr_index), upd.thr_data.eq(self.thr_data)]
        for f, name in _INPUTS.items():
            m.d.comb += getattr(upd, name).eq(rports[f].data)
        # A neuron at or beyond n_active (only in the last row, and only with L > 1: whole rows beyond
        # it are never issued) is computed but neither written back nor fired nor counted.
        def active(addr):
            return (addr != self.last_row) | self.last_active if cfg.lanes > 1 else 1
        wb_on, start_on, acc_on = Signal(), Signal(), Signal()
        m.d.comb += [wb_on.eq(self.wb_valid & active(self.wb_addr)), start_on.eq(self.start & active(self.start_addr)),
                     acc_on.eq(self.acc_write & active(self.acc_write_addr))]
        m.d.comb += [self.fire.eq(upd.fire & wb_on), self.eff.eq(upd.eff), self.sat_v.eq(upd.sat_v & wb_on),
                     self.sat_u.eq(upd.sat_u & wb_on)]

        # The event's contribution rnd(W[i, c*L+b] * e), in two registered steps: d3 holds rnd_half of
        # the product (one event fits acc_width, so its q = 2 * event + {0, -1} fits two bits more), so
        # the accumulate then rounds and adds with one adder.
        d2_prod = Signal(signed(fmt.width_w + fmt.frac_e + 2))
        d3_event = Signal(signed(cfg.acc_width + 2))
        m.d.sync += [d2_prod.eq(wbank.rdata * self.event_eff),
                     d3_event.eq(rnd_half(d2_prod, event_shift(fmt, cfg.mutation)))]
        acc_plus_event = add_rnd_half(rports[NeuronField.ACC].data, d3_event)

        for f in NeuronField:
            rp, wp = rports[f], wports[f]
            m.d.comb += [rp.addr.eq(self.host_addr), rp.en.eq(~self.hold | self.issue)]
            with m.If(self.issue):
                m.d.comb += rp.addr.eq(self.addr)
            if f == NeuronField.ACC:
                with m.If(self.acc_read):
                    m.d.comb += rp.addr.eq(self.acc_read_addr)
            host_we = self.wr_neuron & (self.wr_field == f)
            if f in _UPDATED or f == NeuronField.ACC:
                new = getattr(upd, _UPDATED[f]) if f in _UPDATED else 0
                # the shared unit gives the generator's next state as it starts
                early = f == NeuronField.RNG and interval > 1
                with m.If(start_on if early else wb_on):
                    m.d.comb += [wp.addr.eq(self.start_addr if early else self.wb_addr), wp.data.eq(new),
                                 wp.en.eq(1)]
                if f == NeuronField.ACC:
                    with m.Elif(acc_on):
                        m.d.comb += [wp.addr.eq(self.acc_write_addr), wp.data.eq(acc_plus_event), wp.en.eq(1)]
                with m.Else():
                    m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data), wp.en.eq(host_we)]
            else:
                m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data), wp.en.eq(host_we)]

        if cfg.states_readout:
            # The state bits: the update's at write-back; a host write of REF gives REF != 0 (the
            # state of a neuron that no tick updates, beyond n_active).
            zmem = Memory(shape=1, depth=depth, init=[], attrs=NO_RW_CHECK)  # read only between ticks
            m.submodules.z = zmem
            z_wp, z_rp = zmem.write_port(), zmem.read_port()
            ref_bits = cfg.field_shape(NeuronField.REF).width
            with m.If(wb_on):
                m.d.comb += [z_wp.addr.eq(self.wb_addr), z_wp.data.eq(upd.on), z_wp.en.eq(1)]
            with m.Else():
                m.d.comb += [z_wp.addr.eq(self.wr_addr), z_wp.data.eq(self.wr_data[:ref_bits].any()),
                             z_wp.en.eq(self.wr_neuron & (self.wr_field == NeuronField.REF))]
            m.d.comb += [z_rp.addr.eq(self.z_addr), self.z.eq(z_rp.data)]

        m.d.comb += wbank.raddr.eq(self.host_addr)
        with m.If(self.deliver):
            m.d.comb += wbank.raddr.eq(self.waddr)
        m.d.comb += [wbank.waddr.eq(self.wr_addr), wbank.wdata.eq(self.wr_data), wbank.we.eq(self.wr_weight)]
        return m
