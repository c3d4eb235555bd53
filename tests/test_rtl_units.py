"""Amaranth-simulator unit tests of the core's sub-blocks against the golden model's own functions."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from lifstp.golden_model.fixed import format_array, run_ticks
from lifstp.golden_model.rng import noise_uniforms, seed_states, xorshift64_step
from lifstp.golden_model.spec import NOISE_COUNT_MAX, NOISE_UNIFORM_BITS, REGISTER_NAMES, Formats, ModelParams, quantise
from lifstp.rtl.config import CoreConfig, register_word_shape, threshold_pair_width
from lifstp.rtl.delivery import DeliveryScheduler, EventAccumulate
from lifstp.rtl.neuron import NeuronUpdate
from lifstp.rtl.neuron_shared import SharedNeuronUpdate
from lifstp.rtl.stp import StpResource
from lifstp.rtl.xorshift import Xorshift64Noise

FMT = Formats()


def rnd(x: int, s: int) -> int:
    """The model's rounding, on Python integers (docs/model.md)."""
    return x if s == 0 else (x + (1 << (s - 1))) >> s


def run_comb(dut, body):
    sim = Simulator(dut)
    sim.add_testbench(body)
    sim.run()


def test_xorshift_noise_matches_golden_rng():
    dut = Xorshift64Noise()
    rng = np.random.default_rng(1)
    states = list(seed_states(7, 200)) + [np.uint64(1), np.uint64(2**64 - 1), np.uint64(0x8000000000000000)]
    fixed = quantise(ModelParams(noise_rate_exc_hz=3000.0, noise_rate_inh_hz=20000.0))

    async def tb(ctx):
        for k, x in enumerate(states):
            thr_e = fixed.noise_thr_exc if k % 2 else tuple(int(t) for t in rng.integers(0, 1 << 17, NOISE_COUNT_MAX))
            thr_i = fixed.noise_thr_inh
            ctx.set(dut.state, int(x))
            for m in range(NOISE_COUNT_MAX):
                ctx.set(dut.thr_exc[m], thr_e[m])
                ctx.set(dut.thr_inh[m], thr_i[m])
            nxt = int(xorshift64_step(np.uint64(x)))
            ue, ui = noise_uniforms(np.uint64(nxt))
            assert ctx.get(dut.next_state) == nxt
            assert ctx.get(dut.k_exc) == sum(ue >= t for t in thr_e)
            assert ctx.get(dut.k_inh) == sum(ui >= t for t in thr_i)

    run_comb(dut, tb)


def test_stp_resource_matches_model():
    dut = StpResource(FMT)
    rng = np.random.default_rng(2)
    one = FMT.r_one
    cases = [(one, 0, one, 1), (0, (1 << FMT.frac_k) - 1, one, 1), (one // 2, 5991, 0, 0), (1, 1, 1, 1)]
    for _ in range(300):
        cases.append((int(rng.integers(0, one + 1)), int(rng.integers(0, 1 << FMT.frac_k)),
                      int(rng.integers(0, one + 1)), int(rng.integers(0, 2))))

    async def tb(ctx):
        for r, kappa, u, fire in cases:
            ctx.set(dut.res, r)
            ctx.set(dut.kappa_rec, kappa)
            ctx.set(dut.stp_u, u)
            ctx.set(dut.fire, fire)
            rec = r + rnd((one - r) * kappa, FMT.frac_k)
            e = rnd(rec, FMT.frac_r - FMT.frac_e)
            nxt = rec - rnd(rec * u, FMT.frac_r) if fire else rec
            assert ctx.get(dut.eff) == e, (r, kappa, u)
            assert ctx.get(dut.res_next) == nxt, (r, kappa, u, fire)

    run_comb(dut, tb)


def test_event_accumulate_matches_model():
    cfg = CoreConfig(64)
    dut = EventAccumulate(cfg)
    rng = np.random.default_rng(3)
    lo, hi = -(1 << (cfg.acc_width - 1)), (1 << (cfg.acc_width - 1)) - 1
    cases = [(0, FMT.w_min, 1 << FMT.frac_e), (0, FMT.w_max, 1 << FMT.frac_e), (5, -1, 1), (-7, 1, 2048)]
    for _ in range(300):
        cases.append((int(rng.integers(lo // 2, hi // 2)), int(rng.integers(FMT.w_min, FMT.w_max + 1)),
                      int(rng.integers(0, (1 << FMT.frac_e) + 1))))

    async def tb(ctx):
        for acc, w, e in cases:
            ctx.set(dut.acc, acc)
            ctx.set(dut.w, w)
            ctx.set(dut.eff, e)
            assert ctx.get(dut.acc_next) == acc + rnd(w * e, FMT.event_shift), (acc, w, e)

    run_comb(dut, tb)


class SharedWithMemories(Elaboratable):
    """A `SharedNeuronUpdate` with the core's register copy and threshold memory in front of it (their
    contents are set by the testbench), read as the core reads them."""

    def __init__(self, cfg: CoreConfig):
        self.unit = SharedNeuronUpdate(cfg)
        self.reg_copy = Memory(shape=register_word_shape(cfg.formats), depth=len(REGISTER_NAMES), init=[])
        self.thresholds = Memory(shape=threshold_pair_width(), depth=NOISE_COUNT_MAX, init=[])

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit, m.submodules.reg_copy, m.submodules.thresholds = self.unit, self.reg_copy, self.thresholds
        regs, thr = self.reg_copy.read_port(), self.thresholds.read_port()
        m.d.comb += [regs.addr.eq(self.unit.reg_index), self.unit.reg_data.eq(regs.data),
                     thr.addr.eq(self.unit.thr_index), self.unit.thr_data.eq(thr.data)]
        return m

    def load(self, ctx, regs) -> None:
        """Set the memories to the register values `regs` (in spec.REGISTER_NAMES order)."""
        values = dict(zip(REGISTER_NAMES, (int(r) for r in regs)))
        for k, value in enumerate(values.values()):
            ctx.set(self.reg_copy.data[k], value)
        for m in range(NOISE_COUNT_MAX):
            ctx.set(self.thresholds.data[m], values[f"noise_thr_exc{m}"]
                    | values[f"noise_thr_inh{m}"] << (NOISE_UNIFORM_BITS + 1))


@pytest.mark.parametrize("unit", [NeuronUpdate, SharedNeuronUpdate])
def test_neuron_update_matches_one_golden_tick(unit):
    """The pipelined and the shared-multiplier neuron update against the golden kernel run for one tick
    on one neuron, over random states, including refractory neurons, all clamp modes and saturating
    inputs."""
    cfg = CoreConfig(1)
    top = SharedWithMemories(cfg) if unit is SharedNeuronUpdate else unit(cfg)
    dut = top.unit if unit is SharedNeuronUpdate else top
    rng = np.random.default_rng(4)
    fa = format_array(FMT)
    cases = []
    for k in range(250):
        fixed = quantise(ModelParams(tau_m_ms=float(rng.choice([0.3, 1.0, 7.0])), tau_ref_ms=float(rng.choice([0.1, 1.0])),
                                     stp_u=float(rng.choice([0.0, 0.3, 1.0])),
                                     noise_rate_exc_hz=float(rng.choice([0, 2000, 30000]))))
        big = k % 5 == 0
        vlim = FMT.v_max if big else 1 << 22
        state = dict(
            v=int(rng.integers(-vlim, vlim)), u=int(rng.integers(-vlim, vlim)),
            ref=int(rng.choice([0, 0, 1, int(rng.integers(0, 200))])),
            res=int(rng.integers(0, FMT.r_one + 1)), rng=int(seed_states(int(rng.integers(0, 2**62)), 1)[0]),
            e_l=int(rng.integers(-vlim, vlim)), clamp=int(rng.integers(0, 3)),
            acc=int(rng.integers(-(1 << (cfg.acc_width - 1)), 1 << (cfg.acc_width - 1))),
        )
        cases.append((fixed, state))

    async def tb(ctx):
        for fixed, s in cases:
            regs = fixed.registers()
            for name, value in zip(dut.regs.shape().members, regs):
                ctx.set(dut.regs[name], int(value))
            for name in ("v", "u", "ref", "res", "rng", "e_l", "clamp", "acc"):
                ctx.set(getattr(dut, name), s[name])
            if unit is SharedNeuronUpdate:
                # the core holds the inputs from the start cycle to the one before the outputs, and
                # writes the generator state given in the start cycle; in the outputs' cycle the
                # memories already show the next neuron. The first operands are read the cycle before.
                top.load(ctx, regs)
                await ctx.tick()
                ctx.set(dut.start, 1)
                rng_next = ctx.get(dut.rng_next)
                await ctx.tick()
                ctx.set(dut.start, 0)
                await ctx.tick().repeat(unit.LATENCY - 1)
                for name in ("v", "u", "ref", "res", "rng", "e_l", "clamp", "acc"):
                    ctx.set(getattr(dut, name), 0)
            else:
                await ctx.tick().repeat(unit.LATENCY)  # the pipeline's latency
                rng_next = ctx.get(dut.rng_next)
            v = np.array([s["v"]], np.int64)
            u = np.array([s["u"]], np.int64)
            ref = np.array([s["ref"]], np.int64)
            res = np.array([s["res"]], np.int64)
            x = np.array([s["rng"]], np.uint64)
            acc = np.array([s["acc"]], np.int64)
            counters = np.zeros(2, np.int64)
            out_t, out_n, out_e = np.zeros(4, np.int64), np.zeros(4, np.int32), np.zeros(4, np.int64)
            _, n_out = run_ticks(regs, fa, np.array([s["e_l"]], np.int64), np.array([s["clamp"]], np.int8),
                                 np.zeros((1, 1), np.int32), v, u, ref, res, x, acc, counters, 0, 1,
                                 out_t, out_n, out_e)
            got = {name: ctx.get(getattr(dut, name)) for name in
                   ("v_next", "u_next", "ref_next", "res_next", "fire", "eff", "sat_v", "sat_u")}
            got["rng_next"] = rng_next
            want = {"v_next": int(v[0]), "u_next": int(u[0]), "ref_next": int(ref[0]), "res_next": int(res[0]),
                    "rng_next": int(x[0]), "fire": n_out, "sat_v": int(counters[0]), "sat_u": int(counters[1])}
            if n_out:
                want["eff"] = int(out_e[0])
            else:
                got.pop("eff")
            assert got == want, s

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()


def test_neuron_update_pipeline_streams_one_neuron_per_cycle():
    """A new neuron enters NeuronUpdate every cycle and each leaves LATENCY cycles later with its own
    result (same registers for all, as in a tick): the pipeline stages do not mix neurons."""
    cfg = CoreConfig(1)
    rng = np.random.default_rng(5)
    fixed = quantise(ModelParams(stp_u=0.5, tau_ref_ms=1.0))
    states = [dict(v=int(rng.integers(-1 << 22, 1 << 22)), u=int(rng.integers(-1 << 22, 1 << 22)),
                   ref=int(rng.choice([0, 0, 3])), res=int(rng.integers(0, FMT.r_one + 1)),
                   rng=int(seed_states(k + 1, 1)[0]), e_l=int(rng.integers(-1 << 22, 1 << 22)),
                   clamp=int(rng.integers(0, 3)), acc=int(rng.integers(-1 << 20, 1 << 20))) for k in range(40)]
    names = ("v_next", "u_next", "ref_next", "res_next", "rng_next", "fire", "eff", "sat_v", "sat_u")

    def one_by_one():
        dut = NeuronUpdate(cfg)
        out = []

        async def tb(ctx):
            for name, value in zip(dut.regs.shape().members, fixed.registers()):
                ctx.set(dut.regs[name], int(value))
            for s in states:
                for name, value in s.items():
                    ctx.set(getattr(dut, name), value)
                await ctx.tick().repeat(NeuronUpdate.LATENCY)
                out.append(tuple(ctx.get(getattr(dut, n)) for n in names))
        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(tb)
        sim.run()
        return out

    def streamed():
        dut = NeuronUpdate(cfg)
        out = []

        async def tb(ctx):
            for name, value in zip(dut.regs.shape().members, fixed.registers()):
                ctx.set(dut.regs[name], int(value))
            for cycle in range(len(states) + NeuronUpdate.LATENCY):
                if cycle < len(states):
                    for name, value in states[cycle].items():
                        ctx.set(getattr(dut, name), value)
                if cycle >= NeuronUpdate.LATENCY:
                    out.append(tuple(ctx.get(getattr(dut, n)) for n in names))
                await ctx.tick()
        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(tb)
        sim.run()
        return out

    assert streamed() == one_by_one()


@pytest.mark.parametrize("lanes,depth", [(1, 3), (2, 2), (4, 1), (4, 3)])
def test_delivery_scheduler_order_and_issue(lanes, depth):
    """Queued entries come out as spikes in ascending neuron order, each issuing its M columns
    back to back with the right weight addresses and efficacy, and the scheduler honours back-pressure."""
    cfg = CoreConfig(lanes * depth, lanes)
    dut = DeliveryScheduler(cfg)
    rng = np.random.default_rng(lanes * 10 + depth)
    entries = []
    for a in range(depth):
        mask = int(rng.integers(0, 1 << lanes))
        if mask:
            entries.append((a, mask, [int(rng.integers(0, 1 << 16)) for _ in range(lanes)]))
    expected = [(a * lanes + b, effs[b]) for a, mask, effs in entries for b in range(lanes) if mask >> b & 1]
    log = {"spikes": [], "issues": []}

    async def tb(ctx):
        ctx.set(dut.tick, 42)
        ctx.set(dut.last_col, cfg.depth - 1)  # every column active (n_active = N)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        for a, mask, effs in entries:
            ctx.set(dut.push.payload, {"addr": a, "mask": mask, "eff": effs})
            ctx.set(dut.push.valid, 1)
            await ctx.tick()
        ctx.set(dut.push.valid, 0)
        await ctx.tick()
        ctx.set(dut.enable, 1)
        for cycle in range(4 * (len(expected) + 2) * depth + 10):
            ready = int(rng.random() < 0.7)
            ctx.set(dut.spikes.ready, ready)
            _, _, valid, tick, neuron, iv, col, waddr, eff = await ctx.tick().sample(
                dut.spikes.valid, dut.spikes.payload.tick, dut.spikes.payload.neuron,
                dut.issue_valid, dut.issue_col, dut.issue_waddr, dut.issue_eff)
            if valid and ready:
                log["spikes"].append((tick, neuron))
            if iv:
                log["issues"].append((col, waddr, eff))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert log["spikes"] == [(42, j) for j, _ in expected]
    want_issues = [(c, j * depth + c, e) for j, e in expected for c in range(depth)]
    assert log["issues"] == want_issues


@pytest.mark.parametrize("n,lanes", [(4, 1), (4, 2), (6, 2)])
def test_core_in_amaranth_simulator(n, lanes):
    """The whole core in Amaranth's simulator (no Verilog toolchain): 150 ticks of an active network,
    spikes, full state and status counters equal the golden model's."""
    from lifstp.rtl.core import Core
    from lifstp.sim.amaranth_host import AmaranthHost
    from lifstp.sim.cases import build_golden
    from lifstp.sim.program import snapshot_diff

    case = {"n_active": n, "net_seed": 8, "seed": 2024, "bias_mv": 1.5, "tau_m_ms": 1.0, "tau_syn_ms": 10.0,
            "tau_ref_ms": 0.5, "noise_rate_hz": 2000.0, "stp_u": 0.5, "stp_tau_rec_ms": 10.0,
            "weight_scale": 3.0, "clamp_fraction": 0.2}
    cfg = CoreConfig(n, lanes)
    dut = Core(cfg)
    gc = build_golden(case, n)
    host = AmaranthHost(dut, cfg)
    out = {}

    async def tb(ctx):
        await host.load(ctx, gc)
        spikes = await host.run(ctx, 150)
        t, j = gc.run(150)
        out["spikes"] = (spikes, list(zip(t.tolist(), j.tolist())))
        out["diff"] = snapshot_diff(await host.snapshot(ctx, 150), gc.snapshot())
        out["status"] = (ctx.get(dut.status.ticks), ctx.get(dut.status.saturated_v), ctx.get(dut.status.saturated_u))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    rtl, gold = out["spikes"]
    assert len(gold) > 0 and rtl == gold
    assert out["diff"] == []
    st = gc.status()
    assert out["status"] == (st["ticks"], st["saturated_v"], st["saturated_u"])
