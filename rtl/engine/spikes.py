"""Run control and the spike encoder (docs/protocol.md, "The spike stream").

`SpikeEncoder` runs the core one tick at a time (so STOP ends a run at a tick boundary), takes the
core's spikes (tick, neuron) into SPIKES frames of tick-delta records, and ends the run with RUN_DONE.
It takes a spike only into an open frame, and opens a frame only while it holds credit: without
credit the core waits at its spike output (back-pressure), so no spike is ever dropped.

Records: `prev` is the tick of the last record (at the start of a run, the run's first tick). Before
each tick T is issued, while T - prev > 255 (the ticks prev+1 .. T-1, at least 255 of them, were
silent) a SKIP record (delta 255, neuron 0xFFFF) is written and prev advances by 255; so every spike
of tick T has a delta T - prev <= 255. A frame is sent when it holds SPIKES_PER_FRAME records, and at
the end of the run; its tick base is the `prev` at which it was opened.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import CoreConfig, spike_layout

from .cobs import tx_source_signature

__all__ = ["SpikeEncoder", "run_control_signature"]

_REC0 = P.HEADER_BYTES + P.SPIKES_HEADER.size  # offset of the first record in the frame body


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
    - ``spikes`` (In stream of `spike_layout`): the core's spikes; ready only with room in an open
      frame (credit), so the core stalls otherwise.
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
        left = Signal(32)
        ticks_run = Signal(32)
        stop_req = Signal()
        credit = Signal(16)
        seq = Signal(16)
        prev = Signal(32)
        base = Signal(32)
        records = Signal(range(P.SPIKES_PER_FRAME + 1))
        spikes_sent = Signal(32)
        frame_open = Signal()
        rec = Signal(24)  # delta (8) and neuron (16) of the record being written
        rec_is_spike = Signal()
        in_tick = Signal()  # return to TICK (else to RUN) after a record or a frame
        finishing = Signal()
        byte = Signal(range(32))
        now = Signal(32)
        m.d.comb += [ctl.running.eq(running), now.eq(self.core_ticks)]

        # Credit: +credit_amount (saturating), -1 per SPIKES frame sent.
        credit_dec = Signal()
        credit_sum = Signal(18)
        m.d.comb += credit_sum.eq(credit + Mux(ctl.credit_add, ctl.credit_amount, 0) - credit_dec)
        m.d.sync += credit.eq(Mux(credit_sum > 0xFFFF, 0xFFFF, credit_sum))
        with m.If(ctl.stop & running):
            m.d.sync += stop_req.eq(1)
        with m.If(ctl.clear_seq):
            m.d.sync += seq.eq(0)

        spike_hdr = Cat(Const(P.Msg.SPIKES, 8), Const(0, 8), seq, base)
        done_body = Cat(Const(P.Msg.RUN_DONE, 8), Const(0, 8), ticks_run, now, spikes_sent, ctl.dropped,
                        stop_req, Const(0, 7))
        done_len = P.HEADER_BYTES + P.RUN_DONE_PAYLOAD.size

        with m.FSM():
            with m.State("IDLE"):
                with m.If(ctl.start):
                    m.d.sync += [running.eq(1), left.eq(ctl.ticks), ticks_run.eq(0), stop_req.eq(0),
                                 credit.eq(ctl.credit), prev.eq(now), frame_open.eq(0), records.eq(0),
                                 spikes_sent.eq(0), finishing.eq(0)]
                    m.next = "RUN"
            with m.State("RUN"):  # between ticks
                m.d.sync += in_tick.eq(0)
                with m.If(stop_req | (left == 0)):
                    m.d.sync += [finishing.eq(1), byte.eq(0)]
                    with m.If(frame_open):
                        m.next = "HEADER"
                    with m.Else():
                        m.next = "DONE_BODY"
                with m.Elif((now - prev)[:32] > P.SPIKE_MAX_DELTA):  # 255 silent ticks: a SKIP record
                    with m.If(frame_open | (credit != 0)):
                        m.d.sync += [rec.eq(Cat(Const(P.SPIKE_MAX_DELTA, 8), Const(P.SPIKE_SKIP, 16))),
                                     rec_is_spike.eq(0), prev.eq(prev + P.SPIKE_MAX_DELTA), byte.eq(0)]
                        with m.If(~frame_open):
                            m.d.sync += [frame_open.eq(1), base.eq(prev), records.eq(0)]
                        m.next = "RECORD"
                with m.Else():
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += [self.run.valid.eq(1), self.run.payload.eq(1)]
                with m.If(self.run.ready):
                    m.d.sync += in_tick.eq(1)
                    m.next = "TICK"
            with m.State("TICK"):
                sp = self.spikes.payload
                with m.If(self.spikes.valid):
                    with m.If(frame_open):
                        m.d.comb += self.spikes.ready.eq(1)
                        m.d.sync += [rec.eq(Cat((sp.tick - prev)[:8], sp.neuron.as_unsigned()[:16])),
                                     rec_is_spike.eq(1), prev.eq(sp.tick), byte.eq(0)]
                        m.next = "RECORD"
                    with m.Elif(credit != 0):
                        m.d.sync += [frame_open.eq(1), base.eq(prev), records.eq(0)]
                with m.Elif(~self.core_busy):
                    m.d.sync += [left.eq(left - 1), ticks_run.eq(ticks_run + 1)]
                    m.next = "RUN"
            with m.State("RECORD"):
                m.d.comb += [tx.w_en.eq(1), tx.w_addr.eq(_REC0 + records * P.SPIKE_RECORD_BYTES + byte),
                             tx.w_data.eq(rec.word_select(byte[:2], 8))]
                m.d.sync += byte.eq(byte + 1)
                with m.If(byte == P.SPIKE_RECORD_BYTES - 1):
                    m.d.sync += [records.eq(records + 1), spikes_sent.eq(spikes_sent + rec_is_spike)]
                    with m.If(records == P.SPIKES_PER_FRAME - 1):
                        m.next = "HEADER"
                        m.d.sync += byte.eq(0)
                    with m.Elif(in_tick):
                        m.next = "TICK"
                    with m.Else():
                        m.next = "RUN"
            with m.State("HEADER"):
                m.d.comb += [tx.w_en.eq(1), tx.w_addr.eq(byte), tx.w_data.eq(spike_hdr.word_select(byte[:3], 8))]
                m.d.sync += byte.eq(byte + 1)
                with m.If(byte == _REC0 - 1):
                    m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [tx.send.valid.eq(1), tx.send.payload.eq(_REC0 + records * P.SPIKE_RECORD_BYTES)]
                with m.If(tx.send.ready):
                    m.d.comb += credit_dec.eq(1)
                    m.d.sync += [seq.eq(seq + 1), frame_open.eq(0), records.eq(0)]
                    with m.If(finishing):
                        m.d.sync += byte.eq(0)
                        m.next = "DONE_BODY"
                    with m.Elif(in_tick):
                        m.next = "TICK"
                    with m.Else():
                        m.next = "RUN"
            with m.State("DONE_BODY"):
                m.d.comb += [tx.w_en.eq(1), tx.w_addr.eq(byte), tx.w_data.eq(done_body.word_select(byte, 8))]
                m.d.sync += byte.eq(byte + 1)
                with m.If(byte == done_len - 1):
                    m.next = "DONE_SEND"
            with m.State("DONE_SEND"):
                m.d.comb += [tx.send.valid.eq(1), tx.send.payload.eq(done_len)]
                with m.If(tx.send.ready):
                    m.d.sync += running.eq(0)
                    m.next = "IDLE"
        return m
