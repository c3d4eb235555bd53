"""The float reference against NEST 3.10 (iaf_psc_exp, poisson_generator, tsodyks2_synapse) on the
same networks, built by the benchmark's NEST script (bench/peers/nest_lif.py).

Conventions pinned (docs/model.md): NEST t_ref = (tau_ref_ticks - 1)·dt = 9.9 ms; every delay is one
tick; tsodyks2_synapse sends w·u·x and then updates (NEST 3 order) with weight w/U, u = U, x = 1;
V_m starts at E_L; a spike emitted in tick k has NEST time (k + 1)·dt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lifstp.bench
from lifstp.golden_model.reference import FloatCore
from lifstp.golden_model.spec import ModelParams

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import assert_curves_agree  # noqa: E402

NEST_SCRIPT = Path(lifstp.bench.__file__).resolve().parent / "peers" / "nest_lif.py"
DT = 0.1


def run_nest(tmp_path, *args: str):
    spikes = tmp_path / "nest_spikes.npz"
    proc = subprocess.run([sys.executable, str(NEST_SCRIPT), *args, "--spikes-out", str(spikes)],
                          capture_output=True, text=True, timeout=600, env={"PYNEST_QUIET": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    z = np.load(spikes)
    return json.loads(proc.stdout.strip().splitlines()[-1]), z["t_ms"], z["i"]


def bench_weights_pa(n, sigma_na, seed):
    w = np.random.default_rng(seed).normal(0.0, sigma_na, size=(n, n)) * 1000.0
    np.fill_diagonal(w, 0.0)
    return w


def float_spikes_ms(core: FloatCore, n_ticks: int):
    t, i = core.run(n_ticks)
    t_ms = (t + 1.0) * DT
    order = np.lexsort((i, t_ms))
    return t_ms[order], i[order].astype(np.int64)


@pytest.mark.parametrize("e_l,sigma,u,tau_rec", [
    (-49.9, 0.05, 0.5, 50.0),
    (-45.0, 0.5, 0.5, 50.0),
    (-45.0, 2.0, 1.0, 10.0),
    (-49.9, 0.3, 0.2, 100.0),
])
def test_without_noise_float_reference_equals_nest_spike_for_spike(tmp_path, e_l, sigma, u, tau_rec):
    """Deterministic recurrent networks with depression (background off): the same spikes at the same
    times, which pins the order of updates, the refractory convention and the STP order."""
    n, t_ms, seed = 100, 300.0, 3
    _, nest_t, nest_i = run_nest(tmp_path, "--n", str(n), "--duration-ms", str(t_ms), "--seed", str(seed),
                                 "--bg-rate-hz", "0", "--e-l-mv", str(e_l), "--dense-weight-std", str(sigma),
                                 "--stp-u", str(u), "--stp-tau-rec-ms", str(tau_rec))
    params = ModelParams(noise_rate_exc_hz=0.0, noise_rate_inh_hz=0.0, stp_u=u, stp_tau_rec_ms=tau_rec)
    core = FloatCore(params, np.full(n, e_l), bench_weights_pa(n, sigma, seed))
    ft, fi = float_spikes_ms(core, int(round(t_ms / DT)))
    assert nest_t.size > 200
    assert ft.size == nest_t.size
    np.testing.assert_allclose(ft, nest_t, atol=1e-6)
    np.testing.assert_array_equal(fi, nest_i)


def test_activation_curve_agrees_with_nest(tmp_path):
    """Uncoupled neurons under the Poisson background, leak potential swept over 50 s: the fitted
    logistic (v_p05, alpha) agrees within 0.06 mV and 3 %, and every point within 0.06 in p_on.
    Tolerances are ~3.5 standard deviations of the difference of two independent runs (measured over
    8 seeds of the float model: sd 0.012 mV for v_p05, 0.5 % for alpha, <= 0.012 per point)."""
    n, t_ms, lo, hi = 40, 50_000.0, -56.0, -46.0
    _, _, nest_i = run_nest(tmp_path, "--n", str(n), "--duration-ms", str(t_ms), "--seed", "4", "--no-recurrent",
                            "--e-l-sweep", str(lo), str(hi))
    e_l = np.linspace(lo, hi, n)
    core = FloatCore(ModelParams(), e_l, np.zeros((n, n)), seed=4)
    n_ticks = int(round(t_ms / DT))
    _, fi = core.run(n_ticks)
    tau_ref_ticks = ModelParams().tau_ref_ticks
    p_nest = np.bincount(nest_i, minlength=n) * tau_ref_ticks / n_ticks
    p_float = np.bincount(fi, minlength=n) * tau_ref_ticks / n_ticks
    assert_curves_agree(e_l, p_nest, p_float, ("NEST", "float"))


def test_recurrent_rates_with_depression_agree_with_nest(tmp_path):
    """A dense random network with noise and depression (U = 0.2, tau_rec = 100 ms): mean rate within
    3 %, and per-neuron spike counts consistent with independent Poisson-like estimates."""
    n, t_ms, sigma, seed = 100, 20_000.0, 0.05, 5
    res, _, nest_i = run_nest(tmp_path, "--n", str(n), "--duration-ms", str(t_ms), "--seed", str(seed),
                              "--dense-weight-std", str(sigma), "--stp-u", "0.2", "--stp-tau-rec-ms", "100")
    params = ModelParams(stp_u=0.2, stp_tau_rec_ms=100.0)
    core = FloatCore(params, np.full(n, -53.0), bench_weights_pa(n, sigma, seed), seed=seed)
    _, fi = core.run(int(round(t_ms / DT)))
    cn = np.bincount(nest_i, minlength=n).astype(float)
    cf = np.bincount(fi, minlength=n).astype(float)
    print(f"NEST {cn.sum() / n / t_ms * 1e3:.2f} Hz, float {cf.sum() / n / t_ms * 1e3:.2f} Hz")
    assert cn.sum() > 10_000
    assert abs(cf.sum() / cn.sum() - 1) < 0.03
    z = (cf - cn) / np.sqrt(cf + cn + 1.0)
    assert np.abs(z).max() < 5.0
