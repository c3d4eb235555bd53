"""Classical samplers against exact enumeration: block Gibbs and adaptive simulated tempering on an
RBM small enough to enumerate (6 visible + 4 hidden units)."""

from __future__ import annotations

import numpy as np
import pytest

from lifstp.errors import InputError
from lifstp.science.gibbs import gibbs_samples
from lifstp.science.rbm import RBM
from lifstp.science.tempering import ast_samples, default_betas


def small_rbm(seed=3, nv=6, nh=4, scale=1.0):
    rng = np.random.default_rng(seed)
    return RBM(rng.normal(0, scale, (nv, nh)), rng.normal(0, 0.5, nv), rng.normal(0, 0.5, nh), n_pixels=nv - 2,
               n_labels=2)


def exact_visible(rbm):
    nv = rbm.n_visible
    states = ((np.arange(1 << nv)[:, None] >> np.arange(nv)) & 1).astype(float)
    logp = -rbm.free_energy(states)
    p = np.exp(logp - logp.max())
    return p / p.sum()


def empirical(v):
    codes = (v.astype(np.int64) << np.arange(v.shape[1])).sum(axis=1)
    return np.bincount(codes, minlength=1 << v.shape[1]) / len(codes)


def test_free_energy_matches_full_enumeration():
    from lifstp.bm import exact_distribution

    rbm = small_rbm()
    p_full = exact_distribution(rbm.to_bm())  # unit k = bit k; visible units are the low bits
    p_v = p_full.reshape(1 << rbm.n_hidden, 1 << rbm.n_visible).sum(axis=0)
    np.testing.assert_allclose(p_v, exact_visible(rbm), rtol=1e-9)


def test_gibbs_matches_exact_distribution():
    rbm = small_rbm()
    v, stats = gibbs_samples(rbm.W, rbm.a, rbm.c, 100_000, k=1, seed=1)
    tv = 0.5 * np.abs(empirical(v) - exact_visible(rbm)).sum()
    assert tv < 0.03, tv
    assert stats["sweeps"] == 100_000


def test_tempering_matches_exact_distribution_and_visits_all_levels():
    rbm = small_rbm(seed=5, scale=2.0)  # strong weights: separated modes
    v, stats = ast_samples(rbm.W, rbm.a, rbm.c, 40_000, seed=2, betas=default_betas(8, 0.5))
    assert len(v) == 40_000
    tv = 0.5 * np.abs(empirical(v) - exact_visible(rbm)).sum()
    assert tv < 0.04, tv
    visits = np.array(stats["level_visits"])
    assert visits.min() > 0.5 / len(visits), visits


def test_bad_sampler_arguments():
    rbm = small_rbm()
    with pytest.raises(InputError):
        gibbs_samples(rbm.W, rbm.a, rbm.c, 10, k=0)
    with pytest.raises(InputError):
        ast_samples(rbm.W, rbm.a, rbm.c, 10, betas=[0.9, 0.5])
