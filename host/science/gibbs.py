"""Block Gibbs sampling of an RBM (numba): h ~ p(h | v), then v ~ p(v | h) is one sweep; a sample is
the visible state after every k sweeps. One chain, as the spiking samplers run one network."""

from __future__ import annotations

import time

import numba
import numpy as np

from lifstp.errors import InputError


@numba.njit(cache=True)
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@numba.njit(cache=True)
def sweep(W, a, c, v, h, beta):
    """One block Gibbs sweep at inverse temperature beta, in place: h | v, then v | h."""
    nv, nh = W.shape
    for j in range(nh):
        s = c[j]
        for i in range(nv):
            if v[i]:
                s += W[i, j]
        h[j] = 1.0 if np.random.random() < _sigmoid(beta * s) else 0.0
    for i in range(nv):
        s = a[i]
        for j in range(nh):
            if h[j]:
                s += W[i, j]
        v[i] = 1.0 if np.random.random() < _sigmoid(beta * s) else 0.0


@numba.njit(cache=True)
def energy(W, a, c, v, h):
    """E(v, h) = −vᵀWh − aᵀv − cᵀh."""
    nv, nh = W.shape
    e = 0.0
    for i in range(nv):
        if v[i]:
            e -= a[i]
            for j in range(nh):
                if h[j]:
                    e -= W[i, j]
    for j in range(nh):
        if h[j]:
            e -= c[j]
    return e


@numba.njit(cache=True)
def seed_numba(seed):
    np.random.seed(seed)


@numba.njit(cache=True)
def _chain(W, a, c, v, n_samples, k, out, beta):
    """Run the chain; returns the multiply-adds an event-driven sweep would have spent (each active
    visible unit adds its row to the hidden inputs, each active hidden unit its column to the visible)."""
    nv, nh = W.shape
    h = np.zeros(nh)
    events = 0
    for s in range(n_samples):
        for _ in range(k):
            events += nh * int(v.sum())
            sweep(W, a, c, v, h, beta)
            events += nv * int(h.sum())
        for i in range(v.shape[0]):
            out[s, i] = np.uint8(v[i])
    return events


def gibbs_samples(W, a, c, n_samples: int, k: int = 1, seed: int = 0, v0=None, burn_in_sweeps: int = 0,
                  beta: float = 1.0):
    """n_samples visible states (uint8) of one block Gibbs chain at inverse temperature beta, k sweeps
    apart; returns (v, stats) with stats: sweeps, unit_updates (sweeps × all units), operations (the
    multiply-adds of dense sweeps: 2·n_visible·n_hidden each), event_operations (those an event-driven
    sweep needs: only active units' weights), wall_s."""
    if k < 1 or n_samples < 1:
        raise InputError(f"Gibbs needs k >= 1 sweeps per sample and >= 1 samples, got k={k}, n={n_samples}")
    if not 0 < beta <= 1:
        raise InputError(f"Gibbs's inverse temperature must be in (0, 1], got {beta}")
    W = np.ascontiguousarray(W, np.float64)
    a = np.asarray(a, np.float64)
    c = np.asarray(c, np.float64)
    rng = np.random.default_rng(seed)
    v = (rng.random(a.size) < 0.5).astype(np.float64) if v0 is None else np.asarray(v0, np.float64).copy()
    out = np.zeros((n_samples, a.size), np.uint8)
    t0 = time.perf_counter()
    seed_numba(int(rng.integers(2**31)))
    events = 0
    if burn_in_sweeps:
        events += _chain(W, a, c, v, 1, burn_in_sweeps, np.zeros((1, a.size), np.uint8), beta)
    events += _chain(W, a, c, v, n_samples, k, out, beta)
    sweeps = n_samples * k + burn_in_sweeps
    return out, {"sweeps": sweeps, "unit_updates": sweeps * (a.size + c.size),
                 "operations": sweeps * 2 * a.size * c.size, "event_operations": int(events),
                 "wall_s": time.perf_counter() - t0}
