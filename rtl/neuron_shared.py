"""One neuron's update for one tick on ONE shared multiplier, for FPGAs with few DSP blocks (iCE40).

`SharedNeuronUpdate` computes exactly what `NeuronUpdate` computes (docs/model.md "One tick", phase 1,
steps 1-5), with the same ports plus ``start``, but forms its six products one after the other on a
single registered multiplier instead of in parallel: a neuron takes `INTERVAL` cycles, and a new one
may enter only every `INTERVAL` cycles (the core issues them so, `CoreConfig.shared_multiplier`).
On the iCE40UP5K this needs 4 of its 8 SB_MAC16 where the pipeline needs ~20.

Little is kept in flip-flops, which the iCE40 is short of:

- The neuron's state is not latched: the core holds it at its memories' read ports (which it does
  not read again until the next neuron's address) from c0 to c6, and writes the new generator state
  back in c0; only what c7 still needs (ref, clamp) is kept here.
- The multiplier's register operands (the kappas, noise weights, U) are read one per cycle from the
  core's block-RAM copy of the registers (``reg_index`` out, ``reg_data`` in the next cycle) straight
  into the multiplier (the read port's own register is operand B's register), and the
  noise thresholds one pair T_e[m], T_i[m] per cycle from its threshold memory (``thr_index``,
  ``thr_data``): the noise counts are summed over c0..c3 with one comparator per source.

Schedule (cycle c0 is the cycle in which ``start`` is high; A is the multiplier's operand register,
B the register copy's read data (requested in the cycle before: B <- x means "request x"), P the
product register, each written at the end of the cycle; the threshold pair named in a cycle was
requested in the cycle before):

    c0: rng_next out; k <- [draw >= T[0]]                             A, B <- E_L - V, kappa_m
    c1: P <- A*B (leak)          k += [draw >= T[1]]                  A, B <- u, kappa_syn
    c2: P <- A*B (decay)         k += [draw >= T[2]]                  A, B <- ONE_R - R, kappa_rec
                                                                     v_sum <- V + rnd(P) + u (V if refractory)
    c3: P <- A*B (recovery)      k_i += [draw_i >= T_i[3]]            A, B <- k_e + [draw_e >= T_e[3]], w_e
                                                                     u_sum <- u - rnd(P) + acc
    c4: P <- A*B (noise e)       A, B <- -k_i, w_i                   r_rec <- R + rnd(P)
    c5: P <- A*B (noise i)       A, B <- r_rec, U                    u_sum <- u_sum + P
    c6: P <- A*B (depletion)                                         u_sum <- u_sum + P
    c7: outputs (combinational), as NeuronUpdate's stage 4; the next neuron may start in this cycle.

The sums are exact (wide enough for every partial sum) and saturate once, at the end, as the model says.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import NOISE_COUNT_MAX, NOISE_UNIFORM_BITS, REGISTER_NAMES

from .arith import add_rnd, as_signed, sat, sub_rnd
from .config import CoreConfig, register_word_shape, threshold_pair_width
from .neuron import NeuronUpdate, finish, spike_decision
from .stp import efficacy
from .xorshift import noise_uniforms, xorshift64_step

__all__ = ["SharedNeuronUpdate"]


class SharedNeuronUpdate(NeuronUpdate):
    """`NeuronUpdate` on one shared multiplier (see the module docstring).

    Ports: those of `NeuronUpdate` (of ``regs`` only v_th, v_reset and tau_ref_ticks are used), and

    - ``start`` (In): a new neuron begins in this cycle. Its inputs must stay valid from this cycle to
      the `LATENCY - 1`-th after it; ``rng_next`` is valid in this cycle, the other outputs `LATENCY`
      cycles later (for that one cycle).
    - ``reg_index`` (Out): the global register (index in spec.REGISTER_NAMES) to read for the next cycle
      (a synchronous read port; its data must hold while no neuron is in flight).
    - ``reg_data`` (In, `register_word_shape`): the value of the register requested in the cycle before.
    - ``thr_index`` (Out): the threshold pair m to read for the next cycle.
    - ``thr_data`` (In): the pair requested in the cycle before: T_e[m] in the low half, T_i[m] in the high.
    """

    #: Cycles from ``start`` to the outputs.
    LATENCY = 7
    #: Cycles between two starts (the next neuron may start in the cycle the outputs are valid).
    INTERVAL = 7
    #: The registers read into the multiplier's B operand, in the order of the products.
    B_OPERANDS = ("kappa_m", "kappa_syn", "kappa_rec", "noise_w_exc", "noise_w_inh", "stp_u")

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        ports = NeuronUpdate.ports(cfg)
        ports.update({
            "start": In(1),
            "reg_index": Out(range(len(REGISTER_NAMES))),
            "reg_data": In(register_word_shape(cfg.formats)),
            "thr_index": Out(range(NOISE_COUNT_MAX)),
            "thr_data": In(threshold_pair_width()),
        })
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
        step = Signal(range(self.LATENCY + 1))  # c<step> in c1..c7; in c0 it is 0 (idle) or 7

        # Register reads: the B operand of the product formed in c<k+1> is requested in c<k>.
        index = {name: REGISTER_NAMES.index(name) for name in self.B_OPERANDS}
        m.d.comb += self.reg_index.eq(index[self.B_OPERANDS[0]])
        for k in range(1, len(self.B_OPERANDS)):
            with m.If(step == k):
                m.d.comb += self.reg_index.eq(index[self.B_OPERANDS[k]])
        # Threshold pairs 0..3 arrive in c0..c3 (requested in the cycle before).
        m.d.comb += self.thr_index.eq(0)
        with m.If(self.start):
            m.d.comb += self.thr_index.eq(1)
        for k in range(1, NOISE_COUNT_MAX - 1):
            with m.Elif(step == k):
                m.d.comb += self.thr_index.eq(k + 1)

        gen = xorshift64_step(self.rng)
        m.d.comb += self.rng_next.eq(gen)
        ue, ui = noise_uniforms(gen)
        half = NOISE_UNIFORM_BITS + 1
        over_e = ue >= self.thr_data[:half]  # the draw reaches this cycle's threshold
        over_i = ui >= self.thr_data[half:]

        # The multiplier's A operands, loaded at the end of cycle c<k> for the product P of cycle c<k+1>
        # (c0's are taken straight from the inputs); B is the register read in c<k+1>.
        # (-k_i: the inhibitory product is added like the excitatory one, so u_sum has one adder for both)
        loads = [self.e_l - v, u, fmt.r_one - res, k_e + over_e, -k_i, r_rec]
        a = Signal(signed(max(as_signed(Value.cast(op)).shape().width for op in loads)))
        b = self.reg_data
        p = Signal(signed(len(a) + len(b)))
        m.d.sync += p.eq(a * b)

        # Exact sums (one bit over the widest expression that NeuronUpdate forms).
        leak_bias = 1 << (fmt.frac_k - 1) if mutation == "leak_round" else 0
        v_expr = add_rnd(v + u, p, fmt.frac_k, leak_bias)
        v_sum = Signal(signed(Value.cast(v_expr).shape().width + 1))
        # A noise product k * w (k <= NOISE_COUNT_MAX) fits width_v + bits of NOISE_COUNT_MAX: only those
        # low bits of P enter u_sum, which keeps its adders narrow.
        noise = p[:fmt.width_v + NOISE_COUNT_MAX.bit_length()].as_signed()
        u_head = sub_rnd(u + acc, p, fmt.frac_k)
        u_sum = Signal(signed(max(Value.cast(u_head).shape().width, noise.shape().width) + 2))

        with m.If(self.start):
            m.d.sync += [
                ref.eq(self.ref), clamp.eq(self.clamp), refractory.eq(self.ref != 0),
                k_e.eq(over_e), k_i.eq(over_i), a.eq(loads[0]), step.eq(1),
            ]
        with m.Elif(step != 0):
            m.d.sync += step.eq(Mux(step == self.LATENCY, 0, step + 1))
        # A refractory neuron keeps V: v_sum takes V itself (in range: no saturation), as V is not held to c7.
        sums = {2: v_sum.eq(Mux(refractory, v, v_expr)), 3: u_sum.eq(u_head), 4: r_rec.eq(add_rnd(res, p, fmt.frac_k)),
                5: u_sum.eq(u_sum + noise), 6: u_sum.eq(u_sum + noise)}
        counts = {k: [k_e.eq(k_e + over_e), k_i.eq(k_i + over_i)] for k in range(1, NOISE_COUNT_MAX - 1)}
        counts[NOISE_COUNT_MAX - 1] = [k_i.eq(k_i + over_i)]  # k_e's last step goes straight into A
        with m.Switch(step):
            for k in range(1, self.LATENCY):
                with m.Case(k):
                    if k < len(loads):
                        m.d.sync += a.eq(loads[k])
                    if k in sums:
                        m.d.sync += sums[k]
                    m.d.sync += counts.get(k, [])

        # c7: as NeuronUpdate's stages 3-4 and its outputs.
        v_new, v_sat = sat(v_sum, fmt.v_min, fmt.v_max)
        u_new, u_sat = sat(u_sum, fmt.v_min, fmt.v_max)
        fire = spike_decision(regs, refractory, clamp, v_new)
        eff = efficacy(r_rec, fmt, truncate=(mutation == "efficacy_round"))
        m.d.comb += finish(self, regs, fmt, fire, eff, v_new, v_sat, u_new, u_sat, ref, refractory, r_rec, p)
        return m
