"""Random test networks for the RTL equivalence tests, described by a few JSON-able numbers.

A case is a dict of scalars (drawn by hypothesis or a seeded generator in pytest); `build_golden`
turns it into a `GoldenCore` of the core's size N: the first `n_active` neurons form the random
network, the rest are padding (clamped OFF, no weights), so networks of any size n <= N run on one
built core. Everything else (leak potentials, weights, clamps) is derived from the case's `net_seed`.
"""

from __future__ import annotations

import numpy as np

from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import ClampMode, Formats, ModelParams, quantise, quantise_potentials

__all__ = ["build_golden", "random_case", "STP_U", "TAU_REC_MS"]

STP_U = (0.0, 0.1, 0.5, 1.0)
TAU_REC_MS = (0.3, 10.0, 280.0)


def random_case(rng: np.random.Generator, n_core: int) -> dict:
    """One case drawn with a numpy generator (the same knobs the hypothesis strategy draws)."""
    return {
        "n_active": int(rng.integers(1, n_core + 1)),
        "net_seed": int(rng.integers(0, 2**31)),
        "seed": int(rng.integers(0, 2**63)),
        "tau_m_ms": float(rng.choice([0.5, 1.0, 5.0])),
        "tau_syn_ms": float(rng.choice([1.0, 10.0])),
        "tau_ref_ms": float(rng.choice([0.1, 0.5, 2.0, 10.0])),
        "noise_rate_hz": float(rng.choice([0.0, 500.0, 2000.0, 20000.0])),
        "stp_u": float(rng.choice(STP_U)),
        "stp_tau_rec_ms": float(rng.choice(TAU_REC_MS)),
        "weight_scale": float(rng.choice([0.0, 0.3, 3.0, 100.0])),
        "bias_mv": float(rng.uniform(-4.0, 3.0)),
        "clamp_fraction": float(rng.choice([0.0, 0.2])),
    }


def build_golden(case: dict, n_core: int, fmt: Formats | None = None) -> GoldenCore:
    """The golden model of a case on a core of n_core neurons."""
    fmt = fmt or Formats()
    n = int(case["n_active"])
    if not 1 <= n <= n_core:
        raise ValueError(f"n_active={n} does not fit a core of {n_core} neurons")
    params = ModelParams(
        tau_m_ms=case["tau_m_ms"], tau_syn_ms=case["tau_syn_ms"], tau_ref_ms=case["tau_ref_ms"],
        noise_rate_exc_hz=case["noise_rate_hz"], noise_rate_inh_hz=case["noise_rate_hz"],
        stp_u=case["stp_u"], stp_tau_rec_ms=case["stp_tau_rec_ms"],
    )
    fixed = quantise(params, fmt)
    rng = np.random.default_rng(case["net_seed"])
    # Leak potentials around threshold (bias), a few far off to reach saturation when weights are big.
    e_l_mv = np.full(n_core, -70.0)
    e_l_mv[:n] = params.v_th_mv + case["bias_mv"] + rng.normal(0.0, 2.0, n)
    e_l = quantise_potentials(np.clip(e_l_mv, -500.0, 500.0), fmt)
    # Weights in units of u (frac_w), scale in mV/tick, saturating to the weight format.
    w = np.zeros((n_core, n_core), dtype=np.int64)
    scale = case["weight_scale"] * (1 << fmt.frac_w)
    block = np.round(rng.normal(0.0, 1.0, (n, n)) * scale)
    w[:n, :n] = np.clip(block, fmt.w_min, fmt.w_max)
    np.fill_diagonal(w, 0)
    clamp = np.full(n_core, int(ClampMode.OFF), dtype=np.int64)
    modes = rng.choice([int(ClampMode.ON), int(ClampMode.OFF)], n)
    clamped = rng.random(n) < case["clamp_fraction"]
    clamp[:n] = np.where(clamped, modes, int(ClampMode.FREE))
    return GoldenCore(fixed, e_l, w, clamp=clamp, seed=case["seed"])
