"""The golden device: the golden model behind the wire protocol, in-process.

`GoldenEmulator` takes the bytes a host sends and returns the bytes a device would answer, executing
commands on a `GoldenCore` exactly as the RTL command engine does on the core (docs/protocol.md). It
is the embedded default device, and the reference the command engine is tested against.
"""

from __future__ import annotations

import numpy as np

from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import REGISTER_NAMES, Formats, ModelParams, quantise

from . import protocol as P
from .errors import InputError

#: Ticks the golden core computes at a time during a run (at least 256: the encoder's last SKIP or
#: spike always lies within the last two chunks, so a STOP can bring the core back to it).
RUN_CHUNK_TICKS = 2000
#: Chunks of ticks one feed() call computes at most, so that every call returns in bounded time and
#: the host's STOP or CREDIT gets in; the host's reads (feed(b"")) carry the run on.
FEED_CHUNKS = 4
#: Counter ceiling (counters saturate at the width of the STATUS reply).
COUNTER_MAX = (1 << (8 * P.COUNTER_BYTES)) - 1


class GoldenEmulator:
    """A device of n_neurons neurons running the golden model; feed() bytes in, get bytes out."""

    lanes = 1

    def __init__(self, n_neurons: int, formats: Formats | None = None):
        if not 1 <= n_neurons < P.SPIKE_SKIP:
            raise InputError(f"a device holds 1..{P.SPIKE_SKIP - 1} neurons (16-bit ids on the wire), "
                             f"not {n_neurons}")
        self.n = n_neurons
        self.formats = formats or Formats()
        fixed = quantise(ModelParams(), self.formats)
        self.core = GoldenCore(fixed, np.zeros(n_neurons, np.int64), np.zeros((n_neurons, n_neurons), np.int64))
        self.core.counters[:] = 0
        self.splitter = P.FrameSplitter()
        self.out = bytearray()
        self.frames_rejected = 0
        self.spikes_dropped = 0
        self.cycles_last_tick = 0  #: the golden model has no clock: 0 unless written
        self.stream_seq = 0
        self._running = False
        self._stalled = False
        self._credit = 0  # a CREDIT may come before any RUN (the next RUN sets its own)
        self._units = 0  # states per sample of the run (0: the spike stream)
        #: the statistics readout's counts, unit i and unit j on together (i = j: unit i on), symmetric
        self.stats = np.zeros((P.STATS_UNITS_MAX, P.STATS_UNITS_MAX), np.int64)

    @property
    def waiting(self) -> bool:
        """Nothing to do until bytes arrive: no run, or a run stalled for credit (as the RTL's idle,
        which also stays low while a run waits)."""
        return not self._running or self._stalled

    # -- byte interface --------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        """Process bytes from the host; return the bytes the device sends back (possibly none)."""
        for item in self.splitter.feed(data):
            if isinstance(item, P.ProtocolError):
                self._error(item.code, 0, 0, 0)
                continue
            try:
                frame = P.decode_frame(item)
            except P.ProtocolError as exc:
                self._error(exc.code, 0, 0, 0)
                continue
            self._execute(frame)
        self._pump()
        out, self.out = bytes(self.out), bytearray()
        return out

    # -- commands -------------------------------------------------------------------------------
    def _send(self, op: int, seq: int, payload: bytes = b"") -> None:
        self.out += P.encode_frame(op, seq, payload)

    def _error(self, code: P.Err, op: int, seq: int, detail: int) -> None:
        self.frames_rejected = min(self.frames_rejected + 1, COUNTER_MAX)
        self._send(P.Msg.ERROR, seq, P.ERROR_PAYLOAD.pack(int(code), op & 0xFF, detail & 0xFFFF))

    def _execute(self, f: P.Frame) -> None:
        try:
            op = P.Op(f.op)
        except ValueError:
            self._error(P.Err.UNKNOWN_OPCODE, f.op, f.seq, 0)
            return
        if self._running and op not in (P.Op.CREDIT, P.Op.STOP, P.Op.STATUS):
            self._error(P.Err.BUSY, f.op, f.seq, 0)
            return
        handler = {
            P.Op.RESET: self._reset, P.Op.IDENTIFY: self._identify, P.Op.WRITE: self._write,
            P.Op.READ: self._read, P.Op.RUN: self._run, P.Op.CREDIT: self._add_credit,
            P.Op.STOP: self._stop_run, P.Op.STATUS: self._status,
        }[op]
        handler(f)

    def _expect_len(self, f: P.Frame, n: int) -> bool:
        if len(f.payload) != n:
            self._error(P.Err.BAD_LENGTH, f.op, f.seq, n)
            return False
        return True

    def _reset(self, f: P.Frame) -> None:
        if not self._expect_len(f, 0):
            return
        self.core.tick = 0
        self.core.counters[:] = 0
        self.cycles_last_tick = 0  # the RTL's RESET writes 0 to all four of the core's counters
        self.frames_rejected = 0
        self.spikes_dropped = 0
        self.stream_seq = 0
        self._send(P.Op.RESET | P.REPLY_BIT, f.seq)

    def _identify(self, f: P.Frame) -> None:
        if not self._expect_len(f, 0):
            return
        self._send(P.Op.IDENTIFY | P.REPLY_BIT, f.seq, P.IDENTIFY_PAYLOAD.pack(
            P.PROTOCOL_VERSION, self.n, self.lanes, *P.format_fields(self.formats), P.MAX_PAYLOAD,
            int(P.Readout.SPIKES | P.Readout.STATES | P.Readout.STATS)))

    def _burst(self, f: P.Frame, writing: bool):
        """Parse and check a burst header; returns (space, field, addr, count, nbytes, bits, signed) or None."""
        if len(f.payload) < P.BURST_HEADER.size:
            self._error(P.Err.BAD_LENGTH, f.op, f.seq, P.BURST_HEADER.size)
            return None
        space_i, field, addr, count = P.BURST_HEADER.unpack_from(f.payload)
        try:
            space = P.Space(space_i)
            if space == P.Space.NEURON:
                P.NeuronField(field)
        except ValueError:
            self._error(P.Err.BAD_ADDRESS, f.op, f.seq, addr)
            return None
        if count == 0 or addr + count > P.space_size(space, self.n):
            self._error(P.Err.BAD_ADDRESS, f.op, f.seq, min(addr + count, 0xFFFF))
            return None
        nbytes = P.wire_bytes(space, field, self.formats, self.n)
        expected = P.BURST_HEADER.size + (count * nbytes if writing else 0)
        if len(f.payload) != expected or (not writing and count * nbytes > P.MAX_PAYLOAD):
            self._error(P.Err.BAD_LENGTH, f.op, f.seq, min(expected, 0xFFFF))
            return None
        return space, field, addr, count, nbytes

    def _write(self, f: P.Frame) -> None:
        parsed = self._burst(f, writing=True)
        if parsed is None:
            return
        space, field, addr, count, nbytes = parsed
        raw = f.payload[P.BURST_HEADER.size:]
        if space == P.Space.REG:  # registers differ in width and sign: each against its own range
            limits = [P.value_limits(space, field, addr + k, self.formats, self.n) for k in range(count)]
            values = np.array([int.from_bytes(raw[k * nbytes:(k + 1) * nbytes], "little", signed=lim[2])
                               for k, lim in enumerate(limits)], dtype=np.int64)
            bad = [k for k, (v, lim) in enumerate(zip(values, limits)) if not lim[0] <= v <= lim[1]]
        else:
            lo, hi, signed = P.value_limits(space, field, addr, self.formats, self.n)
            values = P.unpack_values(raw, nbytes, signed)
            bad = np.flatnonzero((values < lo) | (values > hi)) if hi < (1 << 63) else np.flatnonzero(values < lo)
        if len(bad):
            self._error(P.Err.BAD_VALUE, f.op, f.seq, int(bad[0]))
            return  # nothing of a burst with a bad value is written
        self._store(space, field, addr, values)
        self._send(P.Op.WRITE | P.REPLY_BIT, f.seq)

    def _target(self, space: P.Space, field: int):
        """The array a (space, field) addresses, flattened."""
        c = self.core
        if space == P.Space.REG:
            return c.regs
        if space == P.Space.WEIGHT:
            return c.weights.reshape(-1)
        if space == P.Space.STATUS:
            return None
        return {P.NeuronField.V: c.v, P.NeuronField.U: c.u, P.NeuronField.REF: c.ref, P.NeuronField.RES: c.res,
                P.NeuronField.RNG: c.rng, P.NeuronField.EL: c.e_l, P.NeuronField.CLAMP: c.clamp,
                P.NeuronField.ACC: c.acc}[P.NeuronField(field)]

    def _store(self, space, field, addr, values) -> None:
        if space == P.Space.STATS:  # the counts are symmetric: (i, j) and (j, i) are one count
            i, j = np.divmod(np.arange(addr, addr + len(values)), P.STATS_UNITS_MAX)
            self.stats[i, j] = self.stats[j, i] = values
            return
        if space == P.Space.STATUS:
            for k, v in enumerate(values):
                self._set_counter(P.StatusCounter(addr + k), v)
            return
        target = self._target(space, field)
        target[addr:addr + len(values)] = values

    def _read(self, f: P.Frame) -> None:
        parsed = self._burst(f, writing=False)
        if parsed is None:
            return
        space, field, addr, count, nbytes = parsed
        if space == P.Space.STATUS:
            values = [self._counter(P.StatusCounter(addr + k)) for k in range(count)]
        elif space == P.Space.STATS:
            values = self.stats.reshape(-1)[addr:addr + count]
        else:
            values = self._target(space, field)[addr:addr + count]
        self._send(P.Op.READ | P.REPLY_BIT, f.seq, P.pack_values(values, nbytes))

    def _counter(self, which: P.StatusCounter) -> int:
        c = self.core
        # During a run the core may have computed ahead: TICKS is where the RTL would be.
        value = {P.StatusCounter.TICKS: self._pos if self._running else c.tick, P.StatusCounter.CYCLES_LAST_TICK: self.cycles_last_tick,
                 P.StatusCounter.SATURATED_V: int(c.counters[0]), P.StatusCounter.SATURATED_U: int(c.counters[1]),
                 P.StatusCounter.SPIKES_DROPPED: self.spikes_dropped,
                 P.StatusCounter.FRAMES_REJECTED: self.frames_rejected}[which]
        return min(value, COUNTER_MAX)

    def _set_counter(self, which: P.StatusCounter, v: int) -> None:
        c = self.core
        if which == P.StatusCounter.TICKS:
            c.tick = v
        elif which == P.StatusCounter.CYCLES_LAST_TICK:
            self.cycles_last_tick = v
        elif which == P.StatusCounter.SATURATED_V:
            c.counters[0] = v
        elif which == P.StatusCounter.SATURATED_U:
            c.counters[1] = v
        elif which == P.StatusCounter.SPIKES_DROPPED:
            self.spikes_dropped = v
        elif which == P.StatusCounter.FRAMES_REJECTED:
            self.frames_rejected = v

    def _status(self, f: P.Frame) -> None:
        if not self._expect_len(f, 0):
            return
        values = [self._counter(c) for c in P.StatusCounter]
        self._send(P.Op.STATUS | P.REPLY_BIT, f.seq, P.pack_values(values, P.COUNTER_BYTES))

    def _run(self, f: P.Frame) -> None:
        if not self._expect_len(f, P.RUN_PAYLOAD.size):
            return
        ticks, credit = P.RUN_PAYLOAD.unpack(f.payload)
        self._send(P.Op.RUN | P.REPLY_BIT, f.seq)
        self._running = True
        self._start = self.core.tick
        self._end = self._start + ticks
        self._prev = self._pos = self._start
        self._in_tick = False
        self._credit = credit
        self._run_spikes = 0
        self._stop = False
        self._frame = None
        self._pend_t, self._pend_n, self._pend_i = np.empty(0, np.int64), np.empty(0, np.int32), 0
        self._saved = []
        reg = {name: int(self.core.regs[i]) for i, name in enumerate(REGISTER_NAMES)}
        self._units = reg["sample_units"]
        if self._units:  # the state stream (docs/protocol.md, "The state stream")
            self._first, self._every = reg["sample_first"], reg["sample_every"]
            self._next_sample = self._start + reg["sample_wait"]
            self._samples = np.empty((0, self._units), np.uint8)  # computed, not yet written
            self._sample_ticks = np.empty(0, np.int64)
            self._stats = bool(reg["sample_stats"])
            if self._stats:  # the counts start from zero with each run
                self.stats[:] = 0

    def _add_credit(self, f: P.Frame) -> None:
        if not self._expect_len(f, P.CREDIT_PAYLOAD.size):
            return
        (add,) = P.CREDIT_PAYLOAD.unpack(f.payload)
        self._credit = min(self._credit + add, 0xFFFF)

    def _stop_run(self, f: P.Frame) -> None:
        if not self._expect_len(f, 0):
            return
        if self._running:
            # The RTL ends the run at the next tick boundary: before the tick it waits to issue, or
            # after the tick whose spikes it is writing (those are all sent first).
            self._stop = True
            self._end = min(self._end, self._pos + 1 if self._in_tick else self._pos)
            self._rewind(self._end)

    # -- the run: the RTL's spike encoder (rtl/engine/spikes.py), record for record -----------------
    # The core computes ticks ahead in chunks; records are written as the RTL writes them: a spike's
    # delta counts from the last record (`_prev`), a SKIP is written before issuing tick prev + 256,
    # a frame opens (at base `_prev`) only with credit and is sent at SPIKES_PER_FRAME records or at
    # the end of the run. Where the RTL would stall for credit, the emulator stalls at the same
    # record, so both send the same bytes and STATUS sees the same tick.
    def _save(self) -> None:
        c = self.core
        self._saved = self._saved[-1:] + [(c.tick, c.v.copy(), c.u.copy(), c.ref.copy(), c.res.copy(),
                                           c.rng.copy(), c.acc.copy(), c.counters.copy())]

    def _rewind(self, tick: int) -> None:
        """Bring the core back to `tick` (it may have computed ahead), keeping the spikes before it."""
        c = self.core
        if c.tick <= tick:
            return
        saved = [s for s in self._saved if s[0] <= tick]
        if not saved:  # chunks are long enough that the last two always reach back to the encoder
            raise RuntimeError(f"the golden device cannot return to tick {tick} (core at {c.tick})")
        c.tick, v, u, ref, res, rng, acc, counters = saved[-1]
        for name, arr in (("v", v), ("u", u), ("ref", ref), ("res", res), ("rng", rng), ("acc", acc)):
            getattr(c, name)[:] = arr
        c.counters[:] = counters
        c.run(tick - c.tick)  # the same spikes again: those before `tick` are still pending
        keep = self._pend_t[self._pend_i:] < tick
        self._pend_t, self._pend_n = self._pend_t[self._pend_i:][keep], self._pend_n[self._pend_i:][keep]
        self._pend_i = 0
        if self._units:
            keep = self._sample_ticks < tick
            self._sample_ticks, self._samples = self._sample_ticks[keep], self._samples[keep]

    def _pump(self) -> None:
        """Advance the run until it stalls for credit, ends, or has done FEED_CHUNKS chunks of ticks."""
        if self._units:
            self._pump_states()
            return
        chunks = 0
        self._stalled = False
        skip_gap = P.SPIKE_MAX_DELTA + 1
        while self._running:
            pending = self._pend_i < len(self._pend_t)
            if pending and int(self._pend_t[self._pend_i]) - self._prev < skip_gap:
                if not self._open_frame(int(self._pend_t[self._pend_i]), in_tick=True):
                    return
                self._write_spikes()
                continue
            skip_at = self._prev + skip_gap
            if pending or skip_at < self.core.tick:  # ticks prev+1 .. skip_at-1 were silent
                if not self._open_frame(skip_at, in_tick=False):
                    return
                self._append(np.array([P.SPIKE_MAX_DELTA]), np.array([P.SPIKE_SKIP]))
                self._prev += P.SPIKE_MAX_DELTA
                self._pos, self._in_tick = skip_at, False
                continue
            if self.core.tick < self._end:
                if chunks == FEED_CHUNKS:
                    return  # bounded work per call: the host's next bytes (STOP, CREDIT) get in
                self._save()
                self._pend_t, self._pend_n = self.core.run(min(RUN_CHUNK_TICKS, self._end - self.core.tick))
                self._pend_i = 0
                chunks += 1
                continue
            if self._frame is not None:
                self._send_frame()
            self._finish_run()

    def _open_frame(self, tick: int, in_tick: bool) -> bool:
        """A frame to write the record at `tick` into; False (stalled there) without one or credit."""
        if self._frame is None:
            if self._credit == 0:
                self._pos, self._in_tick, self._stalled = tick, in_tick, True
                return False
            self._frame = (self._prev, [], [])
        return True

    def _write_spikes(self) -> None:
        """Records for the pending spikes that need no SKIP before them, up to the frame's end."""
        _, deltas, _ = self._frame
        room = P.SPIKES_PER_FRAME - sum(len(d) for d in deltas)
        t = self._pend_t[self._pend_i:self._pend_i + room]
        d = np.diff(t, prepend=np.int64(self._prev))
        k = int(np.argmax(d > P.SPIKE_MAX_DELTA)) if (d > P.SPIKE_MAX_DELTA).any() else len(t)
        self._append(d[:k], self._pend_n[self._pend_i:self._pend_i + k])
        self._pend_i += k
        self._run_spikes += k
        self._prev = self._pos = int(t[k - 1])
        self._in_tick = True

    def _append(self, deltas, neurons) -> None:
        self._frame[1].append(np.asarray(deltas, np.int64))
        self._frame[2].append(np.asarray(neurons, np.int64))
        if sum(len(d) for d in self._frame[1]) == P.SPIKES_PER_FRAME:
            self._send_frame()

    def _send_frame(self) -> None:
        if self._frame is None:
            return
        base, deltas, neurons = self._frame
        self._send(P.Msg.SPIKES, 0, P.encode_spike_records(self.stream_seq, base, np.concatenate(deltas),
                                                           np.concatenate(neurons)))
        self.stream_seq = (self.stream_seq + 1) & 0xFFFF
        self._credit -= 1
        self._frame = None

    # -- the state stream: the RTL's encoder in its states readout, sample for sample --------------
    # After each sample tick the encoder writes the sample into the open frame, or opens one (with
    # credit; without, it waits there, before issuing the next tick), and sends the frame when the
    # next sample would not fit or the run ends. Unit k's state at tick t is 1 iff it fired at t or
    # was refractory during t; units beyond n_active keep the state their REF gives, units past N are 0.
    def _sample_chunk(self, start: int, ref0: np.ndarray, spike_t: np.ndarray, spike_n: np.ndarray) -> None:
        """The samples of the ticks start .. core.tick - 1 (ref0: REF before tick `start`)."""
        c = self.core
        ticks = np.arange(self._next_sample, c.tick, self._every, dtype=np.int64)
        if not ticks.size:
            return
        self._next_sample = int(ticks[-1]) + self._every
        units = np.arange(self._first, self._first + self._units)
        n_active = int(c.regs[REGISTER_NAMES.index("n_active")]) or self.n
        tau_ref = int(c.regs[REGISTER_NAMES.index("tau_ref_ticks")])
        inside = units < self.n
        r0 = np.zeros(units.size, np.int64)
        r0[inside] = ref0[units[inside]]
        active = units < n_active
        # The last spike of each unit at or before each sample tick, by one search over (neuron, tick).
        span = np.int64(c.tick + 1)
        keys = np.sort(spike_n.astype(np.int64) * span + spike_t)
        want = units[None, :] * span + ticks[:, None]
        idx = np.searchsorted(keys, want, side="right") - 1
        found = keys[np.clip(idx, 0, None)] if keys.size else np.zeros_like(want)
        fired = (idx >= 0) & (found // span == units[None, :]) & (ticks[:, None] - found % span < tau_ref)
        on = np.where(active[None, :], fired | (ticks[:, None] < start + r0[None, :]), (r0 > 0)[None, :])
        on = (on & inside[None, :]).astype(np.uint8)
        if self._stats:  # counted, not sent: the first STATS_UNITS_MAX units of the range
            z = on[:, :P.STATS_UNITS_MAX].astype(np.int64)
            k = z.shape[1]
            self.stats[:k, :k] = np.minimum(self.stats[:k, :k] + z.T @ z, COUNTER_MAX)
            self._run_spikes += len(ticks)
            return
        self._samples = np.concatenate([self._samples, on])
        self._sample_ticks = np.concatenate([self._sample_ticks, ticks])

    def _pump_states(self) -> None:
        chunks = 0
        self._stalled = False
        per_frame = P.samples_per_frame(self._units)
        while self._running:
            if self._sample_ticks.size:
                tick = int(self._sample_ticks[0])
                if self._frame is None:
                    if self._credit == 0:
                        self._pos, self._in_tick, self._stalled = tick + 1, False, True
                        return
                    self._frame = (tick, [], [])
                room = per_frame - sum(len(t) for t in self._frame[1])
                take = min(room, self._sample_ticks.size)
                self._frame[1].append(self._sample_ticks[:take])
                self._frame[2].append(self._samples[:take])
                self._sample_ticks, self._samples = self._sample_ticks[take:], self._samples[take:]
                self._run_spikes += take
                self._pos = int(self._frame[1][-1][-1]) + 1
                if take == room:
                    self._send_states()
                continue
            self._pos = self.core.tick  # every sample so far is written: the encoder is at the core
            if self.core.tick < self._end:
                if chunks == FEED_CHUNKS:
                    return
                self._save()
                start, ref0 = self.core.tick, self.core.ref.copy()
                spike_t, spike_n = self.core.run(min(RUN_CHUNK_TICKS, self._end - self.core.tick))
                self._sample_chunk(start, ref0, spike_t, spike_n)
                chunks += 1
                continue
            if self._frame is not None:
                self._send_states()
            self._finish_run()

    def _send_states(self) -> None:
        first, _, samples = self._frame
        self._send(P.Msg.STATES, 0, P.encode_states(self.stream_seq, first, np.concatenate(samples)))
        self.stream_seq = (self.stream_seq + 1) & 0xFFFF
        self._credit -= 1
        self._frame = None

    def _finish_run(self) -> None:
        self._running = False
        self._send(P.Msg.RUN_DONE, 0, P.RUN_DONE_PAYLOAD.pack(
            (self._end - self._start) & 0xFFFFFFFF, self.core.tick & 0xFFFFFFFF, self._run_spikes & 0xFFFFFFFF,
            self.spikes_dropped & 0xFFFFFFFF, int(self._stop)))
