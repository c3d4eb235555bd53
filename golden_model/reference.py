"""The float64 reference: the golden model's equations without quantisation, rounding or saturation.

It draws its background noise from the same per-neuron generators as the golden model (compared with
unquantised Poisson thresholds), so the two can be compared trace against trace; what differs is only
what fixed point costs. It is also the model compared with NEST (tests/test_nest.py).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .rng import noise_uniforms, seed_states, xorshift64_step
from .fixed import register_arguments
from .spec import CLAMP_OFF, CLAMP_ON, NOISE_COUNT_MAX, REGISTERS, ModelError, ModelParams, noise_cdf_float, weights_to_u_float


def run_ticks_float(regs, e_l, clamp, weights, v, u, ref, res, rng, acc, t0, n_ticks, out_tick, out_neuron):
    """Float twin of `fixed.run_ticks` (same order of operations). Returns (ticks done, spikes).
    `regs` holds the registers unquantised, in the order of spec.REGISTERS (`FloatCore.regs`)."""
    return _run_ticks_float(e_l=e_l, clamp=clamp, weights=weights, v=v, u=u, ref=ref, res=res, rng=rng, acc=acc,
                            t0=t0, n_ticks=n_ticks, out_tick=out_tick, out_neuron=out_neuron,
                            **register_arguments(regs))


@numba.njit(cache=True, nogil=True)
def _run_ticks_float(tau_ref_ticks, v_th, v_reset, kappa_m, kappa_syn, kappa_rec, stp_u, noise_w_exc, noise_w_inh,
                     noise_thr_exc, noise_thr_inh, n_active, e_l, clamp, weights, v, u, ref, res, rng, acc, t0,
                     n_ticks, out_tick, out_neuron):
    """The kernel of `run_ticks_float`, taking the registers by name (`fixed.register_arguments`);
    as the golden kernel, only neurons 0 .. n_active - 1 take part (0: all)."""
    n = v.shape[0] if n_active == 0 else min(int(n_active), v.shape[0])
    tau_ref = int(tau_ref_ticks)
    w_exc, w_inh, thr_e, thr_i = noise_w_exc, noise_w_inh, noise_thr_exc, noise_thr_inh
    capacity = out_tick.shape[0]
    spiked = np.empty(n, dtype=np.int64)
    eff = np.empty(n, dtype=np.float64)
    n_out = 0
    done = 0
    while done < n_ticks and n_out + n <= capacity:
        t = t0 + done
        n_spk = 0
        for i in range(n):
            x = xorshift64_step(rng[i])
            rng[i] = x
            ue, ui = noise_uniforms(x)
            k_e = 0
            k_i = 0
            for m in range(NOISE_COUNT_MAX):
                if ue >= thr_e[m]:
                    k_e += 1
                if ui >= thr_i[m]:
                    k_i += 1
            r = res[i] + (1.0 - res[i]) * kappa_rec
            refractory = ref[i] > 0
            if refractory:
                ref[i] -= 1
            else:
                v[i] = v[i] + (e_l[i] - v[i]) * kappa_m + u[i]
            u[i] = u[i] - u[i] * kappa_syn + acc[i] + k_e * w_exc - k_i * w_inh
            acc[i] = 0.0
            c = clamp[i]
            if refractory or c == CLAMP_OFF:
                fire = False
            elif c == CLAMP_ON:
                fire = True
            else:
                fire = v[i] >= v_th
            if fire:
                v[i] = v_reset
                ref[i] = tau_ref - 1
                eff[n_spk] = r
                spiked[n_spk] = i
                n_spk += 1
                r -= r * stp_u
                out_tick[n_out] = t
                out_neuron[n_out] = i
                n_out += 1
            res[i] = r
        for s in range(n_spk):
            row = weights[spiked[s]]
            e = eff[s]
            for j in range(n):
                acc[j] += row[j] * e
        done += 1
    return done, n_out


class FloatCore:
    """The float64 reference of one core: physical parameters, leak potentials e_l_mv (per neuron),
    weights_pa[pre, post] in pA, clamp modes and seed as for `GoldenCore`."""

    def __init__(self, params: ModelParams, e_l_mv: np.ndarray, weights_pa: np.ndarray,
                 clamp: np.ndarray | None = None, seed: int = 0):
        e_l = np.asarray(e_l_mv, dtype=np.float64)
        n = e_l.size
        w = np.asarray(weights_pa, dtype=np.float64)
        if e_l.ndim != 1 or n == 0:
            raise ModelError(f"e_l_mv must be a non-empty 1-D array, got shape {e_l.shape}")
        if w.shape != (n, n):
            raise ModelError(f"weights must have shape ({n}, {n}), got {w.shape}")
        self.params = params
        self.n = n
        self.e_l = e_l
        self.weights = np.ascontiguousarray(weights_to_u_float(w, params))
        lam_e, lam_i = params.noise_lambda()
        p21 = params.p21_mv_per_pa
        # The registers unquantised, by FixedParams attribute, packed in the order of spec.REGISTERS.
        unquantised = dict(
            tau_ref_ticks=params.tau_ref_ticks, v_th=params.v_th_mv, v_reset=params.v_reset_mv,
            kappa_m=-math.expm1(-params.dt_ms / params.tau_m_ms),
            kappa_syn=-math.expm1(-params.dt_ms / params.tau_syn_ms),
            kappa_rec=-math.expm1(-params.dt_ms / params.stp_tau_rec_ms), stp_u=params.stp_u,
            noise_w_exc=params.noise_weight_exc_pa * p21, noise_w_inh=params.noise_weight_inh_pa * p21,
            noise_thr_exc=noise_cdf_float(lam_e), noise_thr_inh=noise_cdf_float(lam_i), n_active=0,
            sample_units=0, sample_first=0, sample_every=1, sample_wait=0,
            sample_stats=0)  # the readout's: not the model's
        self.regs = np.array([unquantised[q.attribute] if q.index is None else unquantised[q.attribute][q.index]
                              for q in REGISTERS], dtype=np.float64)
        self.clamp = np.zeros(n, np.int8) if clamp is None else np.asarray(clamp, dtype=np.int8)
        self.reset(seed)

    def reset(self, seed: int) -> None:
        n = self.n
        self.tick = 0
        self.v = self.e_l.copy()
        self.u = np.zeros(n)
        self.ref = np.zeros(n, dtype=np.int64)
        self.res = np.ones(n)
        self.rng = seed_states(seed, n)
        self.acc = np.zeros(n)

    def run(self, n_ticks: int, chunk_ticks: int = 20000) -> tuple[np.ndarray, np.ndarray]:
        """Run `n_ticks` ticks; spikes as (tick int64, neuron int32), in the golden model's order."""
        cap = max(4 * self.n, min(chunk_ticks, max(n_ticks, 1)) * self.n // 8 + self.n)
        out_t = np.empty(cap, dtype=np.int64)
        out_n = np.empty(cap, dtype=np.int32)
        parts_t, parts_n = [], []
        remaining = n_ticks
        while remaining > 0:
            done, k = run_ticks_float(self.regs, self.e_l, self.clamp, self.weights, self.v, self.u, self.ref,
                                      self.res, self.rng, self.acc, self.tick, min(chunk_ticks, remaining),
                                      out_t, out_n)
            parts_t.append(out_t[:k].copy())
            parts_n.append(out_n[:k].copy())
            self.tick += done
            remaining -= done
        if not parts_t:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        return np.concatenate(parts_t), np.concatenate(parts_n)
