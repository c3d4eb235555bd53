"""Adaptive simulated tempering (AST) of an RBM (numba; Salakhutdinov 2010 style).

The chain state is (v, h, k): one block Gibbs sweep at inverse temperature β_k, then a move to a
neighbouring level k' = k ± 1 accepted with probability min(1, exp(−(β_k' − β_k)·E(v, h) + g_k' − g_k)).
The log weights g_k should approach −log Z(β_k) so that all levels are visited equally. They start from
a thermodynamic-integration estimate (d log Z / dβ = −⟨E⟩_β, from short pilot chains at each level) and
then adapt Wang-Landau style: after each step at level k, g_k ← g_k − γ_t, with γ_t = γ₀·t₀ / max(t₀, t)
decreasing so that the chain converges to the tempered target. Only samples at β = 1 are kept.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from lifstp.errors import InputError

from .gibbs import energy, seed_numba, sweep


@numba.njit(cache=True)
def _mean_energy(W, a, c, v, beta, n_burn, n_avg):
    h = np.zeros(W.shape[1])
    for _ in range(n_burn):
        sweep(W, a, c, v, h, beta)
    tot = 0.0
    for _ in range(n_avg):
        sweep(W, a, c, v, h, beta)
        tot += energy(W, a, c, v, h)
    return tot / n_avg


@numba.njit(cache=True)
def _ast(W, a, c, v, betas, g, n_keep, max_steps, gamma0, t0, out, visits):
    h = np.zeros(W.shape[1])
    K = betas.shape[0]
    k = 0
    kept = 0
    step = 0
    while kept < n_keep and step < max_steps:
        sweep(W, a, c, v, h, betas[k])
        e = energy(W, a, c, v, h)
        kp = k + 1 if np.random.random() < 0.5 else k - 1
        if 0 <= kp < K:
            logr = -(betas[kp] - betas[k]) * e + g[kp] - g[k]
            if logr >= 0 or np.random.random() < np.exp(logr):
                k = kp
        step += 1
        g[k] -= gamma0 * t0 / max(t0, step)
        visits[k] += 1
        if k == 0:
            for i in range(v.shape[0]):
                out[kept, i] = np.uint8(v[i])
            kept += 1
    return kept, step


def initial_log_weights(W, a, c, betas, v0, n_burn: int = 50, n_avg: int = 200) -> np.ndarray:
    """g_k ≈ −log Z(β_k) + const by thermodynamic integration over pilot chains (annealed from β_max)."""
    v = np.asarray(v0, np.float64).copy()
    order = np.argsort(-betas)
    means = np.zeros(betas.size)
    for k in order:
        means[k] = _mean_energy(W, a, c, v, float(betas[k]), n_burn, n_avg)
    b_sorted = betas[order]
    e_sorted = means[order]
    # log Z(β_k) − log Z(β_0) = −∫_{β_0}^{β_k} ⟨E⟩ dβ (trapezoid), β sorted decreasing from β_0 = max.
    logz = np.concatenate([[0.0], -np.cumsum(0.5 * (e_sorted[1:] + e_sorted[:-1]) * np.diff(b_sorted))])
    g = np.zeros(betas.size)
    g[order] = -logz
    return g


def default_betas(n_levels: int = 20, beta_min: float = 0.5) -> np.ndarray:
    """Inverse temperatures from 1 down to beta_min, evenly spaced (level 0 is β = 1)."""
    if n_levels < 2 or not 0 < beta_min < 1:
        raise InputError(f"tempering needs >= 2 levels and 0 < beta_min < 1, got {n_levels}, {beta_min}")
    return np.linspace(1.0, beta_min, n_levels)


def ast_samples(W, a, c, n_samples: int, seed: int = 0, betas=None, gamma0: float = 0.05, t0: float | None = None,
                pilot_burn: int = 50, pilot_avg: int = 200, max_sweeps: int | None = None, v0=None):
    """n_samples visible states (uint8) at β = 1 from one AST chain. Returns (v, stats) with stats:
    sweeps (including the pilot runs), unit_updates, wall_s, level visit fractions, final log weights."""
    betas = default_betas() if betas is None else np.asarray(betas, np.float64)
    if betas[0] != 1.0:
        raise InputError("tempering's first inverse temperature must be 1 (the samples kept)")
    W = np.ascontiguousarray(W, np.float64)
    a = np.asarray(a, np.float64)
    c = np.asarray(c, np.float64)
    K = betas.size
    t0 = 100.0 * K if t0 is None else t0
    max_sweeps = 200 * K * n_samples if max_sweeps is None else max_sweeps
    rng = np.random.default_rng(seed)
    v = (rng.random(a.size) < 0.5).astype(np.float64) if v0 is None else np.asarray(v0, np.float64).copy()
    t_start = time.perf_counter()
    seed_numba(int(rng.integers(2**31)))
    g = initial_log_weights(W, a, c, betas, v, pilot_burn, pilot_avg)
    out = np.zeros((n_samples, a.size), np.uint8)
    visits = np.zeros(K, np.int64)
    kept, steps = _ast(W, a, c, v, betas, g, n_samples, max_sweeps, gamma0, t0, out, visits)
    sweeps = steps + K * (pilot_burn + pilot_avg)
    stats = {"sweeps": int(sweeps), "unit_updates": int(sweeps * (a.size + c.size)),
             "operations": int(sweeps * 2 * a.size * c.size),
             "wall_s": time.perf_counter() - t_start, "level_visits": (visits / max(steps, 1)).tolist(),
             "log_weights": g.tolist(), "betas": betas.tolist()}
    return out[:kept], stats
