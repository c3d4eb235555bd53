"""The core's global registers: flip-flops for the lanes' arithmetic, and block-RAM copies to read."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import NOISE_COUNT_MAX, NOISE_UNIFORM_BITS, REGISTER_NAMES

from .config import DATA_WIDTH, NO_RW_CHECK, CoreConfig, bits_for, register_word_shape, threshold_pair_width
from .neuron import register_layout

__all__ = ["RegisterFile", "REGISTER_ADDR_BITS"]

#: Low address bits on which the core decodes a register (the command engine has checked the rest).
REGISTER_ADDR_BITS = bits_for(len(REGISTER_NAMES))


class RegisterFile(wiring.Component):
    """The global registers (spec.REGISTER_NAMES), written by the host.

    Each register is a flip-flop field of ``regs``, which the lanes' update units use. A copy of the
    registers is kept in a block RAM for reading back: one memory read port instead of a multiplexer
    over every register bit. Each value is kept as written, in `register_word_shape` (the command
    engine has checked its range, so that is the register's value sign- or zero-extended). With a
    shared multiplier (`CoreConfig.shared_multiplier`) the update unit reads its multiplier operands
    from that copy while ``hold`` is high, and the noise thresholds, as pairs (T_e[m], T_i[m]), from a
    second small memory (not 136 flip-flops), one pair per cycle.

    Latency: a write shows on ``regs`` from the next cycle on; the copies' read ports are synchronous
    (the data of the address of one cycle shows in the next).

    Parameters
    ----------
    cfg : CoreConfig
        The core (formats; ``shared_multiplier`` adds the ports of the shared unit).

    Members
    -------
    we : :py:`In(1)`
        A host write of register ``addr``.
    addr : :py:`In(REGISTER_ADDR_BITS)`
        The register's index in spec.REGISTER_NAMES.
    data : :py:`In(DATA_WIDTH)`
        The value written (two's complement; cut to the register's width).
    regs : :py:`Out(register_layout(cfg))`
        Every register.
    read_addr : :py:`In(REGISTER_ADDR_BITS)`
        The register the copy reads (a host read).
    read_data : :py:`Out(register_word_shape(cfg.formats))`
        The copy's value of the register addressed in the cycle before.
    hold : :py:`In(1)`
        Shared multiplier only: the copy reads ``unit_index`` instead of ``read_addr``.
    unit_index : :py:`In(range(len(REGISTER_NAMES)))`
        Shared multiplier only: the register the update unit asks for.
    thr_index : :py:`In(range(NOISE_COUNT_MAX))`
        Shared multiplier only: the threshold pair m the update unit asks for.
    thr_data : :py:`Out(threshold_pair_width())`
        Shared multiplier only: the pair asked for in the cycle before (T_e[m] low, T_i[m] high).
    last_row : :py:`Out(cfg.addr_bits)`
        The last neuron address a tick updates and delivers to: ceil(n_active / L) - 1 (M - 1 for
        n_active = 0 or >= N). Registered: it follows a write of n_active a cycle later than ``regs``.
    last_lanes : :py:`Out(cfg.lanes)`
        The lanes whose neuron at ``last_row`` is active (below n_active), one bit each.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        ports = {
            "we": In(1),
            "addr": In(REGISTER_ADDR_BITS),
            "data": In(DATA_WIDTH),
            "regs": Out(register_layout(cfg)),
            "read_addr": In(REGISTER_ADDR_BITS),
            "read_data": Out(register_word_shape(cfg.formats)),
            "last_row": Out(cfg.addr_bits, init=cfg.depth - 1),
            "last_lanes": Out(cfg.lanes, init=(1 << cfg.lanes) - 1),
        }
        if cfg.shared_multiplier:
            ports.update({
                "hold": In(1),
                "unit_index": In(range(len(REGISTER_NAMES))),
                "thr_index": In(range(NOISE_COUNT_MAX)),
                "thr_data": Out(threshold_pair_width()),
            })
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        with m.If(self.we):
            with m.Switch(self.addr):
                for k, name in enumerate(REGISTER_NAMES):
                    if name in self.regs.shape().members:  # the readout's are absent without it
                        with m.Case(k):
                            m.d.sync += self.regs[name].eq(self.data)

        # The active rows, from n_active: registered, off the update loop's paths (a run starts at
        # least two cycles after the write: the write, then the run request taken in IDLE).
        n_active, lanes, bits = self.regs.n_active, cfg.lanes, cfg.lane_bits
        with m.If((n_active == 0) | (n_active >= cfg.n_neurons)):
            m.d.sync += [self.last_row.eq(cfg.depth - 1), self.last_lanes.eq((1 << lanes) - 1)]
        with m.Else():
            m.d.sync += self.last_row.eq(((n_active + lanes - 1) >> bits) - 1)
            if lanes > 1:
                rem = n_active[:bits]
                m.d.sync += self.last_lanes.eq(Mux(rem == 0, (1 << lanes) - 1, (Const(1, lanes + 1) << rem) - 1))
        m.submodules.reg_copy = reg_copy = Memory(shape=register_word_shape(cfg.formats), depth=len(REGISTER_NAMES),
                                                  init=[], attrs=NO_RW_CHECK)  # written only while idle
        copy_wp, copy_rp = reg_copy.write_port(), reg_copy.read_port()
        m.d.comb += [copy_wp.addr.eq(self.addr), copy_wp.data.eq(self.data), copy_wp.en.eq(self.we),
                     copy_rp.addr.eq(self.read_addr), self.read_data.eq(copy_rp.data)]
        if cfg.shared_multiplier:
            half = NOISE_UNIFORM_BITS + 1
            m.submodules.thresholds = thr = Memory(shape=threshold_pair_width(), depth=NOISE_COUNT_MAX, init=[],
                                                   attrs={"ram_style": "block", **NO_RW_CHECK})
            thr_wp, thr_rp = thr.write_port(granularity=half), thr.read_port()
            m.d.comb += [thr_wp.data.eq(Cat(self.data[:half], self.data[:half])), thr_rp.addr.eq(self.thr_index),
                         self.thr_data.eq(thr_rp.data)]
            with m.If(self.we):
                with m.Switch(self.addr):
                    for pair in range(NOISE_COUNT_MAX):
                        for half_index, source in enumerate(("exc", "inh")):  # low half, high half
                            with m.Case(REGISTER_NAMES.index(f"noise_thr_{source}{pair}")):
                                m.d.comb += [thr_wp.addr.eq(pair), thr_wp.en.eq(1 << half_index)]
            with m.If(self.hold):
                m.d.comb += copy_rp.addr.eq(self.unit_index)
        return m
