"""Each part of the command executor and of the core alone, in Amaranth's simulator: the behaviour
the whole device relies on, at the part's own ports (docs/engine.md, docs/core.md)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from lifstp import protocol as P
from lifstp.emulator import GoldenEmulator
from lifstp.golden_model.spec import NOISE_COUNT_MAX, NOISE_UNIFORM_BITS, REGISTER_NAMES, REGISTERS, Formats
from lifstp.rtl.config import CoreConfig, NeuronField, Space, register_word_shape
from lifstp.rtl.delivery import event_shift
from lifstp.rtl.engine.counters import EngineCounters
from lifstp.rtl.engine.decode import CommandDecoder
from lifstp.rtl.engine.limits import ValueCheck
from lifstp.rtl.engine.reply import ReplyBytes
from lifstp.rtl.host_read import HostRead
from lifstp.rtl.lane import DELIVERY_LATENCY, Lane, update_latency, update_unit
from lifstp.rtl.registers import RegisterFile
from lifstp.rtl.sequencer import TickSequencer, cycles_per_tick
from lifstp.rtl.status import CoreCounters

FMT = Formats()
N = 8


def simulate(dut, bench, clocked=True):
    sim = Simulator(dut)
    if clocked:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def golden_answer(op: int, payload: bytes, n: int = N) -> tuple[int, int]:
    """(error code, detail) of the golden device's answer to one frame; (0, 0) for a reply, no answer
    or BAD_VALUE (which the decoder leaves to the value check)."""
    if op == P.Op.CREDIT and len(payload) == P.CREDIT_PAYLOAD.size:
        return 0, 0  # passes every check (a fresh golden device cannot take CREDIT before its first RUN)
    answer = P.FrameSplitter().feed(GoldenEmulator(n).feed(P.encode_frame(op, 7, payload)))
    frame = P.decode_frame(answer[0]) if answer else None  # STOP and CREDIT have no reply
    if frame is None or frame.op != P.Msg.ERROR:
        return 0, 0
    code, _, detail = P.ERROR_PAYLOAD.unpack(frame.payload)
    return (0, 0) if code == P.Err.BAD_VALUE else (code, detail)


def _signed_bytes(value: int, nbytes: int) -> bytes:
    return (value & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little")


# ---- Command executor ------------------------------------------------------------------------------------


def _decoder_cases(rng) -> list[tuple[int, bytes]]:
    cases = []
    sizes = {s: P.space_size(s, N) for s in P.Space}
    for s in P.Space:
        for field in ([0] if s != P.Space.NEURON else [*P.NeuronField, max(P.NeuronField) + 1, 255]):
            size = sizes[s]
            for addr, count in [(0, size), (0, size + 1), (size - 1, 1), (size - 1, 2), (size, 1), (0, 0), (3, 0),
                                (0xFFFFFFFF, 1), (0x10000, 1), (0xFFF0, 0x20), (0, 0xFFFF)]:
                header = P.BURST_HEADER.pack(s, field, addr, count)
                cases.append((P.Op.READ, header))
                nb = P.wire_bytes(s, field, FMT, N) if field <= max(P.NeuronField) else 1
                for values in {nb * count, nb * count + 1, nb * count - 1, 0}:  # right and wrong lengths
                    if 0 <= values <= P.MAX_PAYLOAD - P.BURST_HEADER.size:
                        cases.append((P.Op.WRITE, header + bytes(values)))
    for s in (4, 7, 255):  # spaces that do not exist: BAD_ADDRESS with the first address
        cases.append((P.Op.READ, P.BURST_HEADER.pack(s, 0, 0x1234, 1)))
    for op in P.Op:  # wrong and right lengths of every command
        for length in (0, 1, 2, 6, 7, 8):
            cases.append((op, bytes(length)))
    for op in (0, 9, 0x7F, 0x83, 0xFF):
        cases.append((op, b""))
    for _ in range(60):  # random headers and payload lengths
        s, field = int(rng.integers(0, 5)), int(rng.integers(0, 10))
        header = P.BURST_HEADER.pack(s, field, int(rng.integers(0, 80)), int(rng.integers(0, 80)))
        cases.append((int(rng.choice([P.Op.READ, P.Op.WRITE])), header + bytes(int(rng.integers(0, 120)))))
    return cases


def test_decoder_refuses_as_the_golden_device_does():
    """Opcode, length, space, field and range checks: the first failing check's code and detail are
    the golden device's, for valid and bad headers, lengths and opcodes."""
    dut = CommandDecoder(CoreConfig(N))
    cases = _decoder_cases(np.random.default_rng(5))
    want = [golden_answer(op, payload) for op, payload in cases]

    async def bench(ctx):
        for (op, payload), (code, detail) in zip(cases, want):
            ctx.set(dut.op, op)
            ctx.set(dut.length, P.HEADER_BYTES + len(payload) + P.CRC_BYTES)
            ctx.set(dut.header, int.from_bytes((payload + bytes(8))[:8], "little"))
            ctx.set(dut.narrow, 1)
            await ctx.tick()
            ctx.set(dut.narrow, 0)
            got = ctx.get(dut.error)
            assert got == code, (op, payload[:8].hex(), len(payload), got, code)
            if code == P.Err.BAD_LENGTH:
                assert ctx.get(dut.length_detail) == detail, (op, payload[:8].hex(), len(payload))
            elif code == P.Err.BAD_ADDRESS:
                assert ctx.get(dut.address_detail) == detail, (op, payload[:8].hex())

    simulate(dut, bench)


def test_decoder_refuses_all_but_credit_stop_status_during_a_run():
    dut = CommandDecoder(CoreConfig(N))

    async def bench(ctx):
        ctx.set(dut.running, 1)
        for op, payload in [(P.Op.READ, P.BURST_HEADER.pack(0, 0, 0, 1)), (P.Op.RESET, b""), (P.Op.RUN, bytes(6)),
                            (P.Op.IDENTIFY, b""), (P.Op.CREDIT, bytes(2)), (P.Op.STOP, b""), (P.Op.STATUS, b""),
                            (P.Op.STOP, b"\x01"), (0x55, b"")]:
            ctx.set(dut.op, op)
            ctx.set(dut.length, P.HEADER_BYTES + len(payload) + P.CRC_BYTES)
            ctx.set(dut.header, int.from_bytes((payload + bytes(8))[:8], "little"))
            want = (P.Err.UNKNOWN_OPCODE if op == 0x55 else
                    P.Err.BAD_LENGTH if payload == b"\x01" else
                    0 if op in (P.Op.CREDIT, P.Op.STOP, P.Op.STATUS) else P.Err.BUSY)
            assert ctx.get(dut.error) == want, op

    simulate(dut, bench)


def test_decoder_places_each_byte_of_a_value():
    """past_bytes / before_last / last_byte of byte j for every space's and field's wire size, and for
    the STATUS reply's counters."""
    dut = CommandDecoder(CoreConfig(N))
    targets = [(s, f) for s in P.Space for f in (P.NeuronField if s == P.Space.NEURON else [0])]

    async def bench(ctx):
        for op in (P.Op.READ, P.Op.STATUS):
            for s, f in targets:
                ctx.set(dut.op, op)
                ctx.set(dut.header, int.from_bytes(P.BURST_HEADER.pack(s, f, 0, 1), "little"))
                ctx.set(dut.narrow, 1)
                await ctx.tick()
                ctx.set(dut.narrow, 0)
                nb = P.COUNTER_BYTES if op == P.Op.STATUS else P.wire_bytes(s, f, FMT, N)
                for j in range(8):
                    ctx.set(dut.byte, j)
                    got = (ctx.get(dut.past_bytes), ctx.get(dut.before_last), ctx.get(dut.last_byte))
                    assert got == (j >= nb, j < nb - 1, j == nb - 1), (op, s, f, j)

    simulate(dut, bench)


def test_value_check_takes_exactly_the_limits():
    """Every register, neuron field, weights and counters: the limits themselves pass, one beyond fails,
    and the bytes above the value's wire bytes are ignored."""
    dut = ValueCheck(CoreConfig(N))
    targets = ([(P.Space.REG, 0, a) for a in range(len(REGISTER_NAMES))]
               + [(P.Space.NEURON, f, 0) for f in P.NeuronField] + [(P.Space.WEIGHT, 0, 0), (P.Space.STATUS, 0, 0)])

    async def bench(ctx):
        for s, f, a in targets:
            lo, hi, signed = P.value_limits(s, f, a, FMT, N)
            nb = P.wire_bytes(s, f, FMT, N)
            ctx.set(dut.space, s)
            ctx.set(dut.field, f)
            ctx.set(dut.index, a)
            span = (-(1 << (8 * nb - 1)), (1 << (8 * nb - 1)) - 1) if signed else (0, (1 << (8 * nb)) - 1)
            for v in {lo, hi, lo - 1, hi + 1, 0, (lo + hi) // 2}:
                if not span[0] <= v <= span[1]:
                    continue  # not representable in the wire bytes
                for garbage in (0, 0xA5):
                    word = int.from_bytes(_signed_bytes(v, nb) + bytes([garbage]) * (8 - nb), "little")
                    ctx.set(dut.value, word)
                    assert ctx.get(dut.ok) == (lo <= v <= hi), (s, f, a, v, garbage)

    simulate(dut, bench, clocked=False)


async def _rejected_turns(ctx, dut, load=None, increment=False) -> int:
    """Four turns of FRAMES_REJECTED (loading `load`, incrementing, or only rotating); returns the value
    read from its low byte as it turns."""
    seen = 0
    for i in range(P.COUNTER_BYTES):
        seen |= ctx.get(dut.rejected) << (8 * i)
        ctx.set(dut.turn, 1)
        ctx.set(dut.first, i == 0)
        ctx.set(dut.increment, increment)
        ctx.set(dut.load_rejected, load is not None)
        ctx.set(dut.data, 0 if load is None else (load >> (8 * i)) & 0xFF)
        await ctx.tick()
    ctx.set(dut.turn, 0)
    ctx.set(dut.increment, 0)
    ctx.set(dut.load_rejected, 0)
    return seen


def test_engine_counters_frames_rejected_carries_and_saturates():
    dut = EngineCounters(CoreConfig(N))

    async def bench(ctx):
        assert await _rejected_turns(ctx, dut) == 0  # reset value
        for start, want in [(0x00FFFFFE, 0x00FFFFFF), (0x00FFFFFF, 0x01000000), (0x000000FF, 0x00000100),
                            (0xFFFFFFFE, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF)]:
            await _rejected_turns(ctx, dut, load=start)
            assert await _rejected_turns(ctx, dut) == start
            await _rejected_turns(ctx, dut, increment=True)
            assert await _rejected_turns(ctx, dut) == want, hex(start)
            ctx.set(dut.index, P.StatusCounter.FRAMES_REJECTED)  # not in the word multiplexer
            assert ctx.get(dut.word) == ctx.get(dut.dropped)

    simulate(dut, bench)


def test_engine_counters_saturate_the_cores_wider_counters():
    """SPIKES_DROPPED loads whole; the core's counters wider than 32 bits saturate at 0xFFFFFFFF."""
    dut = EngineCounters(CoreConfig(N, counter_width=40))

    async def bench(ctx):
        ctx.set(dut.data, 0xDEADBEEF)
        ctx.set(dut.load_dropped, 1)
        await ctx.tick()
        ctx.set(dut.load_dropped, 0)
        ctx.set(dut.data, 0)
        assert ctx.get(dut.dropped) == 0xDEADBEEF
        values = {"ticks": (1 << 32) + 5, "cycles_last_tick": 0xFFFFFFFF, "saturated_v": 7, "saturated_u": 1 << 39}
        for name, v in values.items():
            ctx.set(getattr(dut.status, name), v)
        for c, name in enumerate(values):
            ctx.set(dut.index, c)
            assert ctx.get(dut.word) == min(values[name], 0xFFFFFFFF), name
        ctx.set(dut.index, P.StatusCounter.SPIKES_DROPPED)
        assert ctx.get(dut.word) == 0xDEADBEEF

    simulate(dut, bench)


def test_reply_bytes_identify_and_error_frames():
    """IDENTIFY's reply equals the golden device's (told the lanes); ERROR frames carry the code, the
    opcode and the detail that goes with the code, and a receive error gives opcode and seq 0."""
    cfg = CoreConfig(N, lanes=2)
    dut = ReplyBytes(cfg)
    emu = GoldenEmulator(N)
    emu.lanes = cfg.lanes
    [raw] = P.FrameSplitter().feed(emu.feed(P.encode_frame(P.Op.IDENTIFY, 0x5A)))
    frame = P.decode_frame(raw)
    identify = bytes([frame.op, frame.seq]) + frame.payload

    async def bench(ctx):
        async def body(error_frame, last):
            ctx.set(dut.error_frame, error_frame)
            out = []
            for i in range(last + 1):
                ctx.set(dut.index, i)
                out.append(ctx.get(dut.byte))
            return bytes(out)

        ctx.set(dut.op, P.Op.IDENTIFY)
        ctx.set(dut.seq, 0x5A)
        assert await body(0, ctx.get(dut.last)) == identify
        ctx.set(dut.op, P.Op.READ)
        assert ctx.get(dut.last) == P.HEADER_BYTES - 1
        assert await body(0, 1) == bytes([P.Op.READ | P.REPLY_BIT, 0x5A])
        ctx.set(dut.length_detail, 0x0108)
        ctx.set(dut.address_detail, 0xBEEF)
        ctx.set(dut.value_index, 0x0011)
        for code, detail in [(P.Err.BAD_LENGTH, 0x0108), (P.Err.BAD_ADDRESS, 0xBEEF), (P.Err.BAD_VALUE, 0x0011),
                             (P.Err.BUSY, 0), (P.Err.UNKNOWN_OPCODE, 0)]:
            ctx.set(dut.error, code)
            want = bytes([P.Msg.ERROR, 0x5A]) + P.ERROR_PAYLOAD.pack(code, P.Op.READ, detail)
            assert await body(1, dut.error_last) == want, code
        ctx.set(dut.error, 0)
        ctx.set(dut.rx_error, 1)
        ctx.set(dut.rx_code, P.Err.BAD_CRC)
        assert await body(1, dut.error_last) == bytes([P.Msg.ERROR, 0]) + P.ERROR_PAYLOAD.pack(P.Err.BAD_CRC, 0, 0)

    simulate(dut, bench, clocked=False)


# ---- Core ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shared,n_active", [(False, 0), (True, 0), (False, 3), (True, 2)])
def test_sequencer_runs_ticks_of_the_modelled_length(shared, n_active):
    """K ticks without spikes: each lasts cycles_per_tick, issues the active addresses (all M, or the
    first n_active) I cycles apart, and reports its cycles at its end (the first tick's first cycle is
    the one that takes the run request); a tick waits while delivery is not done; then IDLE takes
    writes once the last accumulate is written, DELIVERY_LATENCY cycles after the last delivery issue."""
    cfg = CoreConfig(4, shared_multiplier=shared)
    dut = TickSequencer(cfg)
    interval = update_unit(cfg).INTERVAL
    rows = cfg.active_depth(n_active)
    stall = 5  # cycles the third tick's delivery is held

    async def bench(ctx):
        ctx.set(dut.last_row, rows - 1)
        assert ctx.get(dut.write_ready) and ctx.get(dut.run.ready)
        ctx.set(dut.deliver_done, 1)
        ctx.set(dut.run.payload, 3)
        ctx.set(dut.run.valid, 1)
        assert ctx.get(dut.clear)  # the first tick's first cycle
        await ctx.tick()
        ctx.set(dut.run.valid, 0)
        ends, issues, clears, t, held = [], [], [], 1, 0
        while ctx.get(dut.busy):
            assert not ctx.get(dut.write_ready) and not ctx.get(dut.run.ready)
            if ctx.get(dut.tick_end):
                ends.append((t, ctx.get(dut.cycles)))
            if ctx.get(dut.issue):
                issues.append((t, ctx.get(dut.addr)))
            clears.append(ctx.get(dut.clear))
            if len(ends) == 2 and ctx.get(dut.deliver) and held < stall:
                ctx.set(dut.deliver_done, 0)
                held += 1
            else:
                ctx.set(dut.deliver_done, 1)
            await ctx.tick()
            t += 1
        per_tick = cycles_per_tick(cfg, 0, n_active)
        assert [c for _, c in ends] == [per_tick, per_tick, per_tick + stall]
        assert t == 3 * per_tick + stall and sum(clears) == 2  # the START of the second and third
        first = [(ti, a) for ti, a in issues if ti < per_tick]
        assert [a for _, a in first] == list(range(rows))
        assert [ti for ti, _ in first] == [1 + interval * k for k in range(rows)]
        for _ in range(DELIVERY_LATENCY - 1):  # END was the first cycle after the last issue
            assert not ctx.get(dut.write_ready) and not ctx.get(dut.read_ready)
            await ctx.tick()
        assert ctx.get(dut.write_ready)

    simulate(dut, bench)


def test_sequencer_steps_a_host_read_and_ignores_a_run_of_zero_ticks():
    dut = TickSequencer(CoreConfig(4))

    async def bench(ctx):
        ctx.set(dut.run.payload, 0)
        ctx.set(dut.run.valid, 1)
        assert ctx.get(dut.run.ready) and not ctx.get(dut.read_ready)  # a run request has precedence
        await ctx.tick()
        ctx.set(dut.run.valid, 0)
        assert not ctx.get(dut.busy) and ctx.get(dut.write_ready)
        ctx.set(dut.read_valid, 1)
        assert ctx.get(dut.read_ready) and ctx.get(dut.read_take)
        await ctx.tick()
        ctx.set(dut.read_valid, 0)
        seen = []
        for _ in range(5):
            seen.append((ctx.get(dut.read_sample), ctx.get(dut.answer_valid), ctx.get(dut.write_ready)))
            await ctx.tick()
        assert seen == [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0)]  # answer held until taken
        ctx.set(dut.answer_ready, 1)
        await ctx.tick()
        assert ctx.get(dut.write_ready) and not ctx.get(dut.answer_valid)

    simulate(dut, bench)


def test_core_counters_count_wrap_and_take_writes():
    cfg = CoreConfig(4, lanes=2, counter_width=8)
    dut = CoreCounters(cfg)

    async def bench(ctx):
        ctx.set(dut.we, 1)
        ctx.set(dut.addr, P.StatusCounter.TICKS)
        ctx.set(dut.data, 0x1FE)  # cut to the counter's 8 bits
        await ctx.tick()
        ctx.set(dut.we, 0)
        assert ctx.get(dut.ticks) == 0xFE
        ctx.set(dut.tick_end, 1)
        for want, cycles in [(0xFF, 40), (0x00, 41)]:  # wraps
            ctx.set(dut.cycles, cycles)
            await ctx.tick()
            assert (ctx.get(dut.ticks), ctx.get(dut.cycles_last_tick)) == (want, cycles)
        ctx.set(dut.tick_end, 0)
        ctx.set(dut.sat_valid, 1)
        ctx.set(dut.sat_v, 2)
        ctx.set(dut.sat_u, 1)
        for _ in range(130):
            await ctx.tick()
        assert (ctx.get(dut.saturated_v), ctx.get(dut.saturated_u)) == (260 % 256, 130)
        ctx.set(dut.we, 1)  # a write wins over the addition in its cycle
        ctx.set(dut.addr, P.StatusCounter.SATURATED_V)
        ctx.set(dut.data, 9)
        await ctx.tick()
        assert (ctx.get(dut.saturated_v), ctx.get(dut.saturated_u)) == (9, 131)

    simulate(dut, bench)


@pytest.mark.parametrize("shared", [False, True])
def test_register_file_holds_and_reads_back(shared):
    cfg = CoreConfig(4, shared_multiplier=shared)
    dut = RegisterFile(cfg)
    rng = np.random.default_rng(6)
    values = {}
    for k, q in enumerate(REGISTERS):
        lo, hi = q.limits(FMT)
        values[k] = int(rng.integers(lo, hi + 1))
    word_bits = register_word_shape(FMT).width

    async def bench(ctx):
        ctx.set(dut.we, 1)
        for k, v in values.items():
            ctx.set(dut.addr, k)
            ctx.set(dut.data, v & ((1 << 64) - 1))
            await ctx.tick()
        ctx.set(dut.we, 0)
        for k, name in enumerate(REGISTER_NAMES):
            assert ctx.get(dut.regs[name]) == values[k], name
            ctx.set(dut.read_addr, k)
            await ctx.tick()
            got = ctx.get(dut.read_data)
            assert got == values[k], (name, got)  # kept sign- or zero-extended in the word
            assert -(1 << (word_bits - 1)) <= got < 1 << (word_bits - 1)
        if shared:
            half = NOISE_UNIFORM_BITS + 1
            for m_ in range(NOISE_COUNT_MAX):
                ctx.set(dut.thr_index, m_)
                await ctx.tick()
                exc = values[REGISTER_NAMES.index(f"noise_thr_exc{m_}")]
                inh = values[REGISTER_NAMES.index(f"noise_thr_inh{m_}")]
                assert ctx.get(dut.thr_data) == exc | inh << half, m_
            ctx.set(dut.hold, 1)  # the unit's operand instead of the host's address
            ctx.set(dut.unit_index, REGISTER_NAMES.index("kappa_m"))
            await ctx.tick()
            assert ctx.get(dut.read_data) == values[REGISTER_NAMES.index("kappa_m")]

    simulate(dut, bench)


@pytest.mark.parametrize("lanes", [1, 4])
def test_register_file_derives_the_active_rows(lanes):
    """last_row = ceil(n_active / L) - 1 and the lanes active in it, a cycle after n_active is written
    (0 and N mean all neurons)."""
    cfg = CoreConfig(12, lanes)
    dut = RegisterFile(cfg)
    index = REGISTER_NAMES.index("n_active")

    async def bench(ctx):
        assert (ctx.get(dut.last_row), ctx.get(dut.last_lanes)) == (cfg.depth - 1, (1 << lanes) - 1)  # power-on
        for n_active in (5, 1, 12, 0, 4, 11, 3):
            ctx.set(dut.we, 1)
            ctx.set(dut.addr, index)
            ctx.set(dut.data, n_active)
            await ctx.tick()
            ctx.set(dut.we, 0)
            await ctx.tick()
            n = n_active or cfg.n_neurons
            rows = cfg.active_depth(n_active)
            want_lanes = sum(1 << b for b in range(lanes) if (rows - 1) * lanes + b < n)
            assert (ctx.get(dut.last_row), ctx.get(dut.last_lanes)) == (rows - 1, want_lanes), n_active

    simulate(dut, bench)


def test_host_read_chooses_lane_field_and_extends_signs():
    cfg = CoreConfig(4, lanes=2)
    dut = HostRead(cfg)

    async def bench(ctx):
        for b in range(2):
            ctx.set(dut.fields[b].v, -100 - b)
            ctx.set(dut.fields[b].ref, 3 + b)
            ctx.set(dut.fields[b].rng, (1 << 63) + b)
            ctx.set(dut.weights[b], -7 + b)
        ctx.set(dut.reg_data, -5)
        full = (1 << 64) - 1
        for space, field, addr, want, lane_addr in [
                (Space.NEURON, NeuronField.V, 3, -101 & full, 1), (Space.NEURON, NeuronField.V, 2, -100 & full, 1),
                (Space.NEURON, NeuronField.REF, 1, 4, 0), (Space.NEURON, NeuronField.RNG, 1, (1 << 63) + 1, 0),
                (Space.WEIGHT, 0, 6, -7 & full, 3), (Space.WEIGHT, 0, 13, -6 & full, 6),
                (Space.REG, 0, 4, -5 & full, 2)]:
            ctx.set(dut.request.space, space)
            ctx.set(dut.request.field, field)
            ctx.set(dut.request.addr, addr)
            ctx.set(dut.take, 1)
            await ctx.tick()
            ctx.set(dut.take, 0)
            assert (ctx.get(dut.addr), ctx.get(dut.lane_addr)) == (addr, lane_addr)
            ctx.set(dut.sample, 1)
            await ctx.tick()
            ctx.set(dut.sample, 0)
            assert ctx.get(dut.answer) == want, (space, field, addr)
            await ctx.tick()
            assert ctx.get(dut.answer) == want  # held

    simulate(dut, bench)


def test_lane_memories_events_and_write_back():
    """Host writes and reads of a field and a weight; one synaptic event through the delivery path
    adds rnd(W * e, event_shift) into ACC; a neuron's write-back clears its ACC."""
    cfg = CoreConfig(4)
    dut = Lane(cfg)
    shift = event_shift(FMT)
    w, e, acc0, col, row = -1234, 3000, 777, 2, 1

    def rnd(x, s):
        return x if s == 0 else (x + (1 << (s - 1))) >> s

    async def write(ctx, field, addr, value):
        ctx.set(dut.wr_addr, addr)
        ctx.set(dut.wr_data, value & ((1 << 64) - 1))
        if field is None:
            ctx.set(dut.wr_weight, 1)
        else:
            ctx.set(dut.wr_field, field)
            ctx.set(dut.wr_neuron, 1)
        await ctx.tick()
        ctx.set(dut.wr_weight, 0)
        ctx.set(dut.wr_neuron, 0)

    async def read(ctx, addr):
        ctx.set(dut.host_addr, addr)
        await ctx.tick()
        return ctx.get(dut.data), ctx.get(dut.weight)

    async def bench(ctx):
        await write(ctx, NeuronField.V, 3, -42)
        await write(ctx, NeuronField.ACC, col, acc0)
        await write(ctx, None, row * cfg.depth + col, w)
        data, _ = await read(ctx, 3)
        assert data.v == -42
        _, weight = await read(ctx, row * cfg.depth + col)
        assert weight == w
        # the delivery pipeline as the core drives it: issue, e, acc read, acc write
        for stage in range(4):
            ctx.set(dut.deliver, stage == 0)
            ctx.set(dut.waddr, row * cfg.depth + col)
            ctx.set(dut.event_eff, e if stage == 1 else 0)
            ctx.set(dut.acc_read, stage == 2)
            ctx.set(dut.acc_read_addr, col)
            ctx.set(dut.acc_write, stage == 3)
            ctx.set(dut.acc_write_addr, col)
            await ctx.tick()
        ctx.set(dut.acc_write, 0)
        data, _ = await read(ctx, col)
        assert data.acc == acc0 + rnd(w * e, shift)
        assert (await read(ctx, 3))[0].v == -42  # other neurons untouched
        # an update of address `col`: issued, then written back update_latency cycles later
        ctx.set(dut.issue, 1)
        ctx.set(dut.addr, col)
        await ctx.tick()
        ctx.set(dut.issue, 0)
        for _ in range(update_latency(cfg) - 1):
            await ctx.tick()
        ctx.set(dut.wb_valid, 1)
        ctx.set(dut.wb_addr, col)
        await ctx.tick()
        ctx.set(dut.wb_valid, 0)
        assert (await read(ctx, col))[0].acc == 0

    simulate(dut, bench)
