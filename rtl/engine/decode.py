"""The checks of a command's header, in the golden emulator's order, and the layout of its values.

`CommandDecoder` answers, for the frame's opcode, length and burst header: the error code that the
first failing check gives (UNKNOWN_OPCODE, BUSY, BAD_LENGTH, BAD_ADDRESS; 0 if all pass) and the
detail an ERROR frame carries for it, the burst's fields at the widths they have once checked, and
where a byte of a value stands among the value's bytes on the wire.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import CoreConfig, bits_for

from .cobs import ADDR_BITS
from .compare import at_least, at_most, clamp16
from .payload import field_width, fields_of

__all__ = ["CommandDecoder", "SPACE_BITS", "FIELD_BITS", "DETAIL_BITS"]

#: Bits of a checked space and of a checked neuron field.
SPACE_BITS = max(P.Space).bit_length()
FIELD_BITS = max(P.NeuronField).bit_length()
#: Bits of an ERROR frame's detail.
DETAIL_BITS = field_width(P.ERROR_PAYLOAD, 2)


class CommandDecoder(wiring.Component):
    """The checks of a command frame's header and the wire layout of its values.

    Every space is far smaller than the 32-bit address of the burst header: the space, field, address
    and count are copied (``narrow``) at the widths they have once the range check has passed, which
    is all the values of the burst need; count * nb is then a shift. Comparisons with constants are
    tests of bits (`lifstp.rtl.engine.compare`).

    Latency: the outputs but ``space``, ``field``, ``addr``, ``count`` are combinational. The checks
    of space and range and the burst length use the narrowed fields, so they hold from the cycle after
    a ``narrow`` on.

    Parameters
    ----------
    cfg : CoreConfig
        The core behind the engine (its N and formats give the spaces' sizes and wire widths).

    Attributes
    ----------
    addr_bits, count_bits : int
        Widths of a checked address (the largest space's) and count (at most the largest space).
    wire_sizes : set of int
        Bytes on the wire of a value, over every space and field.

    Members
    -------
    op : :py:`In(8)`
        The frame's opcode.
    length : :py:`In(ADDR_BITS)`
        The frame's decoded length (opcode, seq, payload, CRC).
    header : :py:`In(8 * BURST_HEADER.size)`
        The payload's first bytes, little-endian: a burst's header (space, field, address, count).
    running : :py:`In(1)`
        A run is in progress (commands but CREDIT, STOP and STATUS are refused with BUSY).
    narrow : :py:`In(1)`
        Copy the header's space, field, address and count into the narrowed outputs at the clock edge.
    space : :py:`Out(SPACE_BITS)`
        The header's space, as last narrowed.
    field : :py:`Out(FIELD_BITS)`
        The header's neuron field, as last narrowed.
    addr : :py:`Out(addr_bits)`
        The header's address, as last narrowed (exact once the range check has passed).
    count : :py:`Out(count_bits)`
        The header's count, as last narrowed (exact once the range check has passed).
    burst : :py:`Out(1)`
        The opcode is WRITE or READ.
    status : :py:`Out(1)`
        The opcode is STATUS (whose reply is sent like a READ of the six counters).
    error : :py:`Out(range(max(Err) + 1))`
        The error code of the first check that fails, in the emulator's order (unknown opcode; BUSY;
        payload length; a burst's space or field, count 0 or a range past the space; a burst's
        length, or a READ reply past MAX_PAYLOAD); 0 when every check passes.
    length_detail : :py:`Out(DETAIL_BITS)`
        The detail of BAD_LENGTH: the payload length expected (a WRITE with a whole header:
        min(8 + count * nb, 0xFFFF); other bursts 8; the other commands their fixed length).
    address_detail : :py:`Out(DETAIL_BITS)`
        The detail of BAD_ADDRESS: the address for a bad space or field, else min(addr + count, 0xFFFF).
    byte : :py:`In(3)`
        The index of a byte within a value (the value register holds eight).
    past_bytes : :py:`Out(1)`
        Byte ``byte`` lies past the wire bytes of a value of the narrowed space and field (of a status
        counter for STATUS).
    before_last : :py:`Out(1)`
        Byte ``byte`` comes before that value's last wire byte.
    last_byte : :py:`Out(1)`
        Byte ``byte`` is that value's last wire byte.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        n, fmt = cfg.n_neurons, cfg.formats
        #: the spaces of this device: space STATS only with the statistics readout
        self.spaces = [s for s in P.Space if s != P.Space.STATS or cfg.states_readout]
        self._sizes = {s: P.space_size(s, n) for s in self.spaces}
        self.addr_bits = bits_for(max(self._sizes.values()))
        self._hdr_count_bits = field_width(P.BURST_HEADER, 3)
        # addr + count is exact below 2^sum_bits
        self._sum_bits = min(max(self._hdr_count_bits, self.addr_bits), field_width(P.BURST_HEADER, 2))
        self.count_bits = min(self.addr_bits + 1, self._hdr_count_bits)
        self.wire_sizes = {P.wire_bytes(s, f, fmt, n) for s in self.spaces
                           for f in (P.NeuronField if s == P.Space.NEURON else [0])}
        super().__init__({
            "op": In(8),
            "length": In(ADDR_BITS),
            "header": In(8 * P.BURST_HEADER.size),
            "running": In(1),
            "narrow": In(1),
            "space": Out(SPACE_BITS),
            "field": Out(FIELD_BITS),
            "addr": Out(self.addr_bits),
            "count": Out(self.count_bits),
            "burst": Out(1),
            "status": Out(1),
            "error": Out(range(max(P.Err) + 1)),
            "length_detail": Out(DETAIL_BITS),
            "address_detail": Out(DETAIL_BITS),
            "byte": In(3),
            "past_bytes": Out(1),
            "before_last": Out(1),
            "last_byte": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, n, sizes, op = self.cfg, self.cfg.formats, self.cfg.n_neurons, self._sizes, self.op
        wire_sizes = self.wire_sizes
        space, field, addr, count = fields_of(self.header, P.BURST_HEADER)

        # The narrowed fields: written before they are read, so without reset (the flip-flops' reset
        # inputs stay free).
        sp = Signal(SPACE_BITS, reset_less=True)
        fl = Signal(FIELD_BITS, reset_less=True)
        addr_n = Signal(self.addr_bits, reset_less=True)
        count_n = Signal(self.count_bits, reset_less=True)
        with m.If(self.narrow):
            m.d.sync += [sp.eq(space), fl.eq(field), addr_n.eq(addr), count_n.eq(count)]
        m.d.comb += [self.space.eq(sp), self.field.eq(fl), self.addr.eq(addr_n), self.count.eq(count_n)]

        pl = Signal(ADDR_BITS)
        m.d.comb += pl.eq(self.length - (P.HEADER_BYTES + P.CRC_BYTES))
        is_status = op == P.Op.STATUS
        burst = (op == P.Op.WRITE) | (op == P.Op.READ)
        m.d.comb += [self.status.eq(is_status), self.burst.eq(burst)]
        # Payload bytes of the other commands.
        fixed_len = Signal(range(P.RUN_PAYLOAD.size + 1))
        with m.Switch(op):
            with m.Case(P.Op.RUN):
                m.d.comb += fixed_len.eq(P.RUN_PAYLOAD.size)
            with m.Case(P.Op.CREDIT):
                m.d.comb += fixed_len.eq(P.CREDIT_PAYLOAD.size)

        space_ok = Signal()
        nb = Signal(4)  # bytes per value on the wire (valid once space_ok)
        with m.Switch(space):
            for s in self.spaces:
                with m.Case(int(s)):
                    m.d.comb += space_ok.eq(1 if s != P.Space.NEURON else field <= max(P.NeuronField))
        with m.Switch(sp):
            for s in self.spaces:
                with m.Case(int(s)):
                    if s == P.Space.NEURON:
                        with m.Switch(fl):
                            for f in P.NeuronField:
                                with m.Case(int(f)):
                                    m.d.comb += nb.eq(P.wire_bytes(s, f, fmt, n))
                    else:
                        m.d.comb += nb.eq(P.wire_bytes(s, 0, fmt, n))
        nb_now = Mux(is_status, P.COUNTER_BYTES, nb)

        # Range: addr + count past the space. The sum is exact for addresses below 2^sum_bits;
        # higher ones fail anyway, and the error detail min(end, 0xFFFF) is then 0xFFFF.
        sum_bits = self._sum_bits
        end = Signal(sum_bits + 1)
        m.d.comb += end.eq(addr[:sum_bits] + count)
        addr_high = addr[sum_bits:].any() if sum_bits < len(addr) else Const(0)
        past_end = Signal()
        with m.Switch(sp):
            for s in self.spaces:
                with m.Case(int(s)):
                    m.d.comb += past_end.eq(~at_most(end, sizes[s]))
        bad_range = (count == 0) | addr_high | past_end
        end_detail = Mux(addr_high | end[16:].any(), 0xFFFF, end[:16])

        # Burst length (after the range check, so count is narrow): count * nb bytes of values.
        # Sized by the largest burst that passes the range check: min(expected, 0xFFFF) is then a
        # clamp only where such a burst could exceed 0xFFFF.
        burst_bytes = Signal(range(max(sizes.values()) * max(wire_sizes) + 1))
        # A constant shift-and-add per wire size, no multiplier: an ECP5 MULT18X18D here was the
        # design's critical path at 45 MHz (docs/boards.md).
        with m.Switch(nb):
            for b in wire_sizes:
                with m.Case(b):
                    m.d.comb += burst_bytes.eq(sum(count_n << k for k in range(b.bit_length()) if b >> k & 1))
        # Where byte j stands in the value: past its wire bytes, before its last one, its last one.
        j = self.byte
        with m.Switch(nb_now):
            for b in wire_sizes | {P.COUNTER_BYTES}:
                with m.Case(b):
                    m.d.comb += [self.past_bytes.eq(at_least(j, b)), self.before_last.eq(~at_least(j, b - 1)),
                                 self.last_byte.eq(j == b - 1)]
        write_expected = Signal(range(P.BURST_HEADER.size + max(sizes.values()) * max(wire_sizes) + 1))
        m.d.comb += write_expected.eq(P.BURST_HEADER.size + burst_bytes)
        bad_burst_len = Mux(op == P.Op.WRITE, pl != write_expected,
                            (pl != P.BURST_HEADER.size) | ~at_most(burst_bytes, P.MAX_PAYLOAD))

        # The checks in the emulator's order: the first that fails gives the error code.
        known = at_least(op, min(P.Op)) & at_most(op, max(P.Op))
        allowed = (op == P.Op.CREDIT) | (op == P.Op.STOP) | is_status
        with m.If(~known):
            m.d.comb += self.error.eq(P.Err.UNKNOWN_OPCODE)
        with m.Elif(self.running & ~allowed):
            m.d.comb += self.error.eq(P.Err.BUSY)
        with m.Elif(Mux(burst, ~at_least(pl, P.BURST_HEADER.size), pl != fixed_len)):
            m.d.comb += self.error.eq(P.Err.BAD_LENGTH)
        with m.Elif(burst & (~space_ok | bad_range)):
            m.d.comb += self.error.eq(P.Err.BAD_ADDRESS)
        with m.Elif(burst & bad_burst_len):
            m.d.comb += self.error.eq(P.Err.BAD_LENGTH)

        m.d.comb += [
            self.length_detail.eq(Mux(burst, Mux((op == P.Op.WRITE) & at_least(pl, P.BURST_HEADER.size),
                                                 clamp16(write_expected), P.BURST_HEADER.size),
                                      fixed_len)),
            self.address_detail.eq(Mux(space_ok, end_detail, addr[:DETAIL_BITS])),
        ]
        return m
