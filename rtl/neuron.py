"""One neuron's update for one tick: THE place where the membrane V is updated.

`NeuronUpdate` is a pipeline of `NeuronUpdate.LATENCY` register stages with no stall and no feedback:
the state of a neuron (read from the lane's memories) enters in cycle t, its state after the tick, the
spike decision and the efficacy of the spike leave in cycle t + LATENCY, exactly as docs/model.md
"One tick", phase 1, steps 1-5 (golden_model/fixed.py `run_ticks`). A new neuron may enter every cycle
(each neuron is touched once per tick, so the pipeline has no hazards). The global registers are not
pipelined: the host writes them only while the core is idle. The core instantiates one per lane,
between the memories' read and write ports.

Stages (each ends in a register; every multiplication has a stage of its own):

1. differences and the generator: E_L - V, ONE_R - R, xorshift64 step, the two noise counts.
2. products: (E_L - V) * kappa_m, u * kappa_syn, (ONE_R - R) * kappa_rec, k_e * w_e - k_i * w_i.
3. sums: V + rnd(.) + u (saturated), u - rnd(.) + acc + noise (saturated), R + rnd(.) (recovery).
4. spike decision (refractory hold, clamp, V >= theta), efficacy, the depletion product R * U.
   out (combinational from stage 4): reset V, refractory counter, R - rnd(R * U) on a spike.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import READOUT_REGISTERS, ClampMode

from .arith import add_rnd, sat, sub_rnd
from .config import RNG_WIDTH, CoreConfig, NeuronField, register_shapes
from .stp import efficacy
from .xorshift import noise_count, noise_uniforms, xorshift64_step

__all__ = ["NeuronUpdate", "register_layout", "noise_thresholds", "spike_decision", "finish"]


def register_layout(cfg: CoreConfig) -> data.StructLayout:
    """The global registers as one struct (field names from spec.REGISTER_NAMES); the readout's only
    in a core with the states readout."""
    return data.StructLayout({name: shape for name, shape in register_shapes(cfg.formats).items()
                              if cfg.states_readout or name not in READOUT_REGISTERS})


def noise_thresholds(regs) -> tuple[list[Value], list[Value]]:
    """The excitatory and the inhibitory noise-count thresholds among the global registers."""
    names = regs.shape().members
    return ([regs[n] for n in names if n.startswith("noise_thr_exc")],
            [regs[n] for n in names if n.startswith("noise_thr_inh")])


def spike_decision(regs, refractory: Value, clamp: Value, v_new: Value) -> Value:
    """Step 5: the neuron fires unless refractory or clamped off, when clamped on or V >= threshold."""
    return ~refractory & (clamp != ClampMode.OFF) & ((clamp == ClampMode.ON) | (v_new >= regs.v_th))


def finish(upd, regs, fmt, fire, eff, v_new, sat_v, u_new, sat_u, ref, refractory, r_rec, p_dep) -> list:
    """The assignments of `upd`'s outputs but ``rng_next``: on a spike, reset, the refractory period and
    the depletion R - rnd(R * U, frac_r); the rest passes through. ``on``: the neuron's state in
    this tick (it fires, or it is refractory), which the states readout sends."""
    return [
        upd.fire.eq(fire),
        upd.on.eq(fire | refractory),
        upd.eff.eq(eff),
        upd.v_next.eq(Mux(fire, regs.v_reset, v_new)),
        upd.u_next.eq(u_new),
        upd.ref_next.eq(Mux(fire, regs.tau_ref_ticks - 1, Mux(refractory, ref - 1, ref))),
        upd.res_next.eq(Mux(fire, sub_rnd(r_rec, p_dep, fmt.frac_r), r_rec)),
        upd.sat_v.eq(sat_v),
        upd.sat_u.eq(sat_u),
    ]


class NeuronUpdate(wiring.Component):
    """Pipelined update of one neuron for one tick (`LATENCY` cycles from inputs to outputs).

    Ports (inputs: the state before the tick, in cycle t; outputs: after it, in cycle t + LATENCY):

    - ``regs`` (In): the global parameter registers, a `register_layout` struct (held constant while
      neurons are in flight).
    - ``v``, ``u``, ``ref``, ``res``, ``rng`` (In): membrane, synaptic state, refractory counter,
      STP resource, generator state.
    - ``e_l`` (In): leak potential; ``clamp`` (In): `spec.ClampMode`; ``acc`` (In): the recurrent input
      delivered in the previous tick.
    - ``v_next``, ``u_next``, ``ref_next``, ``res_next``, ``rng_next`` (Out): the new state.
    - ``fire`` (Out): the neuron spikes this tick; ``eff`` (Out): the efficacy e of that spike.
    - ``on`` (Out): its state in this tick: it fires or is refractory (the states readout's bit).
    - ``sat_v``, ``sat_u`` (Out): V, resp. u, saturated in this update (for the status counters).
    """

    #: Register stages between the inputs and the outputs.
    LATENCY = 4
    #: Cycles between two neurons entering (a new one every cycle).
    INTERVAL = 1

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__(self.ports(cfg))

    @staticmethod
    def ports(cfg: CoreConfig) -> dict:
        """The port set (shared with `SharedNeuronUpdate`, which adds ``start``)."""
        fmt = cfg.formats
        shp = cfg.field_shape
        return {
            "regs": In(register_layout(cfg)),
            "v": In(shp(NeuronField.V)),
            "u": In(shp(NeuronField.U)),
            "ref": In(shp(NeuronField.REF)),
            "res": In(shp(NeuronField.RES)),
            "rng": In(RNG_WIDTH),
            "e_l": In(shp(NeuronField.EL)),
            "clamp": In(shp(NeuronField.CLAMP)),
            "acc": In(shp(NeuronField.ACC)),
            "v_next": Out(shp(NeuronField.V)),
            "u_next": Out(shp(NeuronField.U)),
            "ref_next": Out(shp(NeuronField.REF)),
            "res_next": Out(shp(NeuronField.RES)),
            "rng_next": Out(RNG_WIDTH),
            "fire": Out(1),
            "on": Out(1),
            "eff": Out(unsigned(fmt.frac_e + 1)),
            "sat_v": Out(1),
            "sat_u": Out(1),
        }

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, regs = self.cfg, self.cfg.formats, self.regs
        mutation = cfg.mutation

        def stage(k, **values):
            """Register each expression (or (expression, shape) to narrow it to a range it cannot leave)
            into a signal `s<k>_<name>`; returns them as a namespace."""
            out = {}
            for name, value in values.items():
                shape = value[1] if isinstance(value, tuple) else Value.cast(value).shape()
                value = value[0] if isinstance(value, tuple) else value
                sig = Signal(shape, name=f"s{k}_{name}")
                m.d.sync += sig.eq(value)
                out[name] = sig
            return type("Stage", (), out)

        # 1. Differences; noise: step the generator, count the background events of both sources.
        x = xorshift64_step(self.rng)
        ue, ui = noise_uniforms(x)
        thr_e, thr_i = noise_thresholds(regs)
        s1 = stage(1, dv=self.e_l - self.v, dr=fmt.r_one - self.res, x=x,
                   k_e=noise_count(ue, thr_e), k_i=noise_count(ui, thr_i),
                   v=self.v, u=self.u, ref=self.ref, refractory=self.ref != 0, res=self.res,
                   clamp=self.clamp, acc=self.acc)

        # 2. The products of steps 2-4 (recovery, leak, synaptic decay) and the background input.
        s2 = stage(2, p_leak=s1.dv * regs.kappa_m, p_syn=s1.u * regs.kappa_syn, p_rec=s1.dr * regs.kappa_rec,
                   noise=s1.k_e * regs.noise_w_exc - s1.k_i * regs.noise_w_inh,
                   x=s1.x, v=s1.v, u=s1.u, ref=s1.ref, refractory=s1.refractory, res=s1.res, clamp=s1.clamp,
                   acc=s1.acc)

        # 3. Sums. Step 2: R recovers toward 1. Step 3: V leaks toward E_L plus u (held while refractory,
        #    below). Step 4: u decays, plus last tick's recurrent input and this tick's background.
        # (mutation test only: the rounding constant 2^(frac_k-1) moved up one bit, to 2^frac_k)
        leak_bias = 1 << (fmt.frac_k - 1) if mutation == "leak_round" else 0
        v_free, v_sat = sat(add_rnd(s2.v + s2.u, s2.p_leak, fmt.frac_k, leak_bias), fmt.v_min, fmt.v_max)
        u_new, u_sat = sat(sub_rnd(s2.u + s2.acc + s2.noise, s2.p_syn, fmt.frac_k), fmt.v_min, fmt.v_max)
        r_rec = add_rnd(s2.res, s2.p_rec, fmt.frac_k)
        # Saturated V and u fit width_v; R stays within [0, ONE_R] (recovery is bounded by construction).
        s3 = stage(3, v_new=(Mux(s2.refractory, s2.v, v_free), self.v.shape()), sat_v=~s2.refractory & v_sat,
                   u_new=(u_new, self.u.shape()), sat_u=u_sat, r_rec=(r_rec, self.res.shape()),
                   x=s2.x, ref=s2.ref, refractory=s2.refractory, clamp=s2.clamp)

        # 4. Step 5: the spike decision, the efficacy it carries, the depletion product.
        s4 = stage(4, fire=spike_decision(regs, s3.refractory, s3.clamp, s3.v_new),
                   eff=efficacy(s3.r_rec, fmt, truncate=(mutation == "efficacy_round")),
                   p_dep=s3.r_rec * regs.stp_u, r_rec=s3.r_rec, v_new=s3.v_new, sat_v=s3.sat_v,
                   u_new=s3.u_new, sat_u=s3.sat_u, x=s3.x, ref=s3.ref, refractory=s3.refractory)

        # Out: on a spike, reset, refractory period, depletion R - rnd(R * U, frac_r).
        m.d.comb += finish(self, regs, fmt, s4.fire, s4.eff, s4.v_new, s4.sat_v, s4.u_new, s4.sat_u,
                           s4.ref, s4.refractory, s4.r_rec, s4.p_dep)
        m.d.comb += self.rng_next.eq(s4.x)
        return m
