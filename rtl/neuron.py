"""One neuron's update for one tick: THE place where the membrane V is updated.

`NeuronUpdate` is combinational: it maps a neuron's state (read from the lane's memories) and the
global registers to the state after the tick, the spike decision and the efficacy of the spike,
exactly as docs/model.md "One tick", phase 1, steps 1-5 (golden_model/fixed.py `run_ticks`).
The core instantiates one per lane, between the memories' read and write ports.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import ClampMode

from .arith import rnd, sat
from .config import RNG_WIDTH, CoreConfig, NeuronField, register_shapes
from .stp import deplete, efficacy, recover
from .xorshift import noise_count, noise_uniforms, xorshift64_step

__all__ = ["NeuronUpdate", "register_layout"]


def register_layout(cfg: CoreConfig) -> data.StructLayout:
    """The global registers as one struct (field names from spec.REGISTER_NAMES)."""
    return data.StructLayout(register_shapes(cfg.formats))


class NeuronUpdate(wiring.Component):
    """Combinational update of one neuron for one tick.

    Ports (inputs: the state before the tick; outputs: after it):

    - ``regs`` (In): the global parameter registers, a `register_layout` struct.
    - ``v``, ``u``, ``ref``, ``res``, ``rng`` (In): membrane, synaptic state, refractory counter,
      STP resource, generator state.
    - ``e_l`` (In): leak potential; ``clamp`` (In): `spec.ClampMode`; ``acc`` (In): the recurrent input
      delivered in the previous tick.
    - ``v_next``, ``u_next``, ``ref_next``, ``res_next``, ``rng_next`` (Out): the new state.
    - ``fire`` (Out): the neuron spikes this tick; ``eff`` (Out): the efficacy e of that spike.
    - ``sat_v``, ``sat_u`` (Out): V, resp. u, saturated in this update (for the status counters).
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        fmt = cfg.formats
        shp = cfg.field_shape
        super().__init__({
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
            "eff": Out(unsigned(fmt.frac_e + 1)),
            "sat_v": Out(1),
            "sat_u": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, regs = self.cfg, self.cfg.formats, self.regs
        mutation = cfg.mutation

        # 1. Noise: step the generator, count the background events of both sources.
        x = xorshift64_step(self.rng)
        ue, ui = noise_uniforms(x)
        thr_e = [regs[name] for name in regs.shape().members if name.startswith("noise_thr_exc")]
        thr_i = [regs[name] for name in regs.shape().members if name.startswith("noise_thr_inh")]
        k_e = noise_count(ue, thr_e)
        k_i = noise_count(ui, thr_i)
        m.d.comb += self.rng_next.eq(x)

        # 2. Resource recovery toward 1.
        r_rec = recover(self.res, regs.kappa_rec, fmt)

        # 3. Membrane: held while refractory, else leak toward E_L plus the synaptic state.
        refractory = self.ref != 0
        # (mutation test only: the rounding constant 2^(frac_k-1) moved up one bit, to 2^frac_k)
        leak_bias = 1 << (fmt.frac_k - 1) if mutation == "leak_round" else 0
        v_free, v_sat = sat(self.v + rnd((self.e_l - self.v) * regs.kappa_m, fmt.frac_k, leak_bias) + self.u,
                            fmt.v_min, fmt.v_max)
        v_new = Mux(refractory, self.v, v_free)

        # 4. Synaptic state: decay, plus last tick's recurrent input and this tick's background.
        u_raw = (self.u - rnd(self.u * regs.kappa_syn, fmt.frac_k) + self.acc
                 + k_e * regs.noise_w_exc - k_i * regs.noise_w_inh)
        u_new, u_sat = sat(u_raw, fmt.v_min, fmt.v_max)
        m.d.comb += [
            self.u_next.eq(u_new),
            self.sat_u.eq(u_sat),
            self.sat_v.eq(~refractory & v_sat),
        ]

        # 5. Spike decision; on a spike: reset, refractory period, efficacy, depletion.
        clamp = self.clamp
        fire = ~refractory & (clamp != ClampMode.OFF) & ((clamp == ClampMode.ON) | (v_new >= regs.v_th))
        m.d.comb += [
            self.fire.eq(fire),
            self.eff.eq(efficacy(r_rec, fmt, truncate=(mutation == "efficacy_round"))),
            self.v_next.eq(Mux(fire, regs.v_reset, v_new)),
            self.ref_next.eq(Mux(fire, regs.tau_ref_ticks - 1, Mux(refractory, self.ref - 1, self.ref))),
            self.res_next.eq(Mux(fire, deplete(r_rec, regs.stp_u, fmt), r_rec)),
        ]
        return m
