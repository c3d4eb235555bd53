"""Run control and the spike encoder (docs/protocol.md, "The spike stream").

`SpikeEncoder` runs the core one tick at a time (so STOP ends a run at a tick boundary), takes the
core's spikes (tick, neuron) into SPIKES frames of tick-delta records, and ends the run with RUN_DONE.
It takes a spike only into an open frame, and opens a frame only while it holds credit: without
credit the core waits at its spike output (back-pressure), so no spike is ever dropped.

Records: prev is the tick of the last record (at the start of a run, the run's first tick). Before
each tick T is issued, while T - prev > 255 (the ticks prev+1 .. T-1, at least 255 of them, were
silent) a SKIP record (delta 255, neuron 0xFFFF) is written and prev advances by 255; so every spike
of tick T has a delta T - prev <= 255. A frame is sent when it holds SPIKES_PER_FRAME records, and at
the end of the run; its tick base is the prev at which it was opened.

The encoder keeps not prev but `gap` = T - prev, T being the tick the core runs next (or now runs):
it never exceeds 256, so a 9-bit counter holds it (+1 per tick, 0 after a spike record, 1 after a
SKIP, which happens at 256). This relies on the core stamping a spike with the tick it is running,
`core_ticks` until the tick ends. A frame's header (seq, and tick base T - gap) is written when the
frame opens, and the byte count written so far is the buffer address and, at the end, the length.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import CoreConfig, spike_layout

from .cobs import ADDR_BITS, tx_source_signature

__all__ = ["SpikeEncoder", "run_control_signature"]

_REC0 = P.HEADER_BYTES + P.SPIKES_HEADER.size  # offset of the first record in the frame body
_FULL = _REC0 + P.SPIKES_PER_FRAME * P.SPIKE_RECORD_BYTES  # length of a full SPIKES frame body
_DONE_LEN = P.HEADER_BYTES + P.RUN_DONE_PAYLOAD.size  # length of the RUN_DONE body


def run_control_signature() -> wiring.Signature:
    """The executor's side of run control."""
    return wiring.Signature({
        "start": Out(1),  # pulse: start a run of `ticks` ticks with `credit` frames of credit
        "ticks": Out(32),
        "credit": Out(16),
        "credit_add": Out(1),  # pulse: grant `credit_amount` more frames (saturating at 0xFFFF)
        "credit_amount": Out(16),
        "stop": Out(1),  # pulse: end the run at the next tick boundary
        "clear_seq": Out(1),  # pulse (RESET): the stream seq restarts at 0
        "dropped": Out(32),  # SPIKES_DROPPED, for RUN_DONE
        "running": In(1),  # a run is in progress (until RUN_DONE has been sent)
    })


class SpikeEncoder(wiring.Component):
    """Runs the core tick by tick and streams its spikes as SPIKES frames.

    Ports:

    - ``ctl`` (In `run_control_signature`): start, credit, stop, from the executor.
    - ``run`` (Out stream): to the core's run port; one tick (payload 1) at a time.
    - ``spikes`` (In stream of `spike_layout`): the core's spikes, stamped with the tick being run
      (`core_ticks`); ready only with room in an open frame (credit), so the core stalls otherwise.
    - ``core_busy`` (In): the core is running a tick.
    - ``core_ticks`` (In): the core's tick counter (ticks done = the next tick's number).
    - ``tx`` (Out `tx_source_signature`): the frame buffer of SPIKES and RUN_DONE frames.
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "ctl": In(run_control_signature()),
            "run": Out(stream.Signature(cfg.counter_width)),
            "spikes": In(stream.Signature(spike_layout(cfg))),
            "core_busy": In(1),
            "core_ticks": In(cfg.counter_width),
            "tx": Out(tx_source_signature()),
        })

    def elaborate(self, platform):
        m = Module()
        ctl, tx = self.ctl, self.tx
        running = Signal()
        ticks_req = Signal(32)  # ticks requested by RUN
        ticks_run = Signal(32)
        stop_req = Signal()
        credit = Signal(16)
        seq = Signal(16)
        gap = Signal(range(P.SPIKE_MAX_DELTA + 2))  # T - prev (see the module docstring)
        frame_open = Signal()
        spikes_sent = Signal(32)
        in_tick = Signal()  # a tick was issued and has not ended: return to TICK, not RUN
        wptr = Signal(ADDR_BITS)  # bytes of the body written so far: the next write address
        rec_byte = Signal(range(P.SPIKE_RECORD_BYTES))  # byte of the record being written
        now = Signal(32)
        m.d.comb += [ctl.running.eq(running), now.eq(self.core_ticks)]

        # Credit: +credit_amount (saturating), -1 per SPIKES frame sent. One adder does both: a grant
        # adds the amount, a lone decrement adds 0xFFFF (-1). A decrement in the cycle of a grant is
        # kept in `dec_pending` for the next cycle (no frame opens meanwhile), unless the grant
        # saturated: then the exact result, min(credit + amount - 1, 0xFFFF), is 0xFFFF as well.
        credit_dec = Signal()
        dec_pending = Signal()
        dec = credit_dec | dec_pending
        credit_sum = Signal(17)
        m.d.comb += credit_sum.eq(credit + Mux(ctl.credit_add, ctl.credit_amount, 0xFFFF))
        with m.If(ctl.credit_add):
            m.d.sync += [credit.eq(Mux(credit_sum[16], 0xFFFF, credit_sum[:16])),
                         dec_pending.eq(dec & ~credit_sum[16])]
        with m.Elif(dec):
            m.d.sync += [credit.eq(credit_sum[:16]), dec_pending.eq(0)]
        has_credit = (credit != 0) & ~dec_pending

        with m.If(ctl.stop & running):
            m.d.sync += stop_req.eq(1)
        with m.If(ctl.clear_seq):
            m.d.sync += seq.eq(0)

        # Body bytes. The SPIKES header: opcode, seq 0, stream seq, tick base (T - gap).
        base = Signal(32)
        m.d.comb += base.eq(now - gap)
        hdr_byte = Signal(8)
        with m.Switch(wptr[:3]):
            with m.Case(0):
                m.d.comb += hdr_byte.eq(P.Msg.SPIKES)
            for k in range(2):
                with m.Case(2 + k):
                    m.d.comb += hdr_byte.eq(seq.word_select(k, 8))
            for k in range(4):
                with m.Case(4 + k):
                    m.d.comb += hdr_byte.eq(base.word_select(k, 8))
        # A record: delta (gap) and neuron; SKIP's bytes are all 0xFF.
        spike_rec = Cat(gap[:8], self.spikes.payload.neuron.as_unsigned()[:16])
        rec_data = Mux(in_tick, spike_rec.word_select(rec_byte, 8), 0xFF)
        # RUN_DONE: opcode, seq 0, ticks run, next tick, spikes sent, dropped, stopped.
        done_byte = Signal(8)
        done_fields = [ticks_run, now, spikes_sent, ctl.dropped]
        with m.Switch(wptr[:5]):
            with m.Case(0):
                m.d.comb += done_byte.eq(P.Msg.RUN_DONE)
            for i, field in enumerate(done_fields):
                for k in range(4):
                    with m.Case(P.HEADER_BYTES + 4 * i + k):
                        m.d.comb += done_byte.eq(field.word_select(k, 8))
            with m.Case(_DONE_LEN - 1):
                m.d.comb += done_byte.eq(stop_req)
        m.d.comb += tx.w_addr.eq(wptr)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(ctl.start):
                    m.d.sync += [running.eq(1), ticks_req.eq(ctl.ticks), ticks_run.eq(0), stop_req.eq(0),
                                 credit.eq(ctl.credit), dec_pending.eq(0), gap.eq(0), frame_open.eq(0),
                                 spikes_sent.eq(0), in_tick.eq(0)]
                    m.next = "RUN"
            with m.State("RUN"):  # between ticks
                with m.If(stop_req | (ticks_run == ticks_req)):
                    with m.If(frame_open):
                        m.next = "SEND"  # and back here, to RUN_DONE
                    with m.Else():
                        m.d.sync += wptr.eq(0)
                        m.next = "DONE_BODY"
                with m.Elif(gap[8]):  # 256: 255 silent ticks, a SKIP record
                    with m.If(frame_open):
                        m.d.sync += rec_byte.eq(0)
                        m.next = "RECORD"
                    with m.Elif(has_credit):
                        m.d.sync += [frame_open.eq(1), wptr.eq(0)]
                        m.next = "HEADER"
                with m.Else():
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += [self.run.valid.eq(1), self.run.payload.eq(1)]
                with m.If(self.run.ready):
                    m.d.sync += in_tick.eq(1)
                    m.next = "TICK"
            with m.State("TICK"):
                with m.If(self.spikes.valid):
                    with m.If(frame_open):
                        m.d.sync += rec_byte.eq(0)
                        m.next = "RECORD"
                    with m.Elif(has_credit):
                        m.d.sync += [frame_open.eq(1), wptr.eq(0)]
                        m.next = "HEADER"
                with m.Elif(~self.core_busy):
                    m.d.sync += [ticks_run.eq(ticks_run + 1), gap.eq(gap + 1), in_tick.eq(0)]
                    m.next = "RUN"
            with m.State("HEADER"):  # then the record that opened the frame
                m.d.comb += [tx.w_en.eq(1), tx.w_data.eq(hdr_byte)]
                m.d.sync += [wptr.eq(wptr + 1), rec_byte.eq(0)]
                with m.If(wptr == _REC0 - 1):
                    m.next = "RECORD"
            with m.State("RECORD"):  # the spike waits at the input until its record is written
                m.d.comb += [tx.w_en.eq(1), tx.w_data.eq(rec_data)]
                m.d.sync += [wptr.eq(wptr + 1), rec_byte.eq(rec_byte + 1)]
                with m.If(rec_byte == P.SPIKE_RECORD_BYTES - 1):
                    m.d.comb += self.spikes.ready.eq(in_tick)
                    m.d.sync += [gap.eq(~in_tick), spikes_sent.eq(spikes_sent + in_tick)]
                    with m.If(wptr == _FULL - 1):
                        m.next = "SEND"
                    with m.Elif(in_tick):
                        m.next = "TICK"
                    with m.Else():
                        m.next = "RUN"
            with m.State("SEND"):
                m.d.comb += [tx.send.valid.eq(1), tx.send.payload.eq(wptr)]
                with m.If(tx.send.ready):
                    m.d.comb += credit_dec.eq(1)
                    m.d.sync += [seq.eq(seq + 1), frame_open.eq(0)]
                    with m.If(in_tick):
                        m.next = "TICK"
                    with m.Else():
                        m.next = "RUN"
            with m.State("DONE_BODY"):
                m.d.comb += [tx.w_en.eq(1), tx.w_data.eq(done_byte)]
                m.d.sync += wptr.eq(wptr + 1)
                with m.If(wptr == _DONE_LEN - 1):
                    m.next = "DONE_SEND"
            with m.State("DONE_SEND"):
                m.d.comb += [tx.send.valid.eq(1), tx.send.payload.eq(wptr)]
                with m.If(tx.send.ready):
                    m.d.sync += running.eq(0)
                    m.next = "IDLE"
        return m
