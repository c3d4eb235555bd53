"""One neuron's update for one tick on ONE shared multiplier, for FPGAs with few DSP blocks (iCE40).

`SharedNeuronUpdate` computes exactly what `NeuronUpdate` computes (docs/model.md "One tick", phase 1,
steps 1-5), with the same ports plus ``start``, but forms its six products one after the other on a
single registered multiplier instead of in parallel: a neuron takes `INTERVAL` cycles, and a new one
may enter only every `INTERVAL` cycles (the core issues them so, `CoreConfig.shared_multiplier`).
On the iCE40UP5K this needs 4 of its 8 SB_MAC16 where the pipeline needs ~20.

The inputs are not latched: the core holds them at its memories' read ports (which it does not
read again until the next neuron's address) from c0 to c6, and writes the new generator state back in
c0, so only what is still needed in c7 (ref, clamp) is kept here.

Schedule (cycle c0 is the cycle in which ``start`` is high; A, B are the multiplier's operand
registers, P its product register, each written at the end of the cycle):

    c0: rng_next out; count the noise events;                         A, B <- E_L - V, kappa_m
    c1: P <- A*B (leak)          A, B <- u, kappa_syn
    c2: P <- A*B (decay)         A, B <- ONE_R - R, kappa_rec       v_sum <- V + rnd(P) + u (V if refractory)
    c3: P <- A*B (recovery)      A, B <- k_e, w_e                    u_sum <- u - rnd(P) + acc
    c4: P <- A*B (noise e)       A, B <- k_i, w_i                    r_rec <- R + rnd(P)
    c5: P <- A*B (noise i)       A, B <- r_rec, U                    u_sum <- u_sum + P
    c6: P <- A*B (depletion)                                         u_sum <- u_sum - P
    c7: outputs (combinational), as NeuronUpdate's stage 4; the next neuron may start in this cycle.

The sums are exact (wide enough for every partial sum) and saturate once, at the end, as the model says.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed
from amaranth.lib.wiring import In

from lifstp.golden_model.spec import NOISE_COUNT_MAX

from .arith import as_signed, rnd, sat
from .config import CoreConfig
from .neuron import NeuronUpdate, finish, noise_thresholds, spike_decision
from .stp import efficacy
from .xorshift import noise_count, noise_uniforms, xorshift64_step

__all__ = ["SharedNeuronUpdate"]


class SharedNeuronUpdate(NeuronUpdate):
    """`NeuronUpdate` on one shared multiplier (see the module docstring).

    Ports: those of `NeuronUpdate`, and ``start`` (In): a new neuron begins in this cycle. Its inputs
    must stay valid from this cycle to the `LATENCY - 1`-th after it; ``rng_next`` is valid in this
    cycle, the other outputs `LATENCY` cycles later (for that one cycle).
    """

    #: Cycles from ``start`` to the outputs.
    LATENCY = 7
    #: Cycles between two starts (the next neuron may start in the cycle the outputs are valid).
    INTERVAL = 7

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        ports = NeuronUpdate.ports(cfg)
        ports["start"] = In(1)
        super(NeuronUpdate, self).__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, regs = self.cfg, self.cfg.formats, self.regs
        mutation = cfg.mutation

        # The inputs (held by the core until c6); what c7 still needs is latched at c0.
        v, u, res, acc = self.v, self.u, self.res, self.acc
        ref, clamp = Signal.like(self.ref, name="ref_r"), Signal.like(self.clamp, name="clamp_r")
        refractory = Signal()
        k_e = Signal(range(NOISE_COUNT_MAX + 1))
        k_i = Signal(range(NOISE_COUNT_MAX + 1))
        r_rec = Signal.like(self.res, name="r_rec")
        step = Signal(range(self.LATENCY + 1))  # c<step> while a neuron is in flight; 0 when idle

        # The multiplier's operands, loaded at the end of cycle c<k> for the product P of cycle c<k+2>
        # (c0's are taken straight from the inputs); the registers are as wide as the widest.
        loads = [(self.e_l - v, regs.kappa_m), (u, regs.kappa_syn), (fmt.r_one - res, regs.kappa_rec),
                 (k_e, regs.noise_w_exc), (k_i, regs.noise_w_inh), (r_rec, regs.stp_u)]
        a = Signal(signed(max(as_signed(Value.cast(op)).shape().width for op, _ in loads)))
        b = Signal(signed(max(as_signed(Value.cast(op)).shape().width for _, op in loads)))
        p = Signal(signed(len(a) + len(b)))
        m.d.sync += p.eq(a * b)

        # Exact sums (one bit over the widest expression that NeuronUpdate forms).
        leak_bias = 1 << (fmt.frac_k - 1) if mutation == "leak_round" else 0
        v_expr = v + rnd(p, fmt.frac_k, leak_bias) + u
        v_sum = Signal(signed(Value.cast(v_expr).shape().width + 1))
        # A noise product k * w (k <= NOISE_COUNT_MAX) fits width_v + bits of NOISE_COUNT_MAX: only those
        # low bits of P enter u_sum, which keeps its adders narrow.
        noise = p[:fmt.width_v + NOISE_COUNT_MAX.bit_length()].as_signed()
        u_head = u - rnd(p, fmt.frac_k) + acc
        u_sum = Signal(signed(max(Value.cast(u_head).shape().width, noise.shape().width) + 2))

        gen = xorshift64_step(self.rng)
        m.d.comb += self.rng_next.eq(gen)
        with m.If(self.start):
            ue, ui = noise_uniforms(gen)
            thr_e, thr_i = noise_thresholds(regs)
            m.d.sync += [
                ref.eq(self.ref), clamp.eq(self.clamp), refractory.eq(self.ref != 0),
                k_e.eq(noise_count(ue, thr_e)), k_i.eq(noise_count(ui, thr_i)),
                a.eq(loads[0][0]), b.eq(loads[0][1]), step.eq(1),
            ]
        with m.Elif(step != 0):
            m.d.sync += step.eq(Mux(step == self.LATENCY, 0, step + 1))
        # A refractory neuron keeps V: v_sum takes V itself (in range: no saturation), as V is not held to c7.
        sums = {2: v_sum.eq(Mux(refractory, v, v_expr)), 3: u_sum.eq(u_head), 4: r_rec.eq(res + rnd(p, fmt.frac_k)),
                5: u_sum.eq(u_sum + noise), 6: u_sum.eq(u_sum - noise)}
        with m.Switch(step):
            for k in range(1, self.LATENCY):
                with m.Case(k):
                    if k < len(loads):
                        m.d.sync += [a.eq(loads[k][0]), b.eq(loads[k][1])]
                    if k in sums:
                        m.d.sync += sums[k]

        # c7: as NeuronUpdate's stages 3-4 and its outputs.
        v_new, v_sat = sat(v_sum, fmt.v_min, fmt.v_max)
        u_new, u_sat = sat(u_sum, fmt.v_min, fmt.v_max)
        fire = spike_decision(regs, refractory, clamp, v_new)
        eff = efficacy(r_rec, fmt, truncate=(mutation == "efficacy_round"))
        m.d.comb += finish(self, regs, fmt, fire, eff, v_new, v_sat, u_new, u_sat, ref, refractory, r_rec, p)
        return m
