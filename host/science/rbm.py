"""Restricted Boltzmann machines with label units: training by persistent contrastive divergence,
the exact label posterior, and the machine file (BM.npz plus unit groups and training metadata).

Unit order in the full machine: pixels, labels (together the visible layer), then hidden units.
Energy convention of host/bm.py: p(v, h) ∝ exp(vᵀWh + aᵀv + cᵀh), so the full BM has
W_full = [[0, W], [Wᵀ, 0]] and b_full = [a, c].
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from lifstp.bm import BoltzmannMachine, load as load_bm, save as save_bm
from lifstp.errors import InputError
from lifstp.progress import progress_bar

from .digits import N_CLASSES, ImageSet, augment_shifts, visible_vectors

GROUP_KEYS = ("pixel_units", "label_units", "hidden_units")


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softplus(x):
    return np.logaddexp(0.0, x)


@dataclass
class RBM:
    """W (visible × hidden), a (visible biases), c (hidden biases); the first n_pixels visible units
    are pixels, the next n_labels are label units."""

    W: np.ndarray
    a: np.ndarray
    c: np.ndarray
    n_pixels: int
    n_labels: int = N_CLASSES
    meta: dict = field(default_factory=dict)

    @property
    def n_visible(self) -> int:
        return self.a.size

    @property
    def n_hidden(self) -> int:
        return self.c.size

    @property
    def n(self) -> int:
        return self.n_visible + self.n_hidden

    def groups(self) -> dict:
        nv, npx = self.n_visible, self.n_pixels
        return {"pixel_units": np.arange(npx), "label_units": np.arange(npx, nv),
                "hidden_units": np.arange(nv, self.n)}

    def to_bm(self) -> BoltzmannMachine:
        nv, n = self.n_visible, self.n
        W = np.zeros((n, n))
        W[:nv, nv:] = self.W
        W[nv:, :nv] = self.W.T
        return BoltzmannMachine(W, np.concatenate([self.a, self.c]))

    def energy(self, v, h):
        """E(v, h) = −vᵀWh − aᵀv − cᵀh, rows of v and h."""
        return -(np.einsum("si,ij,sj->s", v, self.W, h) + v @ self.a + h @ self.c)

    def free_energy(self, v):
        """F(v) = −aᵀv − Σ_j softplus(c_j + vᵀW_j): p(v) ∝ exp(−F(v))."""
        return -(v @ self.a) - softplus(v @ self.W + self.c).sum(axis=1)

    def label_log_posterior(self, pixels) -> np.ndarray:
        """log p(label | pixels) for every label (samples × n_labels), exact: hidden units summed out,
        labels one-hot: p(y | x) ∝ exp(a_y) Π_j (1 + exp(c_j + W_x,j·x + W_y,j))."""
        pixels = np.asarray(pixels, dtype=np.float64)
        npx = self.n_pixels
        base = pixels @ self.W[:npx] + self.c  # samples × hidden
        wl = self.W[npx:npx + self.n_labels]  # labels × hidden
        logit = self.a[npx:npx + self.n_labels][None, :] + softplus(base[:, None, :] + wl[None]).sum(axis=2)
        return logit - np.logaddexp.reduce(logit, axis=1, keepdims=True)

    def classify(self, pixels) -> np.ndarray:
        return np.argmax(self.label_log_posterior(pixels), axis=1)

    def accuracy(self, data: ImageSet) -> float:
        return float(np.mean(self.classify(data.x) == data.y))


@dataclass
class TrainConfig:
    """PCD settings. lr decays linearly from lr to lr·lr_final_fraction over the epochs; momentum rises
    from momentum_start to momentum after momentum_switch_epoch; disc_weight adds that multiple of the
    exact discriminative gradient ∇ log p(y | x) (hybrid training, Larochelle & Bengio 2008; 0 = purely
    generative); augment trains on the images and their one-pixel shifts (digits.augment_shifts)."""

    n_hidden: int = 100
    epochs: int = 150
    batch_size: int = 32
    lr: float = 0.05
    lr_final_fraction: float = 0.05
    momentum_start: float = 0.5
    momentum: float = 0.9
    momentum_switch_epoch: int = 5
    weight_decay: float = 1e-4
    n_chains: int = 100
    disc_weight: float = 2.0
    augment: bool = False
    seed: int = 0

    def __post_init__(self):
        for name in ("n_hidden", "epochs", "batch_size", "n_chains"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise InputError(f"learning rate must be positive, got {self.lr}")


def _disc_grad(rbm: RBM, x, y):
    """Exact gradient of mean log p(y | x) w.r.t. (W, a, c) for a batch."""
    npx, nl = rbm.n_pixels, rbm.n_labels
    base = x @ rbm.W[:npx] + rbm.c
    act = sigmoid(base[:, None, :] + rbm.W[npx:npx + nl][None])  # batch × labels × hidden
    logp = rbm.label_log_posterior(x)
    p = np.exp(logp)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    h_true = act[np.arange(len(y)), y]  # batch × hidden
    h_mean = np.einsum("bl,blh->bh", p, act)
    dh = h_true - h_mean
    gW = np.zeros_like(rbm.W)
    gW[:npx] = x.T @ dh
    gW[npx:npx + nl] = np.einsum("bl,blh->lh", onehot - p, act)
    ga = np.zeros_like(rbm.a)
    ga[npx:npx + nl] = (onehot - p).sum(axis=0)
    gc = dh.sum(axis=0)
    n = len(y)
    return gW / n, ga / n, gc / n


def train_pcd(train: ImageSet, config: TrainConfig, test: ImageSet | None = None,
              show_progress: bool = False, negative_phase=None) -> RBM:
    """Train an RBM with label units on `train` by persistent contrastive divergence (one Gibbs sweep
    of n_chains persistent chains per update), momentum, L2 weight decay and a linear lr schedule.

    negative_phase(rbm) -> (v, h), if given, replaces the persistent chains: binary visible and hidden
    states sampled from the current machine by some other sampler (the spiking network on a device,
    spiking.SpikingNegativePhase), so that the machine trained is the one that sampler samples."""
    rng = np.random.default_rng(config.seed)
    data = visible_vectors(train)
    nv, nh = data.shape[1], config.n_hidden
    mean = data.mean(axis=0).clip(1e-3, 1 - 1e-3)
    rbm = RBM(rng.normal(0, 0.01, (nv, nh)), np.log(mean / (1 - mean)), np.zeros(nh), train.n_pixels)
    chains = (rng.random((config.n_chains, nv)) < mean).astype(np.float64)
    vel = [np.zeros_like(rbm.W), np.zeros_like(rbm.a), np.zeros_like(rbm.c)]
    n_batches = max(1, len(data) // config.batch_size)
    t0 = time.perf_counter()
    history = []
    with progress_bar(config.epochs, "training RBM", "epoch", enabled=show_progress) as bar:
        for epoch in range(config.epochs):
            frac = epoch / max(config.epochs - 1, 1)
            lr = config.lr * (1 - frac * (1 - config.lr_final_fraction))
            mom = config.momentum if epoch >= config.momentum_switch_epoch else config.momentum_start
            order = rng.permutation(len(data))
            for k in range(n_batches):
                idx = order[k * config.batch_size:(k + 1) * config.batch_size]
                v0 = data[idx]
                h0 = sigmoid(v0 @ rbm.W + rbm.c)
                if negative_phase is None:
                    # Persistent chains: one block Gibbs sweep.
                    hc = (rng.random((len(chains), nh)) < sigmoid(chains @ rbm.W + rbm.c)).astype(np.float64)
                    chains = (rng.random(chains.shape) < sigmoid(hc @ rbm.W.T + rbm.a)).astype(np.float64)
                    v_neg, h_neg = chains, sigmoid(chains @ rbm.W + rbm.c)
                else:
                    v_neg, h_neg = (np.asarray(x, np.float64) for x in negative_phase(rbm))
                gW = v0.T @ h0 / len(v0) - v_neg.T @ h_neg / len(v_neg) - config.weight_decay * rbm.W
                ga = v0.mean(axis=0) - v_neg.mean(axis=0)
                gc = h0.mean(axis=0) - h_neg.mean(axis=0)
                if config.disc_weight:
                    dW, da, dc = _disc_grad(rbm, v0[:, :train.n_pixels], train.y[idx])
                    gW += config.disc_weight * dW
                    ga += config.disc_weight * da
                    gc += config.disc_weight * dc
                for vv, g, p in zip(vel, (gW, ga, gc), (rbm.W, rbm.a, rbm.c)):
                    vv *= mom
                    vv += lr * g
                    p += vv
            if test is not None and (epoch % 10 == 9 or epoch == config.epochs - 1):
                history.append((epoch + 1, rbm.accuracy(test)))
            bar.update(1)
    rbm.meta = {"train_config": config.__dict__.copy(), "train_seconds": time.perf_counter() - t0,
                "n_train": int(len(data)), "train_class_frequencies": train.class_frequencies().tolist(),
                "test_accuracy_history": history}
    if test is not None:
        rbm.meta["test_accuracy"] = rbm.accuracy(test)
        rbm.meta["n_test"] = int(len(test.y))
    return rbm


def train_images(train: ImageSet, config: TrainConfig, test: ImageSet | None = None,
                 show_progress: bool = False, negative_phase=None) -> RBM:
    """train_pcd on `train`, augmented with one-pixel shifts if config.augment.

    BLAS runs on one thread here: a multi-threaded matrix product may sum in an order that depends on
    the thread count, and training amplifies the last-bit differences, so `--seed S` would not give the
    same machine on every computer. One thread makes the result a function of the seed alone."""
    with threadpool_limits(limits=1):
        rbm = train_pcd(augment_shifts(train) if config.augment else train, config, test, show_progress, negative_phase)
    rbm.meta["n_train_images"] = int(len(train.y))
    rbm.meta["train_class_frequencies"] = train.class_frequencies().tolist()
    return rbm


def save_machine(path: str | Path, rbm: RBM, extra: dict | None = None) -> Path:
    """Write BM.npz: W (full, n × n), b, the unit groups, the RBM blocks and JSON metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(rbm.meta, n_pixels=rbm.n_pixels, n_labels=rbm.n_labels, n_hidden=rbm.n_hidden)
    save_bm(path, rbm.to_bm(), **rbm.groups(), metadata=np.array(json.dumps(meta)), **(extra or {}))
    return path


def load_machine(path: str | Path) -> RBM:
    """Read a BM.npz with unit groups into an RBM; InputError if groups are missing or the machine is
    not bipartite between visible (pixels + labels) and hidden units."""
    bm = load_bm(path)
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in GROUP_KEYS if k not in data.files]
        if missing:
            raise InputError(f"{path}: missing unit group(s) {', '.join(missing)}; a machine with label units "
                             f"needs {', '.join(GROUP_KEYS)} (index arrays), as `lifstp train` writes them")
        groups = {k: np.asarray(data[k], dtype=np.int64) for k in GROUP_KEYS}
        meta = json.loads(str(data["metadata"])) if "metadata" in data.files else {}
    px, lab, hid = groups["pixel_units"], groups["label_units"], groups["hidden_units"]
    vis = np.concatenate([px, lab])
    allu = np.concatenate([vis, hid])
    if sorted(allu.tolist()) != list(range(bm.n)):
        raise InputError(f"{path}: the unit groups must partition the {bm.n} units exactly once")
    if np.abs(bm.W[np.ix_(vis, vis)]).max() > 0 or np.abs(bm.W[np.ix_(hid, hid)]).max() > 0:
        raise InputError(f"{path}: not a restricted machine (visible-visible or hidden-hidden weights are nonzero)")
    return RBM(bm.W[np.ix_(vis, hid)].copy(), bm.b[vis].copy(), bm.b[hid].copy(), px.size, lab.size, meta)
