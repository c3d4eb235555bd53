"""The executor: one checked frame in, the command carried out on the core, the reply written.

It reproduces `lifstp.emulator.GoldenEmulator` command by command: the same checks in the same order
(opcode, BUSY, lengths, spaces and address ranges, values), the same error codes, seq and detail, the
same replies. A burst WRITE is checked in full before anything is written (a first pass over the
values against their limits, a second pass writing them), so a bad value leaves no trace.
"""

from __future__ import annotations


from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.golden_model.spec import REGISTER_NAMES
from lifstp.rtl.arith import fits
from lifstp.rtl.config import DATA_WIDTH, CoreConfig, read_layout, write_layout
from lifstp.rtl.core import status_layout

from .cobs import ADDR_BITS, rx_result_layout, tx_source_signature
from .spikes import run_control_signature

__all__ = ["Executor", "HEADER_FETCH"]

#: Bytes of a frame read into registers before decoding: opcode, seq, and the 8-byte burst header
#: (which also covers RUN's 6 and CREDIT's 2 payload bytes).
HEADER_FETCH = P.HEADER_BYTES + P.BURST_HEADER.size
_VALUES = HEADER_FETCH  # offset of a WRITE burst's first value in the frame
_BLOB_BYTES = P.HEADER_BYTES + P.COUNTER_BYTES * len(P.StatusCounter)  # the longest fixed reply (STATUS)
_COUNTER_MAX = (1 << (8 * P.COUNTER_BYTES)) - 1
_BLOB_KINDS = ("REPLY", "IDENTIFY", "STATUS", "ERROR")  # the fixed replies the blob writer sends


def _within(raw: Value, nbytes: int, lo: int, hi: int, signed_: bool) -> Value:
    """The value in the low `nbytes` bytes of `raw` (two's complement if `signed_`) lies in [lo, hi].
    Limits that are the whole range of a narrower width become a test of the bits above it; the few
    others (clamp modes, R <= 1, ...) are comparisons with constants."""
    x = raw[:8 * nbytes]
    x = x.as_signed() if signed_ else x
    width = len(x)
    for w in range(1, width + 1):
        if (lo, hi) == P.value_range(w, signed_):
            return fits(x, w)
    return (x >= lo) & (x <= hi)


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
        tx, ctl = self.tx, self.ctl

        # ---- Registers. --------------------------------------------------------------------------
        hdr = Signal(8 * HEADER_FETCH)
        op, seq = hdr[0:8], hdr[8:16]
        space, field = hdr[16:24], hdr[24:32]
        addr, count = hdr[32:64], hdr[64:80]
        run_ticks, run_credit = hdr[16:48], hdr[48:64]
        credit_amount = hdr[16:32]
        length = Signal(ADDR_BITS)
        pl = Signal(ADDR_BITS)
        m.d.comb += pl.eq(length - (P.HEADER_BYTES + P.CRC_BYTES))
        idx = Signal(range(HEADER_FETCH + 1))
        frames_rejected = Signal(32)
        spikes_dropped = Signal(32)
        m.d.comb += ctl.dropped.eq(spikes_dropped)

        # The fixed reply being written (REPLY, IDENTIFY, STATUS or ERROR: `_BLOB_KINDS`), byte j of it
        # selected below; STATUS sends the counters as they were when the command was decoded.
        blob_kind = Signal(range(len(_BLOB_KINDS)))
        snap = Signal(8 * P.COUNTER_BYTES * len(P.StatusCounter))
        blob_len = Signal(range(_BLOB_BYTES + 1))
        blob_then_read = Signal()
        reply_len = Signal(ADDR_BITS)
        start_run = Signal()
        k = Signal(16)  # index in the burst
        j = Signal(range(_BLOB_BYTES + 1))  # byte of the value, or of the fixed reply
        ptr = Signal(ADDR_BITS)
        val = Signal(64)
        second_pass = Signal()
        cur = Signal(33)  # address of the current value
        m.d.comb += cur.eq(addr + k)

        # ---- Per-space constants. ----------------------------------------------------------------
        size = Signal(32)
        nb = Signal(4)  # bytes per value on the wire
        space_ok = Signal()
        with m.Switch(space):
            for s in P.Space:
                with m.Case(int(s)):
                    m.d.comb += [size.eq(P.space_size(s, n)), space_ok.eq(1)]
                    if s == P.Space.NEURON:
                        with m.Switch(field):
                            for f in P.NeuronField:
                                with m.Case(int(f)):
                                    m.d.comb += nb.eq(P.wire_bytes(s, f, fmt, n))
                            with m.Default():
                                m.d.comb += space_ok.eq(0)
                    else:
                        m.d.comb += nb.eq(P.wire_bytes(s, 0, fmt, n))
        end = Signal(34)
        m.d.comb += end.eq(addr + count)
        burst_bytes = Signal(20)
        m.d.comb += burst_bytes.eq(count * nb)
        expected = Signal(21)
        with m.If(op == P.Op.WRITE):
            m.d.comb += expected.eq(P.BURST_HEADER.size + burst_bytes)
        with m.Else():
            m.d.comb += expected.eq(P.BURST_HEADER.size)

        # The current value against its limits (protocol.value_limits; the register index matters in
        # space REG). Each (space, field, register) has constant limits and a constant wire size, so
        # each case is a test of constant bits (`_within`), not a pair of wide comparators.
        value_ok = Signal()
        with m.Switch(space):
            for s in P.Space:
                with m.Case(int(s)):
                    if s == P.Space.REG:
                        with m.Switch(cur):
                            for a in range(len(REGISTER_NAMES)):
                                with m.Case(a):
                                    m.d.comb += value_ok.eq(_within(val, P.wire_bytes(s, 0, fmt, n),
                                                                    *P.value_limits(s, 0, a, fmt, n)))
                    elif s == P.Space.NEURON:
                        with m.Switch(field):
                            for f in P.NeuronField:
                                with m.Case(int(f)):
                                    m.d.comb += value_ok.eq(_within(val, P.wire_bytes(s, f, fmt, n),
                                                                    *P.value_limits(s, f, 0, fmt, n)))
                    else:
                        m.d.comb += value_ok.eq(_within(val, P.wire_bytes(s, 0, fmt, n),
                                                        *P.value_limits(s, 0, 0, fmt, n)))
        bad_value = Signal()
        m.d.comb += bad_value.eq(~value_ok)

        # Status counters, u32 saturating, in StatusCounter order.
        def sat32(x):
            if len(x) > 32:
                return Mux(x > _COUNTER_MAX, _COUNTER_MAX, x)[:32]
            return Cat(x, Const(0, 32 - len(x))) if len(x) < 32 else x

        st = self.status
        counters = {P.StatusCounter.TICKS: sat32(st.ticks), P.StatusCounter.CYCLES_LAST_TICK: sat32(st.cycles_last_tick),
                    P.StatusCounter.SATURATED_V: sat32(st.saturated_v), P.StatusCounter.SATURATED_U: sat32(st.saturated_u),
                    P.StatusCounter.SPIKES_DROPPED: spikes_dropped, P.StatusCounter.FRAMES_REJECTED: frames_rejected}
        counter_word = Signal(32)
        with m.Switch(cur):
            for c, sig in counters.items():
                with m.Case(int(c)):
                    m.d.comb += counter_word.eq(sig)

        identify = P.IDENTIFY_PAYLOAD.pack(P.PROTOCOL_VERSION, n, cfg.lanes, *P.format_fields(fmt), P.MAX_PAYLOAD)

        def reply(kind="REPLY", nbytes=0):
            """Sync statements: a fixed reply of `kind` (REPLY: opcode | REPLY_BIT and seq, IDENTIFY and
            STATUS: the same followed by their payload, ERROR: an ERROR frame) via the blob writer."""
            return [blob_kind.eq(_BLOB_KINDS.index(kind)), blob_len.eq(P.HEADER_BYTES + nbytes),
                    reply_len.eq(P.HEADER_BYTES + nbytes), blob_then_read.eq(0), j.eq(0)]

        err_code = Signal(8)
        err_detail = Signal(16)
        err_op = Signal(8)
        err_seq = Signal(8)

        def error(code, detail=0, from_frame=True):
            return [err_code.eq(code), err_detail.eq(detail), err_op.eq(op if from_frame else 0),
                    err_seq.eq(seq if from_frame else 0)]

        def clamp16(x):
            return Mux(x > 0xFFFF, 0xFFFF, x)[:16]

        # Byte j of the fixed reply.
        header = [op | P.REPLY_BIT, seq]
        blob_bytes = {
            "REPLY": header,
            "IDENTIFY": header + [Const(b, 8) for b in identify],
            "STATUS": header + [snap.word_select(i, 8) for i in range(len(snap) // 8)],
            "ERROR": [Const(P.Msg.ERROR, 8), err_seq, err_code, err_op, err_detail[:8], err_detail[8:]],
        }
        blob_byte = Signal(8)
        with m.Switch(blob_kind):
            for kind, body in blob_bytes.items():
                with m.Case(_BLOB_KINDS.index(kind)):
                    with m.Switch(j):
                        for i, byte in enumerate(body):
                            with m.Case(i):
                                m.d.comb += blob_byte.eq(byte)

        m.d.comb += self.idle.eq(0)
        with m.FSM():
            with m.State("WAIT"):
                m.d.comb += self.idle.eq(~self.frame.valid)
                with m.If(self.frame.valid):
                    m.d.sync += [length.eq(self.frame.payload.length), idx.eq(0), start_run.eq(0)]
                    with m.If(self.frame.payload.code != 0):
                        m.d.sync += error(self.frame.payload.code, from_frame=False)
                        m.next = "ERROR"
                    with m.Else():
                        m.next = "FETCH_ADDR"
            with m.State("FETCH_ADDR"):
                m.d.comb += self.rx_addr.eq(idx)
                m.next = "FETCH_DATA"
            with m.State("FETCH_DATA"):
                m.d.comb += self.rx_addr.eq(idx)
                m.d.sync += [hdr.word_select(idx, 8).eq(self.rx_data), idx.eq(idx + 1)]
                with m.If(idx == HEADER_FETCH - 1):
                    m.next = "DECODE"
                with m.Else():
                    m.next = "FETCH_ADDR"
            with m.State("DECODE"):
                known = (op >= min(P.Op)) & (op <= max(P.Op))
                allowed = (op == P.Op.CREDIT) | (op == P.Op.STOP) | (op == P.Op.STATUS)
                m.next = "ERROR"
                with m.If(~known):
                    m.d.sync += error(P.Err.UNKNOWN_OPCODE)
                with m.Elif(ctl.running & ~allowed):
                    m.d.sync += error(P.Err.BUSY)
                with m.Elif((op == P.Op.RUN) & (pl != P.RUN_PAYLOAD.size)):
                    m.d.sync += error(P.Err.BAD_LENGTH, P.RUN_PAYLOAD.size)
                with m.Elif((op == P.Op.CREDIT) & (pl != P.CREDIT_PAYLOAD.size)):
                    m.d.sync += error(P.Err.BAD_LENGTH, P.CREDIT_PAYLOAD.size)
                with m.Elif(((op == P.Op.RESET) | (op == P.Op.IDENTIFY) | (op == P.Op.STOP) | (op == P.Op.STATUS))
                            & (pl != 0)):
                    m.d.sync += error(P.Err.BAD_LENGTH, 0)
                with m.Elif(((op == P.Op.WRITE) | (op == P.Op.READ)) & (pl < P.BURST_HEADER.size)):
                    m.d.sync += error(P.Err.BAD_LENGTH, P.BURST_HEADER.size)
                with m.Elif(((op == P.Op.WRITE) | (op == P.Op.READ)) & ~space_ok):
                    m.d.sync += error(P.Err.BAD_ADDRESS, addr[:16])
                with m.Elif(((op == P.Op.WRITE) | (op == P.Op.READ)) & ((count == 0) | (end > size))):
                    m.d.sync += error(P.Err.BAD_ADDRESS, clamp16(end))
                with m.Elif(((op == P.Op.WRITE) | (op == P.Op.READ))
                            & ((pl != expected) | ((op == P.Op.READ) & (burst_bytes > P.MAX_PAYLOAD)))):
                    m.d.sync += error(P.Err.BAD_LENGTH, clamp16(expected))
                with m.Else():
                    with m.Switch(op):
                        with m.Case(P.Op.RESET):
                            m.d.sync += k.eq(0)
                            m.next = "RESET"
                        with m.Case(P.Op.IDENTIFY):
                            m.d.sync += reply("IDENTIFY", len(identify))
                            m.next = "BLOB"
                        with m.Case(P.Op.STATUS):
                            m.d.sync += [*reply("STATUS", P.COUNTER_BYTES * len(counters)),
                                         snap.eq(Cat(*counters.values()))]
                            m.next = "BLOB"
                        with m.Case(P.Op.RUN):
                            m.d.sync += [*reply(), start_run.eq(1)]
                            m.next = "BLOB"
                        with m.Case(P.Op.CREDIT):
                            m.d.comb += [ctl.credit_add.eq(1), ctl.credit_amount.eq(credit_amount)]
                            m.next = "RELEASE"
                        with m.Case(P.Op.STOP):
                            m.d.comb += ctl.stop.eq(1)
                            m.next = "RELEASE"
                        with m.Case(P.Op.WRITE):
                            m.d.sync += [k.eq(0), ptr.eq(_VALUES), second_pass.eq(0)]
                            m.next = "VAL_START"
                        with m.Case(P.Op.READ):
                            m.d.sync += [*reply(), blob_then_read.eq(1),
                                         reply_len.eq(P.HEADER_BYTES + burst_bytes)]
                            m.next = "BLOB"
            # ---- RESET: zero the core's counters, then the engine's. ------------------------------
            with m.State("RESET"):
                p = self.write.payload
                m.d.comb += [self.write.valid.eq(1), p.space.eq(P.Space.STATUS), p.addr.eq(k), p.data.eq(0)]
                with m.If(self.write.ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == P.StatusCounter.SATURATED_U):
                        m.d.sync += [frames_rejected.eq(0), spikes_dropped.eq(0), *reply()]
                        m.d.comb += ctl.clear_seq.eq(1)
                        m.next = "BLOB"
            # ---- WRITE: check every value, then write them. ----------------------------------------
            with m.State("VAL_START"):
                m.d.sync += [val.eq(0), j.eq(0)]
                m.next = "VAL_ADDR"
            with m.State("VAL_ADDR"):
                m.d.comb += self.rx_addr.eq(ptr)
                m.next = "VAL_DATA"
            with m.State("VAL_DATA"):
                m.d.comb += self.rx_addr.eq(ptr)
                m.d.sync += [val.word_select(j[:3], 8).eq(self.rx_data), ptr.eq(ptr + 1), j.eq(j + 1)]
                with m.If(j == nb - 1):
                    m.next = "VAL_DONE"
                with m.Else():
                    m.next = "VAL_ADDR"
            with m.State("VAL_DONE"):
                with m.If(~second_pass):
                    with m.If(bad_value):
                        m.d.sync += error(P.Err.BAD_VALUE, k)
                        m.next = "ERROR"
                    with m.Elif(k == count - 1):
                        m.d.sync += [k.eq(0), ptr.eq(_VALUES), second_pass.eq(1)]
                        m.next = "VAL_START"
                    with m.Else():
                        m.d.sync += k.eq(k + 1)
                        m.next = "VAL_START"
                with m.Else():
                    m.next = "WR_ISSUE"
            with m.State("WR_ISSUE"):
                p = self.write.payload
                with m.If((space == P.Space.STATUS) & (cur == P.StatusCounter.SPIKES_DROPPED)):
                    m.d.sync += spikes_dropped.eq(val)
                    m.next = "WR_NEXT"
                with m.Elif((space == P.Space.STATUS) & (cur == P.StatusCounter.FRAMES_REJECTED)):
                    m.d.sync += frames_rejected.eq(val)
                    m.next = "WR_NEXT"
                with m.Else():
                    m.d.comb += [self.write.valid.eq(1), p.space.eq(space), p.field.eq(field), p.addr.eq(cur),
                                 p.data.eq(val)]
                    with m.If(self.write.ready):
                        m.next = "WR_NEXT"
            with m.State("WR_NEXT"):
                m.d.sync += k.eq(k + 1)
                with m.If(k == count - 1):
                    m.d.sync += reply()
                    m.next = "BLOB"
                with m.Else():
                    m.next = "VAL_START"
            # ---- READ: one value at a time from the core (or the counters), nb bytes each. ---------
            with m.State("RD_ISSUE"):
                p = self.read.payload
                m.d.sync += j.eq(0)
                with m.If(space == P.Space.STATUS):
                    m.d.sync += val.eq(counter_word)
                    m.next = "RD_WRITE"
                with m.Else():
                    m.d.comb += [self.read.valid.eq(1), p.space.eq(space), p.field.eq(field), p.addr.eq(cur)]
                    with m.If(self.read.ready):
                        m.next = "RD_WAIT"
            with m.State("RD_WAIT"):
                m.d.comb += self.read_data.ready.eq(1)
                with m.If(self.read_data.valid):
                    m.d.sync += val.eq(self.read_data.payload)
                    m.next = "RD_WRITE"
            with m.State("RD_WRITE"):
                m.d.comb += [tx.w_en.eq(1), tx.w_addr.eq(ptr), tx.w_data.eq(val.word_select(j[:3], 8))]
                m.d.sync += [ptr.eq(ptr + 1), j.eq(j + 1)]
                with m.If(j == nb - 1):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == count - 1):
                        m.next = "SEND"
                    with m.Else():
                        m.next = "RD_ISSUE"
            # ---- Replies and errors. -------------------------------------------------------------
            with m.State("ERROR"):
                m.d.sync += [*reply("ERROR", P.ERROR_PAYLOAD.size), start_run.eq(0),
                             frames_rejected.eq(Mux(frames_rejected == _COUNTER_MAX, frames_rejected,
                                                    frames_rejected + 1))]
                m.next = "BLOB"
            with m.State("BLOB"):
                m.d.comb += [tx.w_en.eq(1), tx.w_addr.eq(j), tx.w_data.eq(blob_byte)]
                m.d.sync += j.eq(j + 1)
                with m.If(j == blob_len - 1):
                    with m.If(blob_then_read):
                        m.d.sync += [k.eq(0), ptr.eq(P.HEADER_BYTES)]
                        m.next = "RD_ISSUE"
                    with m.Else():
                        m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [tx.send.valid.eq(1), tx.send.payload.eq(reply_len)]
                with m.If(tx.send.ready):
                    with m.If(start_run):
                        m.d.comb += [ctl.start.eq(1), ctl.ticks.eq(run_ticks), ctl.credit.eq(run_credit)]
                    m.next = "RELEASE"
            with m.State("RELEASE"):
                m.d.comb += self.frame.ready.eq(1)
                m.next = "WAIT"
        return m
