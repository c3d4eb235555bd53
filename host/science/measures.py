"""Measures of generated samples, the same for every sampler (docs/results.md, "Measures"):

- a classifier for generated images (logistic regression on the real binarised digits);
- class switches per 1000 samples, raw and counting only confidently classified samples (p > 0.9);
- classes visited; generated class frequencies and their total-variation distance to reference ones;
- the indirect sampling likelihood (ISL, Breuleux, Bengio & Vincent 2011): a product-Bernoulli Parzen
  estimator (β = 0.95) built on the generated images, mean log-likelihood of held-out images;
- fidelity to the model, against an independent reference (parallel tempering, lifstp.reference):
  visible marginal error, error of the pairwise covariances of visible units, fraction of samples whose
  label units are one-hot, and (with the reference's class frequencies) class-frequency TV to the model;
- each per sample and per operation (the cost model: neuron updates plus synaptic events for the
  spiking samplers, multiply-adds of the sweeps for Gibbs and tempering), with wall time.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from lifstp.errors import InputError

from .digits import N_CLASSES, ImageSet

CONFIDENCE = 0.9
ISL_BETA = 0.95


def fit_classifier(train: ImageSet, seed: int = 0):
    """Logistic regression on the real binarised images (pixels → class)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed).fit(train.x, train.y)


def classify(clf, pixels) -> tuple[np.ndarray, np.ndarray]:
    """Class and confidence (max posterior) of each image."""
    if len(pixels) == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    prob = clf.predict_proba(np.asarray(pixels))
    return clf.classes_[np.argmax(prob, axis=1)].astype(np.int64), prob.max(axis=1)


def switches_per_1000(classes, confidence=None, threshold: float = CONFIDENCE) -> float:
    """Changes of class between consecutive samples per 1000 samples; with `confidence`, only samples
    classified with confidence > threshold count (switches between consecutive confident samples, per
    1000 samples of the whole sequence)."""
    classes = np.asarray(classes)
    n = len(classes)
    if n < 2:
        return 0.0
    if confidence is not None:
        classes = classes[np.asarray(confidence) > threshold]
    changes = int(np.count_nonzero(np.diff(classes))) if len(classes) > 1 else 0
    return 1000.0 * changes / (n - 1)


def class_frequencies(classes) -> np.ndarray:
    classes = np.asarray(classes, np.int64)
    return np.bincount(classes, minlength=N_CLASSES) / max(len(classes), 1)


def total_variation(p, q) -> float:
    return 0.5 * float(np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def isl(samples, heldout, beta: float = ISL_BETA) -> float:
    """Mean log-likelihood (nats per image) of `heldout` images under the product-Bernoulli Parzen
    estimator p(x) = (1/S) Σ_s Π_i β^[x_i = s_i] (1 − β)^[x_i ≠ s_i] on the generated `samples`."""
    s = np.asarray(samples, np.float64)
    x = np.asarray(heldout, np.float64)
    if s.ndim != 2 or x.ndim != 2 or s.shape[1] != x.shape[1] or len(s) == 0:
        raise InputError(f"ISL needs samples and held-out images of the same width, got {s.shape} and {x.shape}")
    d = x.shape[1]
    match = x @ s.T + (1 - x) @ (1 - s).T  # heldout × samples: agreeing pixels
    logk = match * np.log(beta) + (d - match) * np.log(1 - beta)
    return float(np.mean(logsumexp(logk, axis=1) - np.log(len(s))))


def isl_curve(samples, heldout, counts=(100, 1000, 10000)) -> dict:
    """ISL after the first n samples, for each n in counts that is available."""
    return {int(n): isl(samples[:n], heldout) for n in counts if n <= len(samples)}


def fidelity(v, reference_v, n_pixels: int) -> dict:
    """How close samples `v` (samples × visible, pixels then labels) lie to the model, judged by
    reference samples of the model's visible units: marginal_mae (mean |⟨v_i⟩ − ⟨v_i⟩_ref|),
    pair_cov_mae (mean |cov(v_i, v_j) − cov_ref(v_i, v_j)| over pairs i < j), label_one_hot (the
    fraction of samples with exactly one label unit on)."""
    v = np.asarray(v, np.float64)
    r = np.asarray(reference_v, np.float64)
    if v.ndim != 2 or r.shape[1:] != v.shape[1:] or len(v) < 2 or len(r) < 2:
        raise InputError(f"fidelity needs samples and reference of the same width, got {v.shape} and {r.shape}")
    iu = np.triu_indices(v.shape[1], 1)
    labels = v[:, n_pixels:]
    return {"marginal_mae": float(np.abs(v.mean(axis=0) - r.mean(axis=0)).mean()),
            "pair_cov_mae": float(np.abs(np.cov(v.T, bias=True)[iu] - np.cov(r.T, bias=True)[iu]).mean()),
            "label_one_hot": float(np.mean(labels.sum(axis=1) == 1)) if labels.shape[1] else float("nan")}


def summarise(v, n_pixels: int, clf, heldout: ImageSet, compute: dict, references: dict | None = None,
              isl_counts=(100, 1000, 10000), reference_v=None) -> dict:
    """All measures of one sampler's samples `v` (samples × visible, pixels first). `compute` holds
    sweeps and wall_s (and unit_updates, operations); `references` maps a name to class frequencies to
    compare with (tv_to_<name>); `reference_v`, reference samples of the model, adds the fidelity."""
    pixels = np.asarray(v)[:, :n_pixels]
    classes, conf = classify(clf, pixels)
    freq = class_frequencies(classes)
    n = len(classes)
    raw = switches_per_1000(classes)
    confident = switches_per_1000(classes, conf)
    wall = max(float(compute["wall_s"]), 1e-9)
    out = {
        "n_samples": n, "sweeps": compute["sweeps"], "unit_updates": compute.get("unit_updates"),
        "wall_s": compute["wall_s"],
        "switches_per_1000": raw, "confident_switches_per_1000": confident,
        "switches_per_wall_s": raw * (n - 1) / 1000 / wall,
        "confident_fraction": float(np.mean(conf > CONFIDENCE)) if n else 0.0,
        "classes_visited": int(np.count_nonzero(freq)),
        "classes_visited_confident": int(np.unique(classes[conf > CONFIDENCE]).size),
        "class_frequencies": freq.tolist(),
        "isl": {str(k): val for k, val in isl_curve(pixels, heldout.x, isl_counts).items()},
    }
    n_conf = int(np.count_nonzero(conf > CONFIDENCE))
    out["confident_switches_per_1000_confident"] = confident * (n - 1) / max(n_conf - 1, 1) if n_conf > 1 else 0.0
    if compute.get("operations"):
        out["operations"] = int(compute["operations"])
        out["confident_switches_per_1e9_ops"] = confident * (n - 1) / 1000 / float(compute["operations"]) * 1e9
    if compute.get("event_operations"):
        out["event_operations"] = int(compute["event_operations"])
    for name, ref in (references or {}).items():
        out[f"tv_to_{name}"] = total_variation(freq, ref)
    if reference_v is not None:
        out.update(fidelity(v, reference_v, n_pixels))
    return out
