"""The executor: one checked frame in, the command carried out on the core, the reply written.

It reproduces `lifstp.emulator.GoldenEmulator` command by command: the same checks in the same order
(opcode, BUSY, lengths, spaces and address ranges, values), the same error codes, seq and detail, the
same replies. A burst WRITE is checked in full before anything is written (a first pass over the
values against their limits, a second pass writing them), so a bad value leaves no trace.

The STATUS reply is written like a READ of the six counters: each counter is taken whole into the
value register when its four bytes start, so each is consistent in itself, but the counters are
sampled a few cycles apart, not at one instant as the golden device does (during a run, a later
counter may already include a tick that an earlier one does not).

Sized for the iCE40: the burst address, count and index are narrowed to the largest space once the
range check has passed; the header is held in the value register (which a burst needs only after
the checks); count * nb is a shift; comparisons with constants are tests of bits (no carry chain);
FRAMES_REJECTED, which only the executor touches, is updated a byte per cycle; and each register is
written from one place with an explicit enable.
"""

from __future__ import annotations


from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.golden_model.spec import REGISTER_NAMES
from lifstp.rtl.arith import fits
from lifstp.rtl.config import DATA_WIDTH, CoreConfig, bits_for, read_layout, write_layout
from lifstp.rtl.core import status_layout

from .cobs import ADDR_BITS, rx_result_layout, tx_source_signature
from .payload import field_width, fields_of
from .spikes import run_control_signature

__all__ = ["Executor", "HEADER_FETCH"]

#: Bytes of a frame read into registers before decoding: opcode, seq, and the 8-byte burst header
#: (which also covers RUN's 6 and CREDIT's 2 payload bytes).
HEADER_FETCH = P.HEADER_BYTES + P.BURST_HEADER.size
_VALUES = HEADER_FETCH  # offset of a WRITE burst's first value in the frame
_COUNTER_BITS = 8 * P.COUNTER_BYTES
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1


def _clamp16(x: Value) -> Value:
    """min(x, 0xFFFF) of an unsigned x, as 16 bits."""
    return Mux(x[16:].any(), 0xFFFF, x[:16]) if len(x) > 16 else x


def _at_least(x: Value, c: int) -> Value:
    """Unsigned x >= c for a constant c, as logic on the bits of x (from the top bit down) rather
    than a subtraction: on the iCE40 a comparison would take a carry chain as long as x."""
    x = Value.cast(x)
    if c <= 0:
        return Const(1, 1)
    if c >= 1 << len(x):
        return Const(0, 1)
    top, rest = x[-1], x[:-1]
    half = 1 << (len(x) - 1)
    return (top & _at_least(rest, c - half)) if c >= half else (top | _at_least(rest, c))


def _at_most(x: Value, c: int) -> Value:
    """Unsigned x <= c for a constant c, as logic on the bits of x (see `_at_least`)."""
    return ~_at_least(x, c + 1)


def _within(raw: Value, nbytes: int, lo: int, hi: int, signed_: bool) -> Value:
    """The value in the low `nbytes` bytes of `raw` (two's complement if `signed_`) lies in [lo, hi].
    Limits that are the whole range of a narrower width become a test of the bits above it; the few
    others (clamp modes, R <= 1, ...) are tests against constants (`_at_least`, `_at_most`)."""
    x = raw[:8 * nbytes]
    width = len(x)
    for w in range(1, width + 1):
        if (lo, hi) == P.value_range(w, signed_):
            return fits(x.as_signed() if signed_ else x, w)
    if signed_:  # offset binary: flipping the sign bit adds 2^(width-1), an unsigned order
        x, lo, hi = Cat(x[:-1], ~x[-1]), lo + (1 << (width - 1)), hi + (1 << (width - 1))
    return _at_least(x, lo) & _at_most(x, hi)


class Executor(wiring.Component):
    """Carries out checked frames (see the module docstring).

    Ports:

    - ``frame`` (In stream of `rx_result_layout`): a frame waiting in the receive buffer, or a
      receive error; taken (ready) when the command has been carried out and its reply sent.
    - ``rx_addr`` (Out), ``rx_data`` (In): the receive buffer's synchronous read port.
    - ``tx`` (Out `tx_source_signature`): the reply buffer (replies and ERROR frames).
    - ``write`` (Out stream of `write_layout`): to the core's write port.
    - ``read`` (Out stream of `read_layout`), ``read_data`` (In stream): the core's read ports.
    - ``status`` (In `status_layout`): the core's status (its counters).
    - ``ctl`` (Out `run_control_signature`): run control, to the spike encoder.
    - ``idle`` (Out): waiting for a frame.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "frame": In(stream.Signature(rx_result_layout())),
            "rx_addr": Out(ADDR_BITS),
            "rx_data": In(8),
            "tx": Out(tx_source_signature()),
            "write": Out(stream.Signature(write_layout(cfg))),
            "read": Out(stream.Signature(read_layout(cfg))),
            "read_data": In(stream.Signature(DATA_WIDTH)),
            "status": In(status_layout(cfg)),
            "ctl": Out(run_control_signature()),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, n = self.cfg, self.cfg.formats, self.cfg.n_neurons
        tx, ctl, st = self.tx, self.ctl, self.status

        # ---- Widths. -----------------------------------------------------------------------------
        # Every space is far smaller than the 32-bit address of the burst header: the address is
        # narrowed to `addr_bits` once the range check has passed, and so are the index k and count.
        sizes = {s: P.space_size(s, n) for s in P.Space}
        addr_bits = bits_for(max(sizes.values()))
        hdr_addr_bits, hdr_count_bits = field_width(P.BURST_HEADER, 2), field_width(P.BURST_HEADER, 3)
        sum_bits = min(max(hdr_count_bits, addr_bits), hdr_addr_bits)  # addr + count is exact below 2^sum_bits
        count_bits = min(addr_bits + 1, hdr_count_bits)  # a count that passed the range check
        space_bits = max(P.Space).bit_length()
        field_bits = max(P.NeuronField).bit_length()
        reg_bits = bits_for(len(REGISTER_NAMES))
        ctr_bits = bits_for(len(P.StatusCounter))

        # ---- Registers. --------------------------------------------------------------------------
        # Those written before they are read have no reset (reset_less): their flip-flops' reset
        # inputs are then free for the clears below.
        # The value: a WRITE's value is shifted in at the top, its wire bytes then zeros (8 shifts
        # leave it aligned); a value read (from the core or a counter) is loaded whole and shifted
        # out at the bottom, one byte per cycle.
        val = Signal(64, reset_less=True)
        # The frame's first bytes are shifted in through val into `opseq`: opcode and seq end up
        # there, the burst header (also RUN's and CREDIT's payload) in val, which keeps it until a
        # WRITE or READ moves values through it. Before the checks, the burst's space, field,
        # address and count are copied at the widths they have once checked.
        opseq = Signal(8 * P.HEADER_BYTES, reset_less=True)
        op, seq = opseq[0:8], opseq[8:16]
        space, field, addr, count = fields_of(val, P.BURST_HEADER)
        run_ticks, run_credit = fields_of(val, P.RUN_PAYLOAD)
        (credit_amount,) = fields_of(val, P.CREDIT_PAYLOAD)
        sp = Signal(space_bits, reset_less=True)  # space, field, address and count, once known valid
        fl = Signal(field_bits, reset_less=True)
        addr_n = Signal(addr_bits, reset_less=True)
        count_n = Signal(count_bits, reset_less=True)
        # One pointer into the frame buffers: the receive buffer while fetching and reading a WRITE's
        # values, the reply buffer while writing a reply (so it holds the reply's length at the end).
        ptr = Signal(ADDR_BITS, reset_less=True)
        k = Signal(addr_bits, reset_less=True)  # index of the value in the burst (RESET, STATUS: counter)
        j = Signal(3, reset_less=True)  # byte of the value
        second_pass = Signal(reset_less=True)  # a WRITE's values are being written (not checked)
        rx_err = Signal(reset_less=True)  # the frame was rejected by the receiver (its code is in `frame`)
        err = Signal(range(max(P.Err) + 1), reset_less=True)  # the executor's error code; 0: none
        spikes_dropped = Signal(_COUNTER_BITS)
        # FRAMES_REJECTED is only ever touched by the executor, so it is kept byte-serially: it turns by
        # one byte per cycle (`rejected_turn`, four turns leave it whole), and its low byte is the one
        # incremented (with the carry of the previous byte), replaced by a written value's byte, or
        # sent. This takes an 8-bit incrementer instead of a 32-bit one and keeps it out of the
        # counter multiplexer.
        frames_rejected = Signal(_COUNTER_BITS)
        rejected_turn = Signal()
        rejected_inc = Signal()  # the turn adds the carry (incrementing, saturating)
        rejected_load = Signal()  # the turn takes val's low byte (val shifting along)
        rejected_carry = Signal(reset_less=True)

        m.d.comb += [self.rx_addr.eq(ptr), tx.w_addr.eq(ptr), tx.send.payload.eq(ptr),
                     ctl.dropped.eq(spikes_dropped), ctl.ticks.eq(run_ticks), ctl.credit.eq(run_credit),
                     ctl.credit_amount.eq(credit_amount)]

        # ---- Decoding. ---------------------------------------------------------------------------
        length = self.frame.payload.length  # stable while the frame is held
        pl = Signal(ADDR_BITS)
        m.d.comb += pl.eq(length - (P.HEADER_BYTES + P.CRC_BYTES))
        is_status = op == P.Op.STATUS  # the STATUS reply is sent like a READ of the six counters
        burst = (op == P.Op.WRITE) | (op == P.Op.READ)
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
            for s in P.Space:
                with m.Case(int(s)):
                    m.d.comb += space_ok.eq(1 if s != P.Space.NEURON else field <= max(P.NeuronField))
        with m.Switch(sp):
            for s in P.Space:
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
        end = Signal(sum_bits + 1)
        m.d.comb += end.eq(addr[:sum_bits] + count)
        addr_high = addr[sum_bits:].any() if sum_bits < len(addr) else Const(0)
        past_end = Signal()
        with m.Switch(sp):
            for s in P.Space:
                with m.Case(int(s)):
                    m.d.comb += past_end.eq(~_at_most(end, sizes[s]))
        bad_range = (count == 0) | addr_high | past_end
        end_detail = Mux(addr_high | end[16:].any(), 0xFFFF, end[:16])

        # Burst length (after the range check, so count is narrow): count * nb bytes of values.
        wire_sizes = {P.wire_bytes(s, f, fmt, n) for s in P.Space
                      for f in (P.NeuronField if s == P.Space.NEURON else [0])}
        # Sized by the largest burst that passes the range check: min(expected, 0xFFFF) is then a
        # clamp only where such a burst could exceed 0xFFFF.
        burst_bytes = Signal(range(max(sizes.values()) * max(wire_sizes) + 1))
        if all(b & (b - 1) == 0 for b in wire_sizes):  # powers of two: a shift, no multiplier
            with m.Switch(nb):
                for b in wire_sizes:
                    with m.Case(b):
                        m.d.comb += burst_bytes.eq(count_n << (b.bit_length() - 1))
        else:
            m.d.comb += burst_bytes.eq(count_n * nb)
        # Where byte j stands in the value: past its wire bytes, before its last one, its last one.
        past_bytes, before_last, last_byte = Signal(), Signal(), Signal()
        with m.Switch(nb_now):
            for b in wire_sizes | {P.COUNTER_BYTES}:
                with m.Case(b):
                    m.d.comb += [past_bytes.eq(_at_least(j, b)), before_last.eq(~_at_least(j, b - 1)),
                                 last_byte.eq(j == b - 1)]
        write_expected = Signal(range(P.BURST_HEADER.size + max(sizes.values()) * max(wire_sizes) + 1))
        m.d.comb += write_expected.eq(P.BURST_HEADER.size + burst_bytes)
        bad_burst_len = Mux(op == P.Op.WRITE, pl != write_expected,
                            (pl != P.BURST_HEADER.size) | ~_at_most(burst_bytes, P.MAX_PAYLOAD))

        # The address of the current value (RESET and STATUS count counters from 0).
        cur = Signal(addr_bits)
        m.d.comb += cur.eq((addr_n & burst.replicate(addr_bits)) + k)
        k_next = Signal(addr_bits + 1)
        m.d.comb += k_next.eq(k + 1)
        last = k_next == Mux(is_status, len(P.StatusCounter), count_n)  # the value at k is the last

        # The current value against its limits (protocol.value_limits; the register index matters in
        # space REG). Each (space, field, register) has constant limits and a constant wire size, so
        # each case is a test of constant bits (`_within`), not a pair of wide comparators.
        value_ok = Signal()
        with m.Switch(sp):
            for s in P.Space:
                with m.Case(int(s)):
                    if s == P.Space.REG:
                        with m.Switch(cur[:reg_bits]):
                            for a in range(len(REGISTER_NAMES)):
                                with m.Case(a):
                                    m.d.comb += value_ok.eq(_within(val, P.wire_bytes(s, 0, fmt, n),
                                                                    *P.value_limits(s, 0, a, fmt, n)))
                    elif s == P.Space.NEURON:
                        with m.Switch(fl):
                            for f in P.NeuronField:
                                with m.Case(int(f)):
                                    m.d.comb += value_ok.eq(_within(val, P.wire_bytes(s, f, fmt, n),
                                                                    *P.value_limits(s, f, 0, fmt, n)))
                    else:
                        m.d.comb += value_ok.eq(_within(val, P.wire_bytes(s, 0, fmt, n),
                                                        *P.value_limits(s, 0, 0, fmt, n)))

        # The checks of DECODE in the emulator's order: the first that fails gives the error code.
        known = _at_least(op, min(P.Op)) & _at_most(op, max(P.Op))
        allowed = (op == P.Op.CREDIT) | (op == P.Op.STOP) | is_status
        decode_err = Signal.like(err)
        with m.If(~known):
            m.d.comb += decode_err.eq(P.Err.UNKNOWN_OPCODE)
        with m.Elif(ctl.running & ~allowed):
            m.d.comb += decode_err.eq(P.Err.BUSY)
        with m.Elif(Mux(burst, ~_at_least(pl, P.BURST_HEADER.size), pl != fixed_len)):
            m.d.comb += decode_err.eq(P.Err.BAD_LENGTH)
        with m.Elif(burst & (~space_ok | bad_range)):
            m.d.comb += decode_err.eq(P.Err.BAD_ADDRESS)
        with m.Elif(burst & bad_burst_len):
            m.d.comb += decode_err.eq(P.Err.BAD_LENGTH)

        # Status counters, u32 saturating, in StatusCounter order; the one at `cur`.
        def sat32(x):
            if len(x) > _COUNTER_BITS:
                return Mux(x > _COUNTER_MAX, _COUNTER_MAX, x)[:_COUNTER_BITS]
            return x

        counters = [sat32(st.ticks), sat32(st.cycles_last_tick), sat32(st.saturated_v), sat32(st.saturated_u),
                    spikes_dropped]  # FRAMES_REJECTED is sent from its own low byte
        assert list(P.StatusCounter)[:len(counters)] == list(range(len(counters)))
        assert P.StatusCounter.FRAMES_REJECTED == len(counters)
        counter_word = Signal(_COUNTER_BITS)
        with m.Switch(cur[:ctr_bits]):
            for c, sig in enumerate(counters):
                with m.Case(c) if c < len(counters) - 1 else m.Default():
                    m.d.comb += counter_word.eq(sig)
        counter_src = is_status | (sp == P.Space.STATUS)  # a READ of space STATUS, or the STATUS reply
        rejected_src = counter_src & (cur[:ctr_bits] == P.StatusCounter.FRAMES_REJECTED)

        # ---- Fixed replies: byte ptr of the reply header (+ IDENTIFY's payload) or ERROR frame. ---
        identify = P.IDENTIFY_PAYLOAD.pack(P.PROTOCOL_VERSION, n, cfg.lanes, *P.format_fields(fmt), P.MAX_PAYLOAD)
        reply_bytes = [op | P.REPLY_BIT, seq, *(Const(b, 8) for b in identify)]
        reply_last = Mux(op == P.Op.IDENTIFY, len(reply_bytes) - 1, P.HEADER_BYTES - 1)
        # ERROR: the detail follows from the code, the opcode and the frame (all still held).
        detail = Signal(field_width(P.ERROR_PAYLOAD, 2))
        with m.Switch(err):
            with m.Case(P.Err.BAD_LENGTH):  # the expected payload length
                m.d.comb += detail.eq(Mux(burst, Mux((op == P.Op.WRITE) & _at_least(pl, P.BURST_HEADER.size),
                                                     _clamp16(write_expected), P.BURST_HEADER.size),
                                          fixed_len))
            with m.Case(P.Err.BAD_ADDRESS):  # a bad space or field: the address; else the range's end
                m.d.comb += detail.eq(Mux(space_ok, end_detail, addr[:16]))
            with m.Case(P.Err.BAD_VALUE):  # the value's index in the burst
                m.d.comb += detail.eq(k)
        code = Mux(rx_err, self.frame.payload.code, err)
        error_fields = [code, Mux(rx_err, 0, op), detail]  # ERROR_PAYLOAD, byte by byte
        error_bytes = [Const(P.Msg.ERROR, 8), Mux(rx_err, 0, seq),
                       *(b for f, (_, size) in zip(error_fields, P.struct_fields(P.ERROR_PAYLOAD))
                         for b in ([f] if size == 1 else [f[8 * i:8 * (i + 1)] for i in range(size)]))]
        blob_bits = bits_for(max(len(reply_bytes), len(error_bytes)))
        in_error = Signal()
        blob_byte = Signal(8)
        with m.Switch(ptr[:blob_bits]):
            for i in range(max(len(reply_bytes), len(error_bytes))):
                with m.Case(i):
                    if i < len(error_bytes):
                        m.d.comb += blob_byte.eq(Mux(in_error, error_bytes[i], reply_bytes[i]))
                    else:
                        m.d.comb += blob_byte.eq(reply_bytes[i])

        # ---- Register updates: each register is written from one place, an enable and a small ---
        # multiplexer, which Yosys maps onto the flip-flops' enable inputs (the FSM below only
        # raises the enables).
        ptr_inc, ptr_clr, ptr_values = Signal(), Signal(), Signal()
        with m.If(ptr_inc | ptr_clr | ptr_values):
            m.d.sync += ptr.eq(Mux(ptr_clr, 0, Mux(ptr_values, _VALUES, ptr + 1)))
        k_inc, k_clr = Signal(), Signal()
        with m.If(k_inc | k_clr):
            m.d.sync += k.eq(Mux(k_clr, 0, k_next))
        j_inc, j_clr = Signal(), Signal()
        with m.If(j_inc | j_clr):
            m.d.sync += j.eq(Mux(j_clr, 0, j + 1))
        err_decode, err_value, err_clr = Signal(), Signal(), Signal()
        with m.If(err_decode | err_value | err_clr):
            m.d.sync += err.eq(Mux(err_decode, decode_err, Mux(err_value, P.Err.BAD_VALUE, 0)))
        dropped_load = Signal()
        with m.If(dropped_load):
            m.d.sync += spikes_dropped.eq(val)
        # val: shifted (a WRITE's bytes or zeros in at the top, a reply's bytes out at the bottom), or
        # loaded with a counter or the core's value.
        shift, zero_fill, load_counter, load_read = Signal(), Signal(), Signal(), Signal()
        shift_in = Mux(zero_fill | past_bytes, 0, self.rx_data)
        with m.If(shift | load_counter | load_read):
            m.d.sync += val.eq(Mux(shift, Cat(val[8:], shift_in),
                                   Mux(load_counter, Cat(counter_word, self.read_data.payload[_COUNTER_BITS:]),
                                       self.read_data.payload)))
        # FRAMES_REJECTED's turn; the first byte of an increment adds 1 unless the counter is saturated.
        first_carry = Mux(j == 0, ~frames_rejected.all(), rejected_carry)
        rejected_sum = frames_rejected[:8] + (rejected_inc & first_carry)
        with m.If(rejected_turn):
            new_byte = Mux(rejected_load, val[:8], rejected_sum[:8])
            m.d.sync += [frames_rejected.eq(Cat(frames_rejected[8:], new_byte)),
                         rejected_carry.eq(rejected_sum[8])]

        # ---- Ports, driven whatever the state (valid and the strobes qualify them). -------------
        wp, rp = self.write.payload, self.read.payload
        m.d.comb += [wp.space.eq(Mux(op == P.Op.RESET, P.Space.STATUS, sp)), wp.field.eq(fl), wp.addr.eq(cur),
                     wp.data.eq(val), rp.space.eq(sp), rp.field.eq(fl), rp.addr.eq(cur)]
        value_byte = Signal()  # writing a value's byte, not a fixed reply's
        m.d.comb += tx.w_data.eq(Mux(value_byte, Mux(rejected_src, frames_rejected[:8], val[:8]), blob_byte))

        m.d.comb += self.idle.eq(0)
        with m.FSM():
            with m.State("WAIT"):
                m.d.comb += self.idle.eq(~self.frame.valid)
                with m.If(self.frame.valid):
                    m.d.comb += [ptr_clr.eq(1), j_clr.eq(1), err_clr.eq(1)]
                    m.d.sync += rx_err.eq(self.frame.payload.code != 0)
                    with m.If(self.frame.payload.code != 0):
                        m.next = "ERROR"
                    with m.Else():
                        m.next = "FETCH"
            with m.State("FETCH"):  # one byte a cycle; the first shifted in is the stale read data
                m.d.comb += shift.eq(1)
                m.d.sync += opseq.eq(Cat(opseq[8:], val[:8]))
                with m.If(ptr == HEADER_FETCH):
                    m.next = "NARROW"
                with m.Else():
                    m.d.comb += ptr_inc.eq(1)
            with m.State("NARROW"):  # the burst header's fields for the values (if it passes)
                m.d.sync += [sp.eq(space), fl.eq(field), addr_n.eq(addr), count_n.eq(count)]
                m.next = "DECODE"
            with m.State("DECODE"):
                m.d.comb += [k_clr.eq(1), err_decode.eq(1)]
                m.d.sync += second_pass.eq(0)
                with m.If(decode_err != 0):
                    m.next = "ERROR"
                with m.Else():
                    with m.If(op != P.Op.WRITE):  # a WRITE's values follow the header; else a reply
                        m.d.comb += ptr_clr.eq(1)
                    with m.Switch(op):
                        with m.Case(P.Op.RESET):
                            m.next = "RESET_CLEAR"
                        with m.Case(P.Op.IDENTIFY, P.Op.STATUS, P.Op.RUN, P.Op.READ):
                            m.next = "BLOB"
                        with m.Case(P.Op.CREDIT):
                            m.d.comb += ctl.credit_add.eq(1)
                            m.next = "RELEASE"
                        with m.Case(P.Op.STOP):
                            m.d.comb += ctl.stop.eq(1)
                            m.next = "RELEASE"
                        with m.Case(P.Op.WRITE):
                            m.next = "VAL_PRIME"
            # ---- RESET: zero val, then the core's counters (written val), then the engine's. --------
            with m.State("RESET_CLEAR"):  # eight shifts of a zero byte
                m.d.comb += [shift.eq(1), zero_fill.eq(1), j_inc.eq(1)]
                with m.If(j == 7):
                    m.next = "RESET"
            with m.State("RESET"):
                m.d.comb += self.write.valid.eq(1)
                with m.If(self.write.ready):
                    m.d.comb += k_inc.eq(1)
                    with m.If(k == P.StatusCounter.SATURATED_U):
                        m.d.comb += [dropped_load.eq(1), ctl.clear_seq.eq(1)]
                        m.next = "RESET_REJECTED"
            with m.State("RESET_REJECTED"):  # four turns taking val's (zero) low byte
                m.d.comb += [rejected_turn.eq(1), rejected_load.eq(1), j_inc.eq(1)]
                with m.If(j == P.COUNTER_BYTES - 1):
                    m.next = "BLOB"
            # ---- WRITE: check every value, then write them. ----------------------------------------
            with m.State("VAL_PRIME"):  # the read of the value's first byte
                m.d.comb += [ptr_inc.eq(1), j_clr.eq(1)]
                m.next = "VAL_SHIFT"
            with m.State("VAL_SHIFT"):  # 8 bytes: nb from the buffer (reading one ahead), then zeros
                m.d.comb += [shift.eq(1), j_inc.eq(1)]
                with m.If(before_last):
                    m.d.comb += ptr_inc.eq(1)
                with m.If(j == 7):
                    m.next = "VAL_DONE"
            with m.State("VAL_DONE"):
                with m.If(second_pass):
                    m.next = "WR_ISSUE"
                with m.Elif(~value_ok):
                    m.d.comb += err_value.eq(1)
                    m.next = "ERROR"
                with m.Elif(last):
                    m.d.comb += [k_clr.eq(1), ptr_values.eq(1)]
                    m.d.sync += second_pass.eq(1)
                    m.next = "VAL_PRIME"
                with m.Else():
                    m.d.comb += k_inc.eq(1)
                    m.next = "VAL_PRIME"
            with m.State("WR_ISSUE"):
                with m.If((sp == P.Space.STATUS) & (cur == P.StatusCounter.SPIKES_DROPPED)):
                    m.d.comb += dropped_load.eq(1)
                    m.next = "WR_NEXT"
                with m.Elif((sp == P.Space.STATUS) & (cur == P.StatusCounter.FRAMES_REJECTED)):
                    m.d.comb += [rejected_turn.eq(1), rejected_load.eq(1), shift.eq(1), j_inc.eq(1)]
                    with m.If(j == P.COUNTER_BYTES - 1):
                        m.next = "WR_NEXT"
                with m.Else():
                    m.d.comb += self.write.valid.eq(1)
                    with m.If(self.write.ready):
                        m.next = "WR_NEXT"
            with m.State("WR_NEXT"):
                m.d.comb += k_inc.eq(1)
                with m.If(last):
                    m.d.comb += ptr_clr.eq(1)
                    m.next = "BLOB"
                with m.Else():
                    m.next = "VAL_PRIME"
            # ---- READ (and the STATUS reply): one value at a time, nb bytes each. -----------------
            with m.State("RD_ISSUE"):
                m.d.comb += j_clr.eq(1)
                with m.If(counter_src):  # a counter, taken whole (FRAMES_REJECTED: sent as it turns)
                    m.d.comb += load_counter.eq(1)
                    m.next = "RD_WRITE"
                with m.Else():
                    m.d.comb += self.read.valid.eq(1)
                    with m.If(self.read.ready):
                        m.next = "RD_WAIT"
            with m.State("RD_WAIT"):
                m.d.comb += self.read_data.ready.eq(1)
                with m.If(self.read_data.valid):
                    m.d.comb += load_read.eq(1)
                    m.next = "RD_WRITE"
            with m.State("RD_WRITE"):
                m.d.comb += [tx.w_en.eq(1), value_byte.eq(1), shift.eq(1), rejected_turn.eq(rejected_src),
                             ptr_inc.eq(1), j_inc.eq(1)]
                with m.If(last_byte):
                    m.d.comb += k_inc.eq(1)
                    with m.If(last):
                        m.next = "SEND"
                    with m.Else():
                        m.next = "RD_ISSUE"
            # ---- Replies and errors. -------------------------------------------------------------
            with m.State("ERROR"):  # FRAMES_REJECTED + 1, a byte per cycle
                m.d.comb += [rejected_turn.eq(1), rejected_inc.eq(1), ptr_clr.eq(1), j_inc.eq(1)]
                with m.If(j == P.COUNTER_BYTES - 1):
                    m.next = "ERROR_BLOB"
            with m.State("ERROR_BLOB"):
                m.d.comb += [in_error.eq(1), tx.w_en.eq(1), ptr_inc.eq(1)]
                with m.If(ptr == len(error_bytes) - 1):
                    m.next = "SEND"
            with m.State("BLOB"):
                m.d.comb += [tx.w_en.eq(1), ptr_inc.eq(1)]
                with m.If(ptr[:blob_bits] == reply_last):
                    with m.If(is_status | (op == P.Op.READ)):
                        m.next = "RD_ISSUE"
                    with m.Else():
                        m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += tx.send.valid.eq(1)
                with m.If(tx.send.ready):
                    m.d.comb += ctl.start.eq((op == P.Op.RUN) & ~rx_err & (err == 0))
                    m.next = "RELEASE"
            with m.State("RELEASE"):
                m.d.comb += self.frame.ready.eq(1)
                m.next = "WAIT"
        return m
