"""The answer to a host read: the request's latch and the multiplexer over the core's memories."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import DATA_WIDTH, CoreConfig, NeuronField, Space, read_layout, register_word_shape

__all__ = ["HostRead", "lane_data_layout"]


def lane_data_layout(cfg: CoreConfig) -> data.StructLayout:
    """The read data of one lane's neuron memories, a member per field (named as `NeuronField`, lower case)."""
    return data.StructLayout({f.name.lower(): cfg.field_shape(f) for f in NeuronField})


def split_address(cfg: CoreConfig, addr):
    """(lane, lane address) of a neuron index, or of a weight index pre * N + post."""
    lb = cfg.lane_bits
    return (addr[:lb] if lb else 0), addr[lb:]


class HostRead(wiring.Component):
    """A read request's address, and the value it names taken from the memories' read ports.

    The request is latched (``take``); its lane address goes to every lane's memories and weight bank,
    its register index to the register copy. With ``sample``, in the cycle after (when the read ports
    show the addressed words), the value is chosen by space, field and lane and registered, sign-
    extended to DATA_WIDTH bits (the generator state, which alone is 64 bits wide, as it is). Every
    other value fits a narrower signed word, so the multiplexer is built at the values' widths, not at
    DATA_WIDTH. Latency: ``answer`` holds the value from the cycle after ``sample``.

    Parameters
    ----------
    cfg : CoreConfig
        The core (lanes, field shapes, formats).

    Members
    -------
    request : :py:`In(read_layout(cfg))`
        A read request (space REG, NEURON or WEIGHT; the counters are read from the status port).
    take : :py:`In(1)`
        Latch ``request``.
    addr : :py:`Out(cfg.port_addr_bits)`
        The latched request's address (a register's index in space REG).
    lane_addr : :py:`Out(cfg.port_addr_bits - cfg.lane_bits)`
        Its address within the lane (neuron j at j // L; weight pre * N + post at its index // L).
    reg_data : :py:`In(register_word_shape(cfg.formats))`
        The register copy's read data.
    fields : :py:`In(data.ArrayLayout(lane_data_layout(cfg), cfg.lanes))`
        Each lane's neuron memories' read data.
    weights : :py:`In(data.ArrayLayout(signed(cfg.formats.width_w), cfg.lanes))`
        Each lane's weight bank's read data.
    sample : :py:`In(1)`
        Register the value named by the latched request.
    answer : :py:`Out(DATA_WIDTH)`
        The value registered at the last ``sample``, sign-extended.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "request": In(read_layout(cfg)),
            "take": In(1),
            "addr": Out(cfg.port_addr_bits),
            "lane_addr": Out(cfg.port_addr_bits - cfg.lane_bits),
            "reg_data": In(register_word_shape(cfg.formats)),
            "fields": In(data.ArrayLayout(lane_data_layout(cfg), cfg.lanes)),
            "weights": In(data.ArrayLayout(signed(cfg.formats.width_w), cfg.lanes)),
            "sample": In(1),
            "answer": Out(DATA_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, lanes = self.cfg, self.cfg.formats, self.cfg.lanes
        rq = self.request
        h_space = Signal.like(rq.space)
        h_field = Signal.like(rq.field)
        h_addr = Signal.like(rq.addr)
        with m.If(self.take):
            m.d.sync += [h_space.eq(rq.space), h_field.eq(rq.field), h_addr.eq(rq.addr)]
        h_lane, h_laddr = split_address(cfg, h_addr)
        m.d.comb += [self.addr.eq(h_addr), self.lane_addr.eq(h_laddr)]

        # Width of every readable value but the generator state, as a signed number.
        readable = [register_word_shape(fmt), signed(fmt.width_w),
                    *(cfg.field_shape(f) for f in NeuronField if f != NeuronField.RNG)]
        narrow = Signal(signed(max(sh.width + (0 if sh.signed else 1) for sh in readable)))
        with m.Switch(h_space):
            with m.Case(Space.REG):
                m.d.comb += narrow.eq(self.reg_data.as_signed())
            with m.Case(Space.NEURON):
                with m.Switch(Cat(h_field, h_lane) if lanes > 1 else h_field):
                    for b in range(lanes):
                        for f in NeuronField:
                            if f != NeuronField.RNG:
                                with m.Case(int(f) | (b << len(h_field))):
                                    m.d.comb += narrow.eq(self.fields[b][f.name.lower()])
            with m.Case(Space.WEIGHT):
                weight = self.weights[0]
                for b in range(1, lanes):
                    weight = Mux(h_lane == b, self.weights[b], weight)
                m.d.comb += narrow.eq(weight)
        rng_data = self.fields[0].rng
        for b in range(1, lanes):
            rng_data = Mux(h_lane == b, self.fields[b].rng, rng_data)
        with m.If(self.sample):
            m.d.sync += self.answer.eq(Mux((h_space == Space.NEURON) & (h_field == NeuronField.RNG), rng_data,
                                           narrow.as_signed()))
        return m
