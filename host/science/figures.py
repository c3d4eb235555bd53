"""Figures of the science experiments (PNG, matplotlib without a screen)."""

from __future__ import annotations

import numpy as np

from lifstp.plots import _save, plt

from .measures import CONFIDENCE, class_frequencies, classify


def plot_class_traces(samples: dict, clf, n_pixels: int, path, max_samples: int = 2000):
    """Class of each sample against sample index, one row per sampler (confident samples dark)."""
    fig, axes = plt.subplots(len(samples), 1, figsize=(8, 1.3 * len(samples) + 0.6), sharex=True, squeeze=False)
    for ax, (name, v) in zip(axes[:, 0], samples.items()):
        cls, conf = classify(clf, v[:max_samples, :n_pixels])
        idx = np.arange(len(cls))
        ax.plot(idx[conf <= CONFIDENCE], cls[conf <= CONFIDENCE], ".", ms=1.5, color="0.75")
        ax.plot(idx[conf > CONFIDENCE], cls[conf > CONFIDENCE], ".", ms=2.5, color="C0")
        ax.set_ylabel(name, fontsize=8)
        ax.set_yticks(range(10))
        ax.tick_params(labelsize=6)
    axes[-1, 0].set_xlabel("sample")
    return _save(fig, path)


def plot_isl(per_seed: list, path):
    """ISL against the number of samples (left) and against compute in operations (right: neuron
    updates plus synaptic events for spiking samplers, multiply-adds of the sweeps for Gibbs and
    tempering), one line per sampler (mean over seeds, error bar = std)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4), sharey=True)
    names = [n for n in per_seed[0] if n != "_meta"]
    colours = plt.get_cmap("tab20").colors
    for k, name in enumerate(names):
        ns = sorted(per_seed[0][name].isl)
        vals = np.array([[ps[name].isl[n] for n in ns] for ps in per_seed])
        per_sample = np.mean([ps[name].operations / ps[name].n_samples for ps in per_seed])
        style = dict(marker="s" if name.startswith("lif") else "o", ls="--" if name.startswith("lif") else "-",
                     color=colours[(2 * k) % 20 + (2 * k) // 20], capsize=2, label=name)
        for ax, x in ((axes[0], ns), (axes[1], np.array(ns) * per_sample)):
            ax.errorbar(x, vals.mean(axis=0), yerr=vals.std(axis=0), **style)
    axes[0].set_xlabel("number of samples")
    axes[1].set_xlabel("compute (operations)")
    axes[0].set_ylabel("ISL of held-out images (nats)")
    for ax in axes:
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: 12 samplers
    return _save(fig, path)


def plot_sample_grid(samples: dict, n_pixels: int, path, n_show: int = 20, every: int = 10):
    """Consecutive samples (every `every`-th) of each sampler as 8×8 images."""
    side = int(round(np.sqrt(n_pixels)))
    fig, axes = plt.subplots(len(samples), n_show, figsize=(n_show * 0.45, len(samples) * 0.55), squeeze=False)
    for r, (name, v) in enumerate(samples.items()):
        for c in range(n_show):
            ax = axes[r, c]
            k = c * every
            if k < len(v):
                ax.imshow(v[k, :n_pixels].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=6, rotation=0, ha="right")
    return _save(fig, path)


def plot_class_frequencies(samples: dict, clf, n_pixels: int, train_freq, path, title: str = "", model=None):
    """Generated class frequencies of each sampler next to the training frequencies and (if given) the
    model's own, from its reference sampler."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    refs = [("training", train_freq, "k")] + ([("model (reference)", model, "0.55")] if model is not None else [])
    width = 0.8 / (len(refs) + len(samples))
    x = np.arange(10)
    for k, (label, freq, colour) in enumerate(refs):
        ax.bar(x + k * width, freq, width, color=colour, label=label)
    for k, (name, v) in enumerate(samples.items(), start=len(refs)):
        ax.bar(x + k * width, class_frequencies(classify(clf, v[:, :n_pixels])[0]), width, label=name)
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels([str(i) for i in x])
    ax.set_xlabel("class")
    ax.set_ylabel("frequency")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_sweep(result: dict, isl_key: str, path):
    """Maps over U × τ_rec: confident switches per 1000 samples and ISL."""
    us, taus = result["U"], result["tau_rec_ms"]
    sw = np.array([[result["grid"][f"{u:g},{t:g}"].confident_switches_per_1000 for t in taus] for u in us])
    il = np.array([[result["grid"][f"{u:g},{t:g}"].isl[int(isl_key)] for t in taus] for u in us])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, data, label in ((axes[0], sw, "confident switches / 1000 samples"), (axes[1], il, f"ISL@{isl_key} (nats)")):
        im = ax.imshow(data, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(taus)))
        ax.set_xticklabels([f"{t:g}" for t in taus])
        ax.set_yticks(range(len(us)))
        ax.set_yticklabels([f"{u:g}" for u in us])
        ax.set_xlabel("τ_rec (ms)")
        ax.set_ylabel("U")
        ax.set_title(label, fontsize=9)
        fig.colorbar(im, ax=ax)
        for i in range(len(us)):
            for j in range(len(taus)):
                ax.text(j, i, f"{data[i, j]:.3g}", ha="center", va="center", fontsize=6, color="w")
        # The chosen default and the paper's point, where they lie on the grid.
        for key, marker, name in (("chosen", "s", "default"), ("paper", "D", "paper")):
            point = result.get(key)
            if point and point[0] in us and point[1] in taus:
                ax.plot(taus.index(point[1]), us.index(point[0]), marker, mfc="none", mec="r", ms=14, mew=1.5,
                        label=f"{name} U={point[0]:g}, τ_rec={point[1]:g}")
        if ax.get_legend_handles_labels()[0]:  # below the map, so that no cell is hidden
            ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return _save(fig, path)
