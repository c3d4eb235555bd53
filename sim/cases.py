"""Random test networks for the RTL equivalence tests, described by a few JSON-able numbers.

A case is a dict of scalars (drawn by hypothesis or a seeded generator in pytest); `build_golden`
turns it into a `GoldenCore` of the core's size N: the first `n_active` neurons form the random
network, the rest are padding (clamped OFF, no weights), so networks of any size n <= N run on one
built core; with `limit_active` the core's n_active register holds n, so the padding is not even
updated. Everything else (leak potentials, weights, clamps) is derived from the case's `net_seed`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import ClampMode, Formats, ModelParams, quantise, quantise_potentials

__all__ = ["build_golden", "random_case", "case_strategy", "golden_cost", "KNOBS"]

#: The choices a case draws from (the hypothesis strategy and `random_case` use the same table).
KNOBS = {
    "tau_m_ms": (0.5, 1.0, 5.0),
    "tau_syn_ms": (1.0, 10.0),
    "tau_ref_ms": (0.1, 0.5, 2.0, 10.0),
    "noise_rate_hz": (0.0, 500.0, 2000.0, 20000.0),
    "stp_u": (0.0, 0.1, 0.5, 1.0),
    "stp_tau_rec_ms": (0.3, 10.0, 280.0),
    "weight_scale": (0.0, 0.3, 3.0, 100.0),  # mV/tick per unit normal weight (100 saturates W)
    "clamp_fraction": (0.0, 0.2, 1.0),
    "limit_active": (0.0, 1.0),  # 1: the core's n_active register holds the network's size (0: all N run)
}
BIAS_MV = (-4.0, 3.0)  #: mean leak potential relative to threshold
STP_U, TAU_REC_MS = KNOBS["stp_u"], KNOBS["stp_tau_rec_ms"]


def random_case(rng: np.random.Generator, n_core: int) -> dict:
    """One case drawn with a numpy generator."""
    case = {
        "n_active": int(rng.integers(1, n_core + 1)),
        "net_seed": int(rng.integers(0, 2**31)),
        "seed": int(rng.integers(0, 2**63)),
        "bias_mv": float(rng.uniform(*BIAS_MV)),
    }
    case.update({name: float(rng.choice(values)) for name, values in KNOBS.items()})
    return case


def case_strategy(n_core: int):
    """The same cases as a hypothesis strategy (imported lazily: hypothesis is a test dependency)."""
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "n_active": st.integers(1, n_core),
        "net_seed": st.integers(0, 2**31 - 1),
        "seed": st.integers(0, 2**64 - 1),
        "bias_mv": st.floats(*BIAS_MV, allow_nan=False),
        **{name: st.sampled_from(values) for name, values in KNOBS.items()},
    })


def golden_cost(case: dict, cfg, n_ticks: int) -> tuple[int, int]:
    """(spikes, clock cycles) the case takes on the core of `cfg` (a CoreConfig), from the golden model
    and the core's cycle model; tests use it to keep their run time bounded."""
    from lifstp.rtl.core import cycles_per_tick

    gc = build_golden(case, cfg.n_neurons, cfg.formats)
    t, _ = gc.run(n_ticks)
    n_active = gc.fixed.n_active
    return len(t), n_ticks * cycles_per_tick(cfg, 0, n_active) + len(t) * cfg.active_depth(n_active)


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
    if case.get("limit_active"):  # only the network's neurons are updated and delivered to
        fixed = dataclasses.replace(fixed, n_active=n)
    rng = np.random.default_rng(case["net_seed"])
    # Leak potentials around threshold (bias), a few far off to reach saturation when weights are big.
    e_l_mv = np.full(n_core, -70.0)
    e_l_mv[:n] = params.v_th_mv + case["bias_mv"] + rng.normal(0.0, 2.0, n)
    reach = min(500.0, fmt.v_max / (1 << fmt.frac_v))  # inside the potential format (dsp18: ±128 mV)
    e_l = quantise_potentials(np.clip(e_l_mv, -reach, reach), fmt)
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
