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

from dataclasses import asdict, dataclass, field

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


@dataclass(frozen=True)
class Fidelity:
    """How close samples lie to the model, judged by reference samples of its visible units:
    marginal_mae (mean |⟨v_i⟩ − ⟨v_i⟩_ref|), pair_cov_mae (mean |cov(v_i, v_j) − cov_ref(v_i, v_j)|
    over pairs i < j), label_one_hot (fraction of samples with exactly one label unit on)."""

    marginal_mae: float
    pair_cov_mae: float
    label_one_hot: float


def fidelity(v, reference_v, n_pixels: int) -> Fidelity:
    """The Fidelity of samples `v` (samples × visible, pixels then labels) to `reference_v`."""
    v = np.asarray(v, np.float64)
    r = np.asarray(reference_v, np.float64)
    if v.ndim != 2 or r.shape[1:] != v.shape[1:] or len(v) < 2 or len(r) < 2:
        raise InputError(f"fidelity needs samples and reference of the same width, got {v.shape} and {r.shape}")
    iu = np.triu_indices(v.shape[1], 1)
    labels = v[:, n_pixels:]
    return Fidelity(float(np.abs(v.mean(axis=0) - r.mean(axis=0)).mean()),
                    float(np.abs(np.cov(v.T, bias=True)[iu] - np.cov(r.T, bias=True)[iu]).mean()),
                    float(np.mean(labels.sum(axis=1) == 1)) if labels.shape[1] else float("nan"))


@dataclass
class SamplerSummary:
    """Every measure of one sampler's samples (see the module docstring). `isl` maps a sample count
    to the ISL after that many samples, `tv` a reference name ("train", "model") to the class-frequency
    TV against it; compute counts are None where the sampler does not report them."""

    n_samples: int
    sweeps: int
    unit_updates: int | None
    operations: int | None
    event_operations: int | None
    wall_s: float
    switches_per_1000: float
    confident_switches_per_1000: float
    confident_switches_per_1000_confident: float
    confident_switches_per_1e9_ops: float | None
    switches_per_wall_s: float
    confident_fraction: float
    classes_visited: int
    classes_visited_confident: int
    class_frequencies: list
    isl: dict
    tv: dict
    fidelity: Fidelity | None = None
    description: str = ""
    stats: dict = field(default_factory=dict)

    def value(self, key: str):
        """A table column by name: an attribute, "isl@N", "tv_to_NAME" or a Fidelity field; None if absent."""
        if key.startswith("isl@"):
            return self.isl.get(int(key[4:]))
        if key.startswith("tv_to_"):
            return self.tv.get(key[6:])
        if self.fidelity is not None and key in Fidelity.__dataclass_fields__:
            return getattr(self.fidelity, key)
        return getattr(self, key, None) if key in SamplerSummary.__dataclass_fields__ else None

    @classmethod
    def from_json(cls, row: dict) -> "SamplerSummary":
        """The record of a JSON row written by to_json (the experiments' results files)."""
        fields = {k: row.get(k) for k in cls.__dataclass_fields__ if k not in ("isl", "tv", "fidelity")}
        fields["isl"] = {int(k): v for k, v in row.get("isl", {}).items()}
        fields["tv"] = {k[6:]: v for k, v in row.items() if k.startswith("tv_to_")}
        if all(k in row for k in Fidelity.__dataclass_fields__):
            fields["fidelity"] = Fidelity(*(row[k] for k in Fidelity.__dataclass_fields__))
        fields["stats"] = row.get("stats") or {}
        fields["description"] = row.get("description") or ""
        return cls(**fields)

    def to_json(self) -> dict:
        """The flat JSON row of the results files (the columns of `value`, the ISL curve, the stats)."""
        row = {k: getattr(self, k) for k in SamplerSummary.__dataclass_fields__ if k not in ("isl", "tv", "fidelity")}
        row["isl"] = {str(k): v for k, v in self.isl.items()}
        row.update({f"tv_to_{k}": v for k, v in self.tv.items()})
        if self.fidelity is not None:
            row.update(asdict(self.fidelity))
        return row


def summarise(v, n_pixels: int, clf, heldout: ImageSet, compute: dict, references: dict | None = None,
              isl_counts=(100, 1000, 10000), reference_v=None) -> SamplerSummary:
    """All measures of one sampler's samples `v` (samples × visible, pixels first). `compute` holds
    sweeps and wall_s (and unit_updates, operations, event_operations); `references` maps a name to
    class frequencies to compare with; `reference_v`, reference samples of the model, adds the fidelity."""
    pixels = np.asarray(v)[:, :n_pixels]
    classes, conf = classify(clf, pixels)
    freq = class_frequencies(classes)
    n = len(classes)
    raw = switches_per_1000(classes)
    confident = switches_per_1000(classes, conf)
    wall = max(float(compute["wall_s"]), 1e-9)
    n_conf = int(np.count_nonzero(conf > CONFIDENCE))
    ops = int(compute["operations"]) if compute.get("operations") else None
    return SamplerSummary(
        n_samples=n, sweeps=int(compute["sweeps"]), unit_updates=compute.get("unit_updates"), operations=ops,
        event_operations=int(compute["event_operations"]) if compute.get("event_operations") else None,
        wall_s=float(compute["wall_s"]), switches_per_1000=raw, confident_switches_per_1000=confident,
        confident_switches_per_1000_confident=confident * (n - 1) / max(n_conf - 1, 1) if n_conf > 1 else 0.0,
        confident_switches_per_1e9_ops=confident * (n - 1) / 1000 / ops * 1e9 if ops else None,
        switches_per_wall_s=raw * (n - 1) / 1000 / wall,
        confident_fraction=float(np.mean(conf > CONFIDENCE)) if n else 0.0,
        classes_visited=int(np.count_nonzero(freq)),
        classes_visited_confident=int(np.unique(classes[conf > CONFIDENCE]).size),
        class_frequencies=freq.tolist(), isl=isl_curve(pixels, heldout.x, isl_counts),
        tv={name: total_variation(freq, ref) for name, ref in (references or {}).items()},
        fidelity=fidelity(v, reference_v, n_pixels) if reference_v is not None else None)
