"""The golden model: determinism, agreement with the float reference, STP against its closed form,
saturation reported, formats validated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.reference import FloatCore
from lifstp.golden_model.rng import seed_states, xorshift64_step
from lifstp.golden_model.spec import (ClampMode, Formats, ModelError, ModelParams, quantise,
                                      quantise_potentials, quantise_weights)

from foundation import assert_counts_agree  # tests/foundation.py


def make_pair(params, e_l_mv, weights_pa, clamp=None, seed=0, formats=None):
    fmt = formats or Formats()
    fixed = quantise(params, fmt)
    w, clipped = quantise_weights(weights_pa, params, fmt)
    assert clipped == 0
    golden = GoldenCore(fixed, quantise_potentials(e_l_mv, fmt), w, clamp, seed)
    ref = FloatCore(params, e_l_mv, weights_pa, clamp, seed)
    return golden, ref


def random_network(n, rng, w_std_pa=150.0):
    e_l = rng.uniform(-54.0, -48.0, n)
    w = rng.normal(0.0, w_std_pa, (n, n))
    np.fill_diagonal(w, 0.0)
    return e_l, w


def test_same_seed_same_run_other_seed_other_run():
    rng = np.random.default_rng(3)
    e_l, w = random_network(30, rng)
    params = ModelParams(stp_u=0.3, stp_tau_rec_ms=100.0)
    runs = []
    for seed in (7, 7, 8):
        g, _ = make_pair(params, e_l, w, seed=seed)
        t, n = g.run(20_000)
        runs.append((t, n, g.snapshot()))
    (t1, n1, s1), (t2, n2, s2), (t3, n3, _) = runs
    assert len(t1) > 100
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(n1, n2)
    for field in ("v", "u", "ref", "res", "rng", "acc"):
        np.testing.assert_array_equal(getattr(s1, field), getattr(s2, field))
    assert len(t1) != len(t3) or not np.array_equal(n1, n3)


def test_running_in_pieces_equals_one_run():
    rng = np.random.default_rng(4)
    e_l, w = random_network(20, rng)
    g1, _ = make_pair(ModelParams(), e_l, w, seed=1)
    g2, _ = make_pair(ModelParams(), e_l, w, seed=1)
    t1, n1 = g1.run(5000)
    parts = [g2.run(k) for k in (1, 999, 3000, 1000)]
    np.testing.assert_array_equal(t1, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(n1, np.concatenate([p[1] for p in parts]))


def test_xorshift64_known_values_and_seeding():
    # Reference values computed with Python integers, independently of the numba code.
    x = 1
    for _ in range(3):
        x ^= (x << 13) & (2**64 - 1)
        x ^= x >> 7
        x ^= (x << 17) & (2**64 - 1)
    y = np.uint64(1)
    for _ in range(3):
        y = xorshift64_step(y)
    assert int(y) == x
    s = seed_states(5, 1000)
    assert len(np.unique(s)) == 1000 and np.all(s != 0)
    assert not np.array_equal(seed_states(5, 10), seed_states(6, 10))


def test_membrane_follows_float_reference_on_the_same_noise():
    """A neuron that never fires (clamped OFF): V and u of the fixed-point model track the float model
    to well under a microvolt-scale budget over 10^4 ticks, on the same noise draws."""
    n = 8
    e_l = np.linspace(-60.0, -45.0, n)
    g, f = make_pair(ModelParams(), e_l, np.zeros((n, n)), clamp=np.full(n, ClampMode.OFF), seed=11)
    scale = 2.0 ** -Formats().frac_v
    worst_v = worst_u = 0.0
    vs = []
    for _ in range(100):
        g.run(100)
        f.run(100)
        worst_v = max(worst_v, np.abs(g.v * scale - f.v).max())
        worst_u = max(worst_u, np.abs(g.u * scale - f.u).max())
        vs.append(f.v.copy())
    # Quantised kappas and noise weights (relative error ~1e-4) over a ~2 mV noise: <= 2e-3 mV.
    assert worst_v < 2e-3, worst_v
    assert worst_u < 2e-4, worst_u
    vs = np.array(vs)
    assert vs.std(axis=0).min() > 0.5  # the comparison covered a noisy membrane, not a flat line


def test_rates_and_membrane_statistics_agree_with_float_reference():
    """A recurrent network with depression: per-neuron firing rates of the fixed-point and float models
    agree within Poisson error; free-membrane statistics within 1 %."""
    rng = np.random.default_rng(9)
    n = 40
    e_l, w = random_network(n, rng)
    params = ModelParams(stp_u=0.2, stp_tau_rec_ms=200.0)
    ticks = 200_000  # 20 s
    g, f = make_pair(params, e_l, w, seed=5)
    _, gn = g.run(ticks)
    _, fn = f.run(ticks)
    cg = np.bincount(gn, minlength=n).astype(float)
    cf = np.bincount(fn, minlength=n).astype(float)
    assert cg.sum() > 20_000
    assert_counts_agree(cg, cf)  # the runs decorrelate (chaotic spiking): independent samples
    # Free membrane (clamped OFF), long run: mean and standard deviation.
    e_l2 = np.full(4, -52.0)
    g2, f2 = make_pair(params, e_l2, np.zeros((4, 4)), clamp=np.full(4, ClampMode.OFF), seed=2)
    gv, fv = [], []
    for _ in range(2000):
        g2.run(10)
        f2.run(10)
        gv.append(g2.v * 2.0 ** -16)
        fv.append(f2.v.copy())
    gv, fv = np.array(gv), np.array(fv)
    assert abs(gv.mean() - fv.mean()) < 0.01 * fv.std()
    assert abs(gv.std() / fv.std() - 1) < 0.01


def closed_form_resources(u, tau_rec_ms, interval_ms, n_spikes):
    """R sent with each of n_spikes regular spikes (R starts at 1): R_{k+1} = 1 − (1 − R_k(1 − U))·e^{−Δ/τ}."""
    d = math.exp(-interval_ms / tau_rec_ms)
    r, out = 1.0, []
    for _ in range(n_spikes):
        out.append(r)
        r = 1.0 - (1.0 - r * (1.0 - u)) * d
    return np.array(out)


@pytest.mark.parametrize("u,tau_rec", [(0.01, 280.0), (0.2, 100.0), (1.0, 10.0), (0.5, 1000.0)])
def test_stp_resource_trajectory_matches_closed_form(u, tau_rec):
    """A neuron clamped ON fires every tau_ref; the efficacy of each spike follows the closed-form
    recursion, converging to R* = (1 − e^{−Δ/τ}) / (1 − (1 − U)e^{−Δ/τ})."""
    params = ModelParams(stp_u=u, stp_tau_rec_ms=tau_rec)
    fmt = Formats()
    g, _ = make_pair(params, np.array([-60.0]), np.zeros((1, 1)), clamp=np.array([ClampMode.ON]), seed=1)
    ticks, _, eff = g.run_with_efficacy(100 * 600)  # 600 spikes, 6 s
    assert len(ticks) == 600
    np.testing.assert_array_equal(np.diff(ticks), params.tau_ref_ticks)
    measured = eff / 2.0 ** fmt.frac_e
    expected = closed_form_resources(u, tau_rec, params.tau_ref_ms, 600)
    # Budget: kappa_rec to 24 bits, R's recovery stall (<= 3e-4 at tau_rec = 1000 ms), e to 16 bits.
    np.testing.assert_allclose(measured, expected, atol=4e-4, rtol=0)
    d = math.exp(-params.tau_ref_ms / tau_rec)
    r_star = (1 - d) / (1 - (1 - u) * d)
    assert abs(measured[-1] - r_star) < 4e-4


def test_saturation_is_counted_not_wrapped():
    n = 64
    params = ModelParams()
    fmt = Formats()
    fixed = quantise(params, fmt)
    e_l = quantise_potentials(np.full(n, -60.0), fmt)
    weights = np.full((n, n), fmt.w_max, dtype=np.int64)
    g = GoldenCore(fixed, e_l, weights, np.full(n, ClampMode.ON), seed=0)
    g.run(2)  # tick 0: all fire; tick 1: their input lands in u
    status = g.status()
    assert status["saturated_u"] > 0
    assert g.u.max() == fmt.v_max  # clipped at the top of the format, not wrapped negative
    assert status["saturated_v"] > 0 or g.v.max() <= fmt.v_max


def test_weights_beyond_the_format_are_clipped_and_counted():
    fmt = Formats()
    params = ModelParams()
    big = 1.5 * fmt.w_max / (params.p21_mv_per_pa * 2**fmt.frac_w)
    q, clipped = quantise_weights(np.array([[0.0, big], [-big, 0.0]]), params, fmt)
    assert clipped == 2
    assert q[0, 1] == fmt.w_max and q[1, 0] == fmt.w_min


@pytest.mark.parametrize("kwargs,needle", [
    ({"width_v": 20}, "width_v"),
    ({"frac_e": 30}, "frac_e"),
    ({"frac_w": 2, "frac_e": 4}, "negative"),
    ({"frac_k": 40}, "62"),
])
def test_bad_formats_are_named(kwargs, needle):
    with pytest.raises(ModelError, match=needle):
        Formats(**kwargs)


def test_format_presets_and_their_multipliers():
    """dsp18's every operand fits a signed 18-bit multiplier input and the defaults' do not (27 bits:
    E_L - V); an unknown preset's name gets the list of presets."""
    from lifstp.golden_model.spec import FORMAT_PRESETS, format_preset, preset_name

    assert format_preset("dsp18").widest_signed_operand() == 18
    assert Formats().widest_signed_operand() == 27 and preset_name(Formats()) == "default"
    assert preset_name(Formats(frac_w=11)) is None
    assert all(p.bits <= 62 for f in FORMAT_PRESETS.values() for p in f.products())
    with pytest.raises(ModelError, match="unknown formats 'dsp9'; presets: default, dsp18"):
        format_preset("dsp9")


@pytest.mark.parametrize("kwargs,needle", [
    ({"tau_m_ms": 0.0}, "tau_m_ms"),
    ({"stp_u": 1.5}, "stp_u"),
    ({"v_reset_mv": -40.0}, "v_reset_mv"),
    ({"noise_rate_exc_hz": float("nan")}, "noise_rate_exc_hz"),
])
def test_bad_parameters_are_named(kwargs, needle):
    with pytest.raises(ModelError, match=needle):
        ModelParams(**kwargs)


def test_active_count_skips_the_padding_and_keeps_the_spikes():
    """n_active = k: neurons k..N-1 keep their state (a padded network's spikes are the same as with
    every neuron updated); the active ones still fire, and n_active = 0 means all N."""
    import dataclasses

    rng = np.random.default_rng(4)
    n, k = 12, 7
    params = ModelParams(stp_u=0.5)
    fmt = Formats()
    e_l_mv = np.full(n, -70.0)
    w_pa = np.zeros((n, n))
    e_l_mv[:k], w_pa[:k, :k] = random_network(k, rng)
    clamp = np.full(n, int(ClampMode.OFF))
    clamp[:k] = int(ClampMode.FREE)
    fixed = quantise(params, fmt)
    w, _ = quantise_weights(w_pa, params, fmt)
    cores = [GoldenCore(dataclasses.replace(fixed, n_active=a), quantise_potentials(e_l_mv, fmt), w, clamp, seed=3)
             for a in (0, k, n)]
    start = cores[1].snapshot()
    runs = [c.run(3000) for c in cores]
    assert len(runs[0][0]) > 100
    for t, j in runs[1:]:
        np.testing.assert_array_equal(t, runs[0][0])
        np.testing.assert_array_equal(j, runs[0][1])
    end = cores[1].snapshot()
    for name in ("v", "u", "ref", "res", "rng", "acc"):
        np.testing.assert_array_equal(getattr(end, name)[k:], getattr(start, name)[k:], err_msg=name)
        assert not np.array_equal(getattr(end, "rng")[:k], getattr(start, "rng")[:k])
    assert not np.array_equal(cores[0].snapshot().rng[k:], start.rng[k:])  # all N updated: the padding's generators ran
