"""What depression does at the rates a network actually fires: the steady-state resource of
Tsodyks-Markram depression predicted from the measured rates, next to the resource measured at each
spike on the golden model.

A presynaptic neuron firing at a constant interval Δ settles at
R* = (1 − e^{−Δ/τ_rec}) / (1 − (1 − U)·e^{−Δ/τ_rec}) (the resource just before a spike), approached
geometrically with the factor (1 − U)·e^{−Δ/τ_rec} per spike. A sampling network fires at its mean
rate on average but in bursts (a unit that stays on refires right after τ_ref) while it holds a mode;
the burst interval is τ_ref, so R* at 1/τ_ref is what depression weakens an attractor to, if the burst
lasts long enough to approach it. With U < 1 the synapses are not renewing: PSCs of a burst stack up
to 1/(1 − e^{−τ_ref/τ_syn}) times a single one, which can deepen an attractor before depression
weakens it.
"""

from __future__ import annotations

import math

import numpy as np

from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import Formats, ModelParams
from lifstp.network import Network


def steady_resource(interval_ms: float, u: float, tau_rec_ms: float) -> float:
    """R* just before each spike of a neuron firing every interval_ms."""
    d = math.exp(-interval_ms / tau_rec_ms)
    return (1 - d) / (1 - (1 - u) * d)


def approach_spikes(interval_ms: float, u: float, tau_rec_ms: float) -> float:
    """Spikes for R to cover 1 − 1/e of its way to R* at this interval."""
    q = (1 - u) * math.exp(-interval_ms / tau_rec_ms)  # the remaining distance shrinks by q per spike
    if q <= 0:
        return 0.0  # U = 1: the first spike takes R to its steady state
    return -1.0 / math.log(q) if q < 1 else math.inf


def resource_report(network: Network, n_ticks: int, seed: int, formats: Formats | None = None) -> dict:
    """Run `network` on the golden model and compare the resource each spike is sent with against
    the steady states predicted from the measured mean rate and from the burst interval τ_ref."""
    params: ModelParams = network.params
    fmt = formats or Formats()
    core = GoldenCore.from_physical(params, network.e_l_mv, network.weights_pa, network.clamp, seed, fmt)
    ticks, neurons, eff = core.run_with_efficacy(n_ticks)
    r = eff / float(1 << fmt.frac_e)
    u, tau = params.stp_u, params.stp_tau_rec_ms
    dt, ref = params.dt_ms, params.tau_ref_ticks
    counts = np.bincount(neurons, minlength=network.n)
    active = counts > 0
    rate_hz = counts[active].mean() / (n_ticks * dt * 1e-3) if active.any() else 0.0
    # Spikes sent within a burst: the neuron's previous spike was at most one tick after its refractory end.
    order = np.lexsort((ticks, neurons))
    same = np.diff(neurons[order]) == 0
    gap = np.diff(ticks[order])
    in_burst = np.zeros(ticks.size, bool)
    in_burst[order[1:]] = same & (gap <= ref + 1)
    burst_ms = ref * dt
    # The last tenth of the run's burst spikes: for a neuron that bursts all along, its settled resource.
    burst_r = r[in_burst]
    settled = float(burst_r[-max(1, burst_r.size // 10):].mean()) if burst_r.size else float("nan")
    out = {"stp_u": u, "stp_tau_rec_ms": tau, "spikes": int(ticks.size), "mean_rate_hz": float(rate_hz),
           "settled_burst_resource": settled,
           "burst_fraction": float(in_burst.mean()) if ticks.size else 0.0,
           "measured_mean_resource": float(r.mean()) if r.size else float("nan"),
           "measured_burst_resource": float(r[in_burst].mean()) if in_burst.any() else float("nan"),
           "predicted_resource_at_mean_rate": steady_resource(1e3 / rate_hz, u, tau) if rate_hz > 0 else 1.0,
           "predicted_resource_in_bursts": steady_resource(burst_ms, u, tau),
           "burst_spikes_to_approach": approach_spikes(burst_ms, u, tau),
           "psc_stacking_in_bursts": 1.0 / (1.0 - math.exp(-burst_ms / params.tau_syn_ms))}
    return out


def describe(report: dict) -> str:
    """One paragraph for the experiments' tables."""
    r = report
    return (f"Depression at U = {r['stp_u']:g}, τ_rec = {r['stp_tau_rec_ms']:g} ms, at the rates seen: mean rate "
            f"{r['mean_rate_hz']:.1f} Hz predicts R* = {r['predicted_resource_at_mean_rate']:.3f}, bursts at 1/τ_ref "
            f"predict R* = {r['predicted_resource_in_bursts']:.3f} (reached to 1 − 1/e after "
            f"{r['burst_spikes_to_approach']:.0f} spikes; PSCs stack ×{r['psc_stacking_in_bursts']:.2f} in a burst); "
            f"measured at the spikes: mean R = {r['measured_mean_resource']:.3f}, within bursts "
            f"{r['measured_burst_resource']:.3f} ({100 * r['burst_fraction']:.0f} % of spikes are in bursts).")
