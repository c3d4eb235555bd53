"""Run control and the spike encoder (docs/protocol.md, "The spike stream").

`SpikeEncoder` runs the core one tick at a time (so STOP ends a run at a tick boundary), takes the
core's spikes (tick, neuron) into SPIKES frames of tick-delta records, and ends the run with RUN_DONE.
It takes a spike only into an open frame, and opens a frame only while it holds credit: without
credit the core waits at its spike output (back-pressure), so no spike is ever dropped.

Two frame buffers: a full frame is handed to the transmitter (and its credit spent) and the next one is
written into the other buffer while the first is on the line, so the core waits for the line only when
a frame fills before the one before it has left. Frames leave in order: a frame is requested only once
the other buffer's frame has been taken (its delimiter sent).

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
A record is written while its spike waits at the input; the spike is taken with the record's last
byte. The 32-bit fields are written a byte per cycle in step with a free-running byte counter, so
that the counters only written out (ticks run, spikes sent, seq) can be rings of bytes and the tick
base a serial subtraction.

The states readout (register sample_units > 0; docs/protocol.md, "The state stream"): the core's
spikes are taken as they come and not written; after the run's tick sample_wait and every
sample_every ticks after it, the states of units sample_first .. + sample_units - 1 (the core's `z`,
a unit a cycle) are packed into the open frame (opened with credit, as a SPIKES frame, its header's
tick base then the sample's tick: gap is held at 1), which is sent when the next sample would not fit
and at the end of the run. RUN_DONE's count is then of samples. With sample_stats = 1 the samples are
not sent but handed to the statistics unit (rtl/engine/stats.py), cleared as the run starts; the run
ends (RUN_DONE) once it has counted the last one.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import CoreConfig, bits_for, readout_layout, spike_layout

from .cobs import ADDR_BITS, tx_source_signature
from .payload import field_bytes, field_width

__all__ = ["SpikeEncoder", "run_control_signature"]

_REC0 = P.HEADER_BYTES + P.SPIKES_HEADER.size  # offset of the first record in the frame body
_FULL = _REC0 + P.SPIKES_PER_FRAME * P.SPIKE_RECORD_BYTES  # length of a full SPIKES frame body
_DONE_LEN = P.HEADER_BYTES + P.RUN_DONE_PAYLOAD.size  # length of the RUN_DONE body
# Widths of the run-control values and of the frames' counters, from the payload structs.
_TICKS_BITS, _CREDIT_BITS = field_width(P.RUN_PAYLOAD, 0), field_width(P.RUN_PAYLOAD, 1)
_CREDIT_MAX = (1 << _CREDIT_BITS) - 1
_SEQ, _TICK_BASE = field_bytes(P.SPIKES_HEADER, 0), field_bytes(P.SPIKES_HEADER, 1)
_DONE_FIELDS = [field_bytes(P.RUN_DONE_PAYLOAD, i) for i in range(len(P.struct_fields(P.RUN_DONE_PAYLOAD)))]
# The byte-serial writing below (see the module docstring) relies on this layout: a SPIKES header
# starts at phase 0 and a RUN_DONE body at phase 2, so byte k of a 32-bit field lands at phase k; the
# two bytes of seq come at even positions, and the one byte of `stopped` last.
if (len(_SEQ) != 2 or _SEQ.start % 2 or len(_TICK_BASE) != 4 or _TICK_BASE.start % 4
        or [len(f) for f in _DONE_FIELDS] != [4, 4, 4, 4, 1] or any(f.start % 4 != 2 for f in _DONE_FIELDS[:4])
        or _DONE_FIELDS[4].start != _DONE_LEN - 1 or field_width(P.CREDIT_PAYLOAD, 0) != _CREDIT_BITS
        or P.STATES_HEADER.format != P.SPIKES_HEADER.format or P.HEADER_BYTES + P.STATES_MAX_PAYLOAD != _FULL):
    raise ImportError("the spike encoder's byte-serial fields do not match the protocol's payload structs")


def run_control_signature() -> wiring.Signature:
    """The executor's side of run control."""
    return wiring.Signature({
        "start": Out(1),  # pulse: start a run of `ticks` ticks with `credit` frames of credit
        "ticks": Out(_TICKS_BITS),
        "credit": Out(_CREDIT_BITS),
        "credit_add": Out(1),  # pulse: grant `credit_amount` more frames (saturating at 0xFFFF)
        "credit_amount": Out(_CREDIT_BITS),
        "stop": Out(1),  # pulse: end the run at the next tick boundary
        "clear_seq": Out(1),  # pulse (RESET): the stream seq restarts at 0
        "dropped": Out(8 * len(_DONE_FIELDS[3])),  # SPIKES_DROPPED, for RUN_DONE
        "running": In(1),  # a run is in progress (until RUN_DONE has been sent)
    })


def _byte_ring(m: Module, n_bytes: int, phase: Signal, clear, inc, name: str) -> Signal:
    """A counter of `n_bytes` bytes kept as a ring that rotates by one byte a cycle; returns the byte
    at the head, byte `phase` mod n_bytes of the count (`phase` counts cycles).

    The carry of an increment ripples a byte per cycle: a request (`inc`, a pulse) is added when the
    least significant byte is at the head and is complete n_bytes - 1 cycles later, so requests must
    come at least n_bytes cycles apart. `clear` zeroes the count.
    """
    ring = Signal(8 * n_bytes, name=name)
    pending = Signal(name=f"{name}_pending")  # an increment waits for its least significant byte
    carry = Signal(name=f"{name}_carry")  # into the byte at the head
    lsb = phase[:(n_bytes - 1).bit_length()] == 0
    head = ring[:8]
    head_next = Signal(9)
    m.d.comb += head_next.eq(head + Mux(lsb, pending | inc, carry))
    m.d.sync += [ring.eq(Cat(ring[8:], head_next[:8])), carry.eq(head_next[8]), pending.eq((pending | inc) & ~lsb)]
    with m.If(clear):
        m.d.sync += [ring.eq(0), carry.eq(0), pending.eq(0)]
    return head


class SpikeEncoder(wiring.Component):
    """Runs the core tick by tick and streams its spikes as SPIKES frames.

    Ports:

    - ``ctl`` (In `run_control_signature`): start, credit, stop, from the executor.
    - ``run`` (Out stream): to the core's run port; one tick (payload 1) at a time.
    - ``spikes`` (In stream of `spike_layout`): the core's spikes, stamped with the tick being run
      (`core_ticks`); ready only with room in an open frame (credit), so the core stalls otherwise.
    - ``core_busy`` (In): the core is running a tick.
    - ``core_ticks`` (In): the core's tick counter (ticks done = the next tick's number).
    - ``tx0``, ``tx1`` (Out `tx_source_signature`): the two frame buffers of SPIKES (or STATES) and
      RUN_DONE frames, used in turn.
    - ``readout`` (In `readout_layout`), states readout only: the core's readout registers.
    - ``z_unit`` (Out), states readout only: the unit whose state the core shows on ``z`` a cycle later.
    - ``z`` (In), states readout only: that unit's state in the last tick.
    - ``stats_clear``, ``stats_add``, ``stats_bits`` (Out), ``stats_busy`` (In), states readout only:
      to `SampleStats` (clear the counts; count a sample's states).
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "ctl": In(run_control_signature()),
            "run": Out(stream.Signature(cfg.counter_width)),
            "spikes": In(stream.Signature(spike_layout(cfg))),
            "core_busy": In(1),
            "core_ticks": In(cfg.counter_width),
            "tx0": Out(tx_source_signature()),
            "tx1": Out(tx_source_signature()),
            **({"readout": In(readout_layout(cfg)), "z_unit": Out(range(cfg.n_neurons)), "z": In(1),
                "stats_clear": Out(1), "stats_add": Out(1), "stats_bits": Out(P.STATS_UNITS_MAX),
                "stats_busy": In(1)}
               if cfg.states_readout else {}),
        })

    def elaborate(self, platform):
        m = Module()
        ctl, txs = self.ctl, (self.tx0, self.tx1)
        running = Signal()
        stop_req = Signal()
        credit = Signal(_CREDIT_BITS)
        gap = Signal(range(P.SPIKE_MAX_DELTA + 2))  # T - prev (see the module docstring)
        frame_open = Signal()
        in_tick = Signal()  # a tick was issued and has not ended: return to TICK, not RUN
        wptr = Signal(ADDR_BITS)  # bytes of the body written so far: the next write address
        rec_byte = Signal(range(P.SPIKE_RECORD_BYTES))  # byte of the record being written
        now = Signal(8 * len(_TICK_BASE))
        m.d.comb += [ctl.running.eq(running), now.eq(self.core_ticks)]

        # The multi-byte fields of the frames are handled a byte at a time: `phase` counts cycles mod 4,
        # and a frame's header and RUN_DONE are written in step with it, so that byte k of a 32-bit
        # field is written when phase = k (and byte k of seq when phase = 2 + k). Counters that are
        # only written out are byte rings (no byte multiplexer); their increments come at least four
        # cycles apart (a tick: RUN, ISSUE, TICK while the core is busy, and a record: 3 bytes and TICK).
        phase = Signal(2)
        m.d.sync += phase.eq(phase + 1)
        run_start = Signal()
        tick_done = Signal()
        spike_done = Signal()
        frame_requested = Signal()
        ticks_run = _byte_ring(m, len(_DONE_FIELDS[0]), phase, run_start, tick_done, "ticks_run")
        spikes_sent = _byte_ring(m, len(_DONE_FIELDS[2]), phase, run_start, spike_done, "spikes_sent")
        seq = _byte_ring(m, len(_SEQ), phase, ctl.clear_seq, frame_requested, "seq")
        ticks_left = Signal(_TICKS_BITS)
        with m.If(run_start):
            m.d.sync += ticks_left.eq(ctl.ticks)
        with m.Elif(tick_done):
            m.d.sync += ticks_left.eq(ticks_left - 1)

        # Credit: +credit_amount (saturating), -1 per SPIKES frame requested. One adder does both: a grant
        # adds the amount, a lone decrement adds 0xFFFF (-1). A decrement in the cycle of a grant is
        # kept in `dec_pending` for the next cycle (no frame opens meanwhile), unless the grant
        # saturated: then the exact result, min(credit + amount - 1, 0xFFFF), is 0xFFFF as well.
        dec_pending = Signal()
        dec = frame_requested | dec_pending
        credit_sum = Signal(_CREDIT_BITS + 1)
        m.d.comb += credit_sum.eq(credit + Mux(ctl.credit_add, ctl.credit_amount, _CREDIT_MAX))
        carry = credit_sum[_CREDIT_BITS]
        with m.If(ctl.credit_add):
            m.d.sync += [credit.eq(Mux(carry, _CREDIT_MAX, credit_sum[:_CREDIT_BITS])),
                         dec_pending.eq(dec & ~carry)]
        with m.Elif(dec):
            m.d.sync += [credit.eq(credit_sum[:_CREDIT_BITS]), dec_pending.eq(0)]
        has_credit = (credit != 0) & ~dec_pending

        with m.If(ctl.stop & running):
            m.d.sync += stop_req.eq(1)

        # The states readout: latched at the run's start (`states`: this run sends samples).
        states = Signal()
        stats = Signal()  # ... and counts them on the device instead of sending them
        stats_busy = self.stats_busy if self.cfg.states_readout else Const(0, 1)
        if self.cfg.states_readout:
            ro, n = self.readout, self.cfg.n_neurons
            units = Signal.like(ro.sample_units)
            first = Signal.like(ro.sample_first)
            every = Signal.like(ro.sample_every)
            sample_bytes = Signal(range(P.state_bytes(P.STATES_MAX_PAYLOAD * 8) + 1))
            countdown = Signal.like(ro.sample_wait)  # ticks until the next sample's tick ends
            k_issue = Signal.like(units)  # the next unit to ask the core for, from first
            k_got = Signal.like(units)  # the unit whose state arrives now (a cycle after its issue)
            got_valid, got_inside = Signal(), Signal()
            byte_acc = Signal(8)
            unit = Signal(len(first) + 1)
            m.d.comb += [unit.eq(first + k_issue), self.z_unit.eq(unit)]
            zvec = Signal(P.STATS_UNITS_MAX)  # the sample's states, for the statistics
            m.d.comb += [self.stats_bits.eq(zvec), self.stats_clear.eq(run_start & (ro.sample_units != 0) & ro.sample_stats)]
            with m.If(run_start):
                m.d.sync += [states.eq(ro.sample_units != 0), stats.eq(ro.sample_stats),
                             units.eq(ro.sample_units), first.eq(ro.sample_first),
                             every.eq(ro.sample_every), countdown.eq(ro.sample_wait),
                             sample_bytes.eq((ro.sample_units + 7) >> 3)]

        # Body bytes. `now_minus_gap` is byte `phase` of now - gap, by a serial subtractor (the borrow
        # restarts at phase 0): the tick base in a SPIKES header, `now` in RUN_DONE (gap is 0 then).
        now_byte = now.word_select(phase, 8)
        gap_byte = Mux(phase == 0, gap[:8], Mux(phase == 1, gap[8], 0))
        borrow = Signal()
        diff = Signal(9)
        m.d.comb += diff.eq(now_byte - gap_byte - (borrow & (phase != 0)))
        m.d.sync += borrow.eq(diff[8])
        now_minus_gap = diff[:8]
        # The SPIKES header: opcode, seq 0, stream seq, tick base.
        hdr_byte = Signal(8)
        with m.Switch(wptr[:bits_for(_REC0)]):
            with m.Case(0):
                m.d.comb += hdr_byte.eq(Mux(states, P.Msg.STATES, P.Msg.SPIKES))
            with m.Case(*_SEQ):
                m.d.comb += hdr_byte.eq(seq)
            with m.Case(*_TICK_BASE):
                m.d.comb += hdr_byte.eq(now_minus_gap)
        # A record: delta (gap) and neuron; SKIP's bytes are all 0xFF.
        spike_rec = Cat(gap[:8], self.spikes.payload.neuron.as_unsigned()[:8 * (P.SPIKE_RECORD_BYTES - 1)])
        rec_data = Mux(in_tick, spike_rec.word_select(rec_byte, 8), 0xFF)
        # RUN_DONE: opcode, seq 0, ticks run, next tick, spikes sent, dropped, stopped.
        done_byte = Signal(8)
        done_fields = [ticks_run, now_minus_gap, spikes_sent, ctl.dropped.word_select(phase, 8)]
        with m.Switch(wptr[:bits_for(_DONE_LEN)]):
            with m.Case(0):
                m.d.comb += done_byte.eq(P.Msg.RUN_DONE)
            for i, field in enumerate(done_fields):
                with m.Case(*_DONE_FIELDS[i]):
                    m.d.comb += done_byte.eq(field)
            with m.Case(*_DONE_FIELDS[4]):
                m.d.comb += done_byte.eq(stop_req)
        # The buffers: `cur` is written; a finished frame is requested (`pending`, its length latched)
        # until the transmitter takes it, and only once the other buffer's frame has been taken.
        cur = Signal()
        pending = Signal(2)
        length = [Signal(ADDR_BITS, name=f"length{k}") for k in range(2)]
        w_en, w_data = Signal(), Signal(8)
        request = Signal()  # the frame in `cur` is requested: cur flips in the same cycle
        other_busy = Mux(cur, pending[0], pending[1])
        for k, tx in enumerate(txs):
            m.d.comb += [tx.w_addr.eq(wptr), tx.w_data.eq(w_data), tx.w_en.eq(w_en & (cur == k)),
                         tx.send.valid.eq(pending[k]), tx.send.payload.eq(length[k])]
            with m.If(request & (cur == k)):
                m.d.sync += [pending[k].eq(1), length[k].eq(wptr)]
            with m.Elif(tx.send.ready):
                m.d.sync += pending[k].eq(0)
        with m.If(request):
            m.d.sync += cur.eq(~cur)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(ctl.start):
                    m.d.comb += run_start.eq(1)
                    m.d.sync += [running.eq(1), stop_req.eq(0), credit.eq(ctl.credit),
                                 dec_pending.eq(0), gap.eq(0), frame_open.eq(0), in_tick.eq(0)]
                    m.next = "RUN"
            with m.State("RUN"):  # between ticks
                with m.If(stop_req | (ticks_left == 0)):
                    with m.If(frame_open):
                        m.next = "SEND"  # and back here, to RUN_DONE
                    with m.Elif((phase == 1) & ~stats_busy):  # its byte 2, the first of a field, at phase 0
                        m.d.sync += [wptr.eq(0), gap.eq(0)]
                        m.next = "DONE_BODY"
                with m.Elif(gap[8]):  # 256: 255 silent ticks, a SKIP record
                    with m.If(frame_open):
                        m.d.sync += rec_byte.eq(0)
                        m.next = "RECORD"
                    with m.Elif(has_credit & (phase == 3)):  # the header starts at phase 0
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
                with m.If(self.spikes.valid & states):
                    m.d.comb += self.spikes.ready.eq(1)  # the states readout: spikes are not sent
                with m.Elif(~self.core_busy & states):
                    m.d.comb += tick_done.eq(1)
                    m.d.sync += [gap.eq(1), in_tick.eq(0)]  # gap 1: now - gap is the tick just done
                    if self.cfg.states_readout:
                        with m.If(countdown == 0):
                            m.d.sync += countdown.eq(every - 1)
                            m.next = "SAMPLE"
                        with m.Else():
                            m.d.sync += countdown.eq(countdown - 1)
                            m.next = "RUN"
                with m.Elif(self.spikes.valid):
                    with m.If(frame_open):
                        m.d.sync += rec_byte.eq(0)
                        m.next = "RECORD"
                    with m.Elif(has_credit & (phase == 3)):  # the header starts at phase 0
                        m.d.sync += [frame_open.eq(1), wptr.eq(0)]
                        m.next = "HEADER"
                with m.Elif(~self.core_busy):
                    m.d.comb += tick_done.eq(1)
                    m.d.sync += [gap.eq(gap + 1), in_tick.eq(0)]
                    m.next = "RUN"
            with m.State("HEADER"):  # then the record that opened the frame
                m.d.comb += [w_en.eq(1), w_data.eq(hdr_byte)]
                m.d.sync += [wptr.eq(wptr + 1), rec_byte.eq(0)]
                with m.If(wptr == _REC0 - 1):
                    m.next = "BITS" if self.cfg.states_readout else "RECORD"
                    with m.If(~states):
                        m.next = "RECORD"
            with m.State("RECORD"):  # the spike waits at the input until its record is written
                m.d.comb += [w_en.eq(1), w_data.eq(rec_data)]
                m.d.sync += [wptr.eq(wptr + 1), rec_byte.eq(rec_byte + 1)]
                with m.If(rec_byte == P.SPIKE_RECORD_BYTES - 1):
                    m.d.comb += [self.spikes.ready.eq(in_tick), spike_done.eq(in_tick)]
                    m.d.sync += gap.eq(~in_tick)  # 0 after a spike, 256 - 255 after a SKIP
                    with m.If(wptr == _FULL - 1):
                        m.next = "SEND"
                    with m.Elif(in_tick):
                        m.next = "TICK"
                    with m.Else():
                        m.next = "RUN"
            if self.cfg.states_readout:
                with m.State("SAMPLE"):  # a frame to write the sample into: open one with credit
                    m.d.sync += [k_issue.eq(0), got_valid.eq(0), byte_acc.eq(0), zvec.eq(0)]
                    with m.If(frame_open | stats):
                        m.next = "BITS"
                    with m.Elif(has_credit & (phase == 3)):  # the header starts at phase 0
                        m.d.sync += [frame_open.eq(1), wptr.eq(0)]
                        m.next = "HEADER"
                with m.State("BITS"):  # a unit's state a cycle: issued, then packed a cycle later
                    last_bit = k_got == units - 1
                    bit = self.z & got_inside
                    byte_now = byte_acc | (bit << k_got[:3])
                    with m.If(k_issue != units):
                        m.d.sync += k_issue.eq(k_issue + 1)
                    m.d.sync += [got_valid.eq(k_issue != units), k_got.eq(k_issue), got_inside.eq(unit < n)]
                    with m.If(got_valid):
                        m.d.sync += byte_acc.eq(byte_now)
                        with m.If(k_got < P.STATS_UNITS_MAX):
                            m.d.sync += zvec.eq(zvec | (bit << k_got[:len(zvec).bit_length() - 1]))
                        with m.If(((k_got[:3] == 7) | last_bit) & ~stats):
                            m.d.comb += [w_en.eq(1), w_data.eq(byte_now)]
                            m.d.sync += [wptr.eq(wptr + 1), byte_acc.eq(0)]
                        with m.If(last_bit):
                            m.d.comb += spike_done.eq(1)
                            with m.If(stats):
                                m.next = "COUNT"
                            with m.Elif(wptr + 1 + sample_bytes > _FULL):
                                m.next = "SEND"
                            with m.Else():
                                m.next = "RUN"
                with m.State("COUNT"):  # the statistics unit takes the sample once it is free
                    with m.If(~self.stats_busy):
                        m.d.comb += self.stats_add.eq(1)
                        m.next = "RUN"
            with m.State("SEND"):  # request the frame once the one before it has left
                with m.If(~other_busy):
                    m.d.comb += [request.eq(1), frame_requested.eq(1)]
                    m.d.sync += frame_open.eq(0)
                    with m.If(in_tick):
                        m.next = "TICK"
                    with m.Else():
                        m.next = "RUN"
            with m.State("DONE_BODY"):
                m.d.comb += [w_en.eq(1), w_data.eq(done_byte)]
                m.d.sync += wptr.eq(wptr + 1)
                with m.If(wptr == _DONE_LEN - 1):
                    m.next = "DONE_SEND"
            with m.State("DONE_SEND"):
                with m.If(~other_busy):
                    m.d.comb += request.eq(1)
                    m.next = "DONE_WAIT"
            with m.State("DONE_WAIT"):  # the run ends when RUN_DONE has left
                with m.If(pending == 0):
                    m.d.sync += running.eq(0)
                    m.next = "IDLE"
        return m
