"""Plots written to files (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_activation(cal, path) -> Path:
    """Measured p_on against the leak potential, with the fitted logistic."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(cal.e_l_mv, cal.p_on, "o", ms=3, label="measured")
    x = np.linspace(cal.e_l_mv.min(), cal.e_l_mv.max(), 300)
    ax.plot(x, cal.predict(x), "-", label=f"σ((E_L − {cal.v_p05_mv:.2f}) / {cal.alpha_mv:.3f})")
    ax.set_xlabel("leak potential E_L (mV)")
    ax.set_ylabel("p_on")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_distributions(p_exact, samples: dict, path, title: str = "") -> Path:
    """Exact and sampled joint distributions over state codes, one bar group per state."""
    n_states = len(p_exact)
    n_units = int(np.log2(n_states))
    fig, ax = plt.subplots(figsize=(max(6, n_states * 0.3), 3.5))
    width = 0.8 / (1 + len(samples))
    x = np.arange(n_states)
    ax.bar(x, p_exact, width, label="exact", color="k")
    for k, (name, q) in enumerate(samples.items(), start=1):
        ax.bar(x + k * width, q, width, label=name)
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels([format(c, f"0{n_units}b")[::-1] for c in range(n_states)], rotation=90, fontsize=6)
    ax.set_xlabel("state z_0 … z_{n−1}")
    ax.set_ylabel("p(z)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_kl_curves(durations_ms, curves: dict, path, title: str = "") -> Path:
    """D_KL against sampling time, one line per sampler (median with quartile band)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, kls in curves.items():
        kls = np.asarray(kls)  # durations × machines
        med = np.median(kls, axis=1)
        ax.loglog(durations_ms, med, "o-", label=name)
        ax.fill_between(durations_ms, np.percentile(kls, 25, axis=1), np.percentile(kls, 75, axis=1), alpha=0.25)
    ax.set_xlabel("sampling time (ms of model time)")
    ax.set_ylabel("D_KL(p_exact ‖ p_sampled)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def plot_raster(spike_tick, spike_neuron, dt_ms: float, path, max_ms: float = 500.0) -> Path:
    """Spike raster of the first `max_ms` of a run."""
    t_ms = np.asarray(spike_tick) * dt_ms
    keep = t_ms < max_ms
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(t_ms[keep], np.asarray(spike_neuron)[keep], "|", ms=6)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    return _save(fig, path)


def plot_states(states: np.ndarray, dt_ms: float, every_ticks: int, path, max_samples: int = 400) -> Path:
    """Sampled states (samples × units, 0/1) as an image: units down, samples across."""
    states = np.asarray(states)[:max_samples]
    fig, ax = plt.subplots(figsize=(7, 0.25 * states.shape[1] + 1.2))
    t_end = states.shape[0] * every_ticks * dt_ms
    ax.imshow(states.T, aspect="auto", interpolation="nearest", cmap="Greys", extent=(0, t_end, states.shape[1] - 0.5, -0.5))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("unit")
    ax.set_title(f"states read every {every_ticks * dt_ms:g} ms", fontsize=9)
    return _save(fig, path)


def plot_fit(fit, path) -> Path:
    """Convergence of a network-specific fit: the device's errors in unit means and pairwise
    co-activations at each step, with the averaged machine's final errors."""
    steps = [s.step for s in fit.history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(steps, [s.mean_error for s in fit.history], "o-", ms=3, label="unit means (MAE)")
    ax.semilogy(steps, [max(s.pair_error, 1e-6) for s in fit.history], "s-", ms=3, label="co-activations (MAE)")
    end = steps[-1] + 1 if steps else 0
    ax.semilogy([end], [fit.final_mean_error], "o", color="C0", ms=8, mfc="none", label="final, averaged: means")
    ax.semilogy([end], [max(fit.final_pair_error, 1e-6)], "s", color="C1", ms=8, mfc="none",
                label="final, averaged: co-activations")
    ax.axhline(fit.settings.tolerance, color="0.5", ls="--", lw=1, label=f"tolerance {fit.settings.tolerance:g}")
    ax.set_xlabel("fit step")
    ax.set_ylabel("error against the reference")
    ax.set_title(f"fit against {fit.reference_source}", fontsize=7)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)
