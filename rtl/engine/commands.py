"""The executor: one checked frame in, the command carried out on the core, the reply written.

It reproduces `lifstp.emulator.GoldenEmulator` command by command: the same checks in the same order
(opcode, BUSY, lengths, spaces and address ranges, values), the same error codes, seq and detail, the
same replies. A burst WRITE is checked in full before anything is written (a first pass over the
values against their limits, a second pass writing them), so a bad value leaves no trace.

The STATUS reply is written like a READ of the six counters: each counter is taken whole into the
value register when its four bytes start, so each is consistent in itself, but the counters are
sampled a few cycles apart, not at one instant as the golden device does (during a run, a later
counter may already include a tick that an earlier one does not).

Its parts: `decode.CommandDecoder` (the header's checks, the burst's narrowed fields, the values' wire
layout), `limits.ValueCheck` (a value against its limits), `counters.EngineCounters` (SPIKES_DROPPED,
FRAMES_REJECTED and the counter multiplexer) and `reply.ReplyBytes` (the fixed replies' and ERROR
frames' bytes); the executor holds the frame's registers and the FSM that steps through a command.

Sized for the iCE40: the burst address, count and index are narrowed to the largest space once the
range check has passed; the header is held in the value register (which a burst needs only after
the checks); count * nb is a shift and add; comparisons with constants are tests of bits (no carry chain);
FRAMES_REJECTED, which only the executor touches, is updated a byte per cycle; and each register is
written from one place with an explicit enable.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import DATA_WIDTH, CoreConfig, read_layout, write_layout
from lifstp.rtl.status import status_layout

from .cobs import ADDR_BITS, rx_result_layout, tx_source_signature
from .counters import COUNTER_BITS, EngineCounters
from .decode import CommandDecoder
from .limits import ValueCheck
from .payload import fields_of
from .reply import ReplyBytes
from .spikes import run_control_signature

__all__ = ["Executor", "HEADER_FETCH"]

#: Bytes of a frame read into registers before decoding: opcode, seq, and the 8-byte burst header
#: (which also covers RUN's 6 and CREDIT's 2 payload bytes).
HEADER_FETCH = P.HEADER_BYTES + P.BURST_HEADER.size
_VALUES = HEADER_FETCH  # offset of a WRITE burst's first value in the frame


class Executor(wiring.Component):
    """Carries out checked frames (see the module docstring), one at a time.

    Latency (cycles from ``frame`` valid, ``tx`` and the core always ready; docs/engine.md has the
    table): 13 for the header's fetch and checks, then the command's own (e.g. a READ: 5 + nb per
    value), then the reply's send handshake and one cycle to release the frame.

    Parameters
    ----------
    cfg : CoreConfig
        The core behind the engine.

    Members
    -------
    frame : :py:`In(stream.Signature(rx_result_layout()))`
        A frame waiting in the receive buffer, or a receive error; taken (ready) when the command has
        been carried out and its reply sent.
    rx_addr : :py:`Out(ADDR_BITS)`
        Address of the receive buffer's synchronous read port.
    rx_data : :py:`In(8)`
        The receive buffer's byte at the address of the cycle before.
    tx : :py:`Out(tx_source_signature())`
        The reply buffer (replies and ERROR frames) and its send request.
    write : :py:`Out(stream.Signature(write_layout(cfg)))`
        To the core's write port.
    read : :py:`Out(stream.Signature(read_layout(cfg)))`
        To the core's read request port.
    read_data : :py:`In(stream.Signature(DATA_WIDTH))`
        The core's answers to the read requests.
    status : :py:`In(status_layout(cfg))`
        The core's status (its counters).
    ctl : :py:`Out(run_control_signature())`
        Run control, to the spike encoder.
    idle : :py:`Out(1)`
        Waiting for a frame.
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
        cfg = self.cfg
        tx, ctl = self.tx, self.ctl
        m.submodules.decoder = dec = CommandDecoder(cfg)
        m.submodules.value_check = check = ValueCheck(cfg)
        m.submodules.counters = ctr = EngineCounters(cfg)
        m.submodules.reply = rep = ReplyBytes(cfg)
        addr_bits = dec.addr_bits

        # ---- Registers. --------------------------------------------------------------------------
        # Those written before they are read have no reset (reset_less): their flip-flops' reset
        # inputs are then free for the clears below.
        # The value: a WRITE's value is shifted in at the top, its wire bytes then zeros (8 shifts
        # leave it aligned); a value read (from the core or a counter) is loaded whole and shifted
        # out at the bottom, one byte per cycle.
        val = Signal(64, reset_less=True)
        # The frame's first bytes are shifted in through val into `opseq`: opcode and seq end up
        # there, the burst header (also RUN's and CREDIT's payload) in val, which keeps it until a
        # WRITE or READ moves values through it. Before the checks, the decoder copies the burst's
        # space, field, address and count at the widths they have once checked.
        opseq = Signal(8 * P.HEADER_BYTES, reset_less=True)
        op, seq = opseq[0:8], opseq[8:16]
        run_ticks, run_credit = fields_of(val, P.RUN_PAYLOAD)
        (credit_amount,) = fields_of(val, P.CREDIT_PAYLOAD)
        sp, fl, addr_n, count_n = dec.space, dec.field, dec.addr, dec.count
        # One pointer into the frame buffers: the receive buffer while fetching and reading a WRITE's
        # values, the reply buffer while writing a reply (so it holds the reply's length at the end).
        ptr = Signal(ADDR_BITS, reset_less=True)
        k = Signal(addr_bits, reset_less=True)  # index of the value in the burst (RESET, STATUS: counter)
        j = Signal(3, reset_less=True)  # byte of the value
        second_pass = Signal(reset_less=True)  # a WRITE's values are being written (not checked)
        rx_err = Signal(reset_less=True)  # the frame was rejected by the receiver (its code is in `frame`)
        err = Signal(range(max(P.Err) + 1), reset_less=True)  # the executor's error code; 0: none

        m.d.comb += [self.rx_addr.eq(ptr), tx.w_addr.eq(ptr), tx.send.payload.eq(ptr),
                     ctl.dropped.eq(ctr.dropped), ctl.ticks.eq(run_ticks), ctl.credit.eq(run_credit),
                     ctl.credit_amount.eq(credit_amount)]

        # ---- Decoding and checks. ----------------------------------------------------------------
        is_status, burst = dec.status, dec.burst
        m.d.comb += [dec.op.eq(op), dec.length.eq(self.frame.payload.length),  # stable while the frame is held
                     dec.header.eq(val), dec.running.eq(ctl.running), dec.byte.eq(j)]
        decode_err = dec.error
        past_bytes, before_last, last_byte = dec.past_bytes, dec.before_last, dec.last_byte

        # The address of the current value (RESET and STATUS count counters from 0).
        cur = Signal(addr_bits)
        m.d.comb += cur.eq((addr_n & burst.replicate(addr_bits)) + k)
        k_next = Signal(addr_bits + 1)
        m.d.comb += k_next.eq(k + 1)
        last = k_next == Mux(is_status, len(P.StatusCounter), count_n)  # the value at k is the last

        m.d.comb += [check.space.eq(sp), check.field.eq(fl), check.index.eq(cur), check.value.eq(val)]
        value_ok = check.ok

        # ---- Counters: the one at `cur`. ---------------------------------------------------------
        m.d.comb += [ctr.status.eq(self.status), ctr.index.eq(cur), ctr.data.eq(val), ctr.first.eq(j == 0)]
        counter_word = ctr.word
        counter_src = is_status | (sp == P.Space.STATUS)  # a READ of space STATUS, or the STATUS reply
        rejected_src = counter_src & (ctr.index == P.StatusCounter.FRAMES_REJECTED)

        # ---- Fixed replies: byte ptr of the reply header (+ IDENTIFY's payload) or ERROR frame. ---
        in_error = Signal()
        m.d.comb += [rep.op.eq(op), rep.seq.eq(seq), rep.rx_error.eq(rx_err), rep.rx_code.eq(self.frame.payload.code),
                     rep.error.eq(err), rep.length_detail.eq(dec.length_detail),
                     rep.address_detail.eq(dec.address_detail), rep.value_index.eq(k),
                     rep.error_frame.eq(in_error), rep.index.eq(ptr)]
        blob_byte, reply_last, blob_bits = rep.byte, rep.last, rep.index_bits

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
        m.d.comb += ctr.load_dropped.eq(dropped_load)
        # val: shifted (a WRITE's bytes or zeros in at the top, a reply's bytes out at the bottom), or
        # loaded with a counter or the core's value.
        shift, zero_fill, load_counter, load_read = Signal(), Signal(), Signal(), Signal()
        shift_in = Mux(zero_fill | past_bytes, 0, self.rx_data)
        with m.If(shift | load_counter | load_read):
            m.d.sync += val.eq(Mux(shift, Cat(val[8:], shift_in),
                                   Mux(load_counter, Cat(counter_word, self.read_data.payload[COUNTER_BITS:]),
                                       self.read_data.payload)))
        # FRAMES_REJECTED's turn: an increment (ERROR), a load (RESET, WRITE) or a rotation (sent).
        rejected_turn, rejected_inc, rejected_load = Signal(), Signal(), Signal()
        m.d.comb += [ctr.turn.eq(rejected_turn), ctr.increment.eq(rejected_inc), ctr.load_rejected.eq(rejected_load)]

        # ---- Ports, driven whatever the state (valid and the strobes qualify them). -------------
        wp, rp = self.write.payload, self.read.payload
        m.d.comb += [wp.space.eq(Mux(op == P.Op.RESET, P.Space.STATUS, sp)), wp.field.eq(fl), wp.addr.eq(cur),
                     wp.data.eq(val), rp.space.eq(sp), rp.field.eq(fl), rp.addr.eq(cur)]
        value_byte = Signal()  # writing a value's byte, not a fixed reply's
        m.d.comb += tx.w_data.eq(Mux(value_byte, Mux(rejected_src, ctr.rejected, val[:8]), blob_byte))

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
                m.d.comb += dec.narrow.eq(1)
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
                with m.If(ptr == rep.error_last):
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
