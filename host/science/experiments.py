"""The science experiments (docs/results.md): mixing, imbalanced data, the (U, τ_rec) sweep and
classification. Each writes DIR/bm.npz, DIR/samples/<sampler>.npz (key v: samples × visible, uint8,
pixels then labels), figures (PNG) and a results table (JSON and Markdown)."""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path

import numpy as np

from lifstp.errors import InputError
from lifstp.fitting import Fit, FitSettings
from lifstp.progress import progress_bar
from lifstp.reference import MAX_REFERENCE_DISAGREEMENT, Reference, tempering_reference

from .digits import N_CLASSES, ImageSet, imbalance, load_digits_binary, load_digits_upsampled, split
from .idx import load_mnist_dir
from .measures import SamplerSummary, class_frequencies, classify, fidelity, fit_classifier, summarise, total_variation
from .rbm import RBM, TrainConfig, load_machine, save_machine, train_images
from .samplers import check_name, run_sampler, sampler
from .depression import describe as describe_depression, resource_report
from .spiking import MIXING_STP, PAPER_STP, classify_clamped, fit_rbm, lif_params, network_for

#: The mixing experiment's samplers: classical, heated controls (constant temperature; lif_b: the fitted
#: machine scaled by β, no depression), spiking with and without fit, with depression fitted and not.
MIXING_SAMPLERS = ("gibbs", "gibbs100", "gibbs100_b0.9", "gibbs100_b0.8", "ast", "lif_unfitted", "lif", "lif_b0.9",
                   "lif_b0.8", "lif_stp", "lif_stp_norefit", "lif_stp_paper")


@dataclass
class Scale:
    """How big an experiment is: full, or --quick (the whole pipeline in a few minutes)."""

    epochs: int
    n_samples: int
    n_reference: int
    n_classify: int
    classify_ms: float
    sweep_u: tuple
    sweep_tau: tuple
    sweep_samples: int
    isl_counts: tuple
    fit: FitSettings
    reference_thin: int = 2          # tempering sweeps between kept reference states
    reference_burn_in: int = 500     # tempering sweeps before the first


FULL = Scale(epochs=TrainConfig.epochs, n_samples=10_000, n_reference=50_000, n_classify=359, classify_ms=200.0,
             sweep_u=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0), sweep_tau=(10.0, 30.0, 100.0, 280.0, 1000.0),
             sweep_samples=5000, isl_counts=(100, 1000, 10_000),
             fit=FitSettings(steps=40, duration_ms=100_000.0, lr=0.5))
QUICK = Scale(epochs=40, n_samples=1000, n_reference=3000, n_classify=100, classify_ms=100.0,
              sweep_u=(0.1, 1.0), sweep_tau=(10.0, 280.0), sweep_samples=1000, isl_counts=(100, 1000),
              fit=FitSettings(steps=24, duration_ms=50_000.0, lr=0.5, final_duration_ms=50_000.0))

#: The paper's size (1294 units) in full: trained as long as the digits machine, fewer samples (the
#: golden device runs 1294 neurons at ~4·10⁴ ticks/s), shorter fits, and a reference that runs each
#: tempering ladder 4× longer between kept states, since its chains cross between modes slowly.
PAPER = replace(FULL, n_samples=2000, n_reference=16_000, n_classify=100, classify_ms=100.0,
                fit=FitSettings(steps=16, duration_ms=50_000.0, lr=0.5, final_duration_ms=50_000.0),
                reference_thin=8, reference_burn_in=1000)


def scale_for(quick: bool, fit: FitSettings | None = None, n_samples: int | None = None,
              paper: bool = False) -> Scale:
    """The full, quick or paper-size scale, with other fit settings or another number of samples if given
    (--quick at the paper's size is QUICK: a smoke test of the pipeline)."""
    sc = QUICK if quick else PAPER if paper else FULL
    if n_samples is not None:
        if n_samples < 2:
            raise InputError(f"an experiment needs at least 2 samples per sampler, got {n_samples}")
        sc = replace(sc, n_samples=n_samples)
    return sc if fit is None else replace(sc, fit=fit)


@dataclass(frozen=True)
class Dataset:
    """The images an experiment trains on: the 8×8 digits (default), or the paper's size (784 pixel +
    10 label + 500 hidden units) on MNIST files when given, else the digits upsampled to 28×28."""

    paper: bool = False
    mnist: str | None = None

    @property
    def n_hidden(self) -> int:
        return 500 if self.paper else TrainConfig.n_hidden

    def describe(self) -> str:
        if not self.paper:
            return "sklearn 8×8 digits, 100 hidden units"
        if self.mnist:
            return f"MNIST ({self.mnist}), 784 + 10 visible and 500 hidden units"
        return "sklearn digits UPSAMPLED to 28×28 (not MNIST), 784 + 10 visible and 500 hidden units"

    def load(self) -> ImageSet:
        if self.mnist:
            return load_mnist_dir(self.mnist)
        return load_digits_upsampled(28) if self.paper else load_digits_binary()


DIGITS = Dataset()


def prepare(seed: int, quick: bool, skew: str = "balanced", bm_path=None, show_progress=False, config=None,
            dataset: Dataset = DIGITS):
    """Data split (seed), training set (skewed), the machine (trained, or loaded from bm_path), and the
    image classifier trained on the real (balanced) training images."""
    train, test = split(dataset.load(), 0.2, seed)
    train_used = imbalance(train, skew, seed) if skew != "balanced" else train
    if bm_path is not None:
        rbm = load_machine(bm_path)
        if rbm.n_pixels != train.n_pixels or rbm.n_labels != N_CLASSES:
            raise InputError(f"{bm_path}: expected {train.n_pixels} pixel and {N_CLASSES} label units, "
                             f"got {rbm.n_pixels} and {rbm.n_labels}")
    else:
        cfg = config or TrainConfig(seed=seed, epochs=scale_for(quick, paper=dataset.paper).epochs,
                                   n_hidden=dataset.n_hidden)
        rbm = train_images(train_used, cfg, test, show_progress=show_progress)
        rbm.meta["skew"] = skew
        rbm.meta["train_class_frequencies"] = train_used.class_frequencies().tolist()
    clf = fit_classifier(train, seed)
    return train, train_used, test, rbm, clf


def _save_samples(out: Path, name: str, v: np.ndarray, stats: dict) -> None:
    (out / "samples").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "samples" / f"{name}.npz", v=v.astype(np.uint8),
                        stats=np.array(json.dumps(_jsonable(stats))))


def _jsonable(x):
    if isinstance(x, SamplerSummary):
        return _jsonable(x.to_json())
    if is_dataclass(x) and not isinstance(x, type):
        return _jsonable(asdict(x))
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def _spread(values) -> dict:
    """Mean, standard deviation and the half-width of the 95 % confidence interval of the mean
    (Student's t with n − 1 degrees of freedom) over seeds."""
    from scipy.stats import t as student_t

    a = np.asarray([v for v in values if v is not None], float)
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    ci = float(student_t.ppf(0.975, a.size - 1) * std / np.sqrt(a.size)) if a.size > 1 else 0.0
    return {"mean": float(a.mean()), "std": std, "ci95": ci, "values": a.tolist()}


def _aggregate(per_seed: list[dict], keys) -> dict:
    """sampler -> key -> mean/std/values over seeds (per_seed: sampler name -> SamplerSummary)."""
    out = {}
    for name in per_seed[0]:
        out[name] = {}
        for key in keys:
            vals = [s[name].value(key) for s in per_seed if name in s]
            if vals and all(v is not None for v in vals):
                out[name][key] = _spread(vals)
    return out


TABLE_KEYS = ("marginal_mae", "pair_cov_mae", "label_one_hot", "tv_to_model", "tv_to_train",
              "switches_per_1000", "confident_switches_per_1000", "confident_switches_per_1000_confident",
              "confident_switches_per_1e9_ops", "classes_visited", "classes_visited_confident", "isl@100",
              "isl@1000", "isl@10000", "operations", "wall_s")


def _markdown(title: str, agg: dict, keys, notes: str = "") -> str:
    keys = [k for k in keys if any(k in row for row in agg.values())]
    lines = [f"# {title}", "", notes, "", "| sampler | " + " | ".join(keys) + " |",
             "| --- |" + " --- |" * len(keys)]
    for name, row in agg.items():
        cells = []
        for k in keys:
            if k in row:
                m, s = row[k]["mean"], row[k]["ci95"]
                fmt = ".3g" if abs(m) < 1000 else ".4g"
                cells.append(f"{m:{fmt}} ± {s:.2g}" if len(row[k]["values"]) > 1 else f"{m:{fmt}}")
            else:
                cells.append("")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _reference_note(meta: list) -> str:
    """What the fidelity columns are measured against, how far the reference itself disagrees, and
    how the fits ended."""
    r = [m["reference"] for m in meta]
    fits = [(m["seed"], k, f) for m in meta for k, f in m.get("fits", {}).items()]
    fit_note = "; ".join(f"seed {s} {k}: unit-mean error {f['final_mean_error']:.4f}"
                         + ("" if f["converged"] else " (DID NOT CONVERGE)") for s, k, f in fits)
    untrusted = [m["seed"] for m in meta if not m["reference"].get("trusted", True)]
    return (("Fits: " + fit_note + ". " if fits else "")
            + (f"REFERENCE UNTRUSTED for seed(s) {untrusted}: its two runs disagree too much. " if untrusted else "")
            + f"The fits target the first of two runs of {r[0]['source']}; the fidelity columns (marginal_mae, "
            "pair_cov_mae, label_one_hot, tv_to_model) are measured against the second. "
            f"The two runs disagree by marginal {np.mean([x['marginal_mae'] for x in r]):.4f}, pair covariance "
            f"{np.mean([x['pair_cov_mae'] for x in r]):.4f}, class TV {np.mean([x['tv_between_runs'] for x in r]):.3f}.")


def _write_tables(out: Path, stem: str, result: dict, md: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(_jsonable(result), indent=1))
    (out / f"{stem}.md").write_text(md)
    return [out / f"{stem}.json", out / f"{stem}.md"]


class FitCache:
    """The machine fitted to the device, once per set of core parameters (renewing or depressing), for
    one RBM against one reference. A fit that does not converge is used, but said: a warning at once,
    and `unconverged()` for the tables."""

    def __init__(self, rbm: RBM, device, reference: Reference, settings: FitSettings, seed: int,
                 show_progress: bool = False):
        self.rbm, self.device, self.reference, self.settings, self.seed = rbm, device, reference, settings, seed
        self.show_progress = show_progress
        self.fits: dict = {}

    def __call__(self, params) -> Fit:
        if params not in self.fits:
            fit = fit_rbm(self.rbm, self.device, params, self.reference, self.settings, self.seed, self.show_progress)
            if not fit.converged:
                warnings.warn(f"the fit of the machine (U = {params.stp_u:g}, τ_rec = {params.stp_tau_rec_ms:g} ms) "
                              f"did not converge: unit-mean error {fit.final_mean_error:.3g} > tolerance "
                              f"{fit.settings.tolerance:g}; its samplers are reported as unconverged", stacklevel=2)
            self.fits[params] = fit
        return self.fits[params]

    def summary(self) -> dict:
        """Per fit: the parameters, the final errors and the error history."""
        return {f"U={p.stp_u:g},tau_rec={p.stp_tau_rec_ms:g}": {
            "final_mean_error": f.final_mean_error, "final_pair_error": f.final_pair_error, "converged": f.converged,
            "history": [(h.step, h.mean_error, h.pair_error) for h in f.history]} for p, f in self.fits.items()}


@dataclass
class ModelReference:
    """The model's reference for one machine, from two independent parallel-tempering runs: the fits
    target the moments of the first (`fit_target`), the samplers are judged against the visible states
    of the second (`visible`, `class_frequencies`), so that a fitted sampler is not scored against the
    noise it was fitted to; `convergence` holds the measures between the two runs (the reference's own
    error) and whether they agree closely enough to be trusted."""

    fit_target: Reference
    visible: np.ndarray
    class_frequencies: np.ndarray
    convergence: dict


def model_reference(rbm: RBM, n: int, seed: int, clf, thin: int = 2, burn_in: int = 500) -> ModelReference:
    """Parallel tempering of the full machine (two runs of n states, thin sweeps apart after burn_in);
    warns when the two runs disagree by more than the reference's trust limit (the tables then say so)."""
    ref = tempering_reference(rbm.to_bm(), n, seed, thin=thin, burn_in=burn_in)
    vis = [r.states[:, :rbm.n_visible] for r in ref.runs]
    freqs = [class_frequencies(classify(clf, x[:, :rbm.n_pixels])[0]) for x in vis]
    conv = dict(asdict(fidelity(vis[0], vis[1], rbm.n_pixels)), tv_between_runs=total_variation(*freqs),
                source=ref.source, swap_acceptance_min=float(min(r.swap_acceptance.min() for r in ref.runs)),
                trusted=ref.trusted, unit_disagreement=ref.marginal_disagreement)
    if not ref.trusted:
        warnings.warn(f"the parallel-tempering reference's two runs disagree by {ref.marginal_disagreement:.3f} in "
                      f"the unit means (trusted up to {MAX_REFERENCE_DISAGREEMENT}); its measures are marked "
                      "untrusted", stacklevel=2)
    return ModelReference(ref.run(0), vis[1], freqs[1], conv)


def compare_samplers(rbm: RBM, samplers, n_samples: int, seed: int, device, clf, test, references: dict,
                     isl_counts, out: Path | None = None, stp=MIXING_STP, show_progress=False, tag: str = "",
                     fits: FitCache | None = None, reference_v=None):
    """Run each sampler once and summarise; samples saved under out/samples when out is given. Returns
    the summaries, the samples and their stats, by sampler."""
    results, samples, all_stats = {}, {}, {}
    for name in samplers:
        v, stats = run_sampler(name, rbm, n_samples, seed=seed, device=device, stp=stp, show_progress=show_progress,
                               fits=fits)
        results[name] = summarise(v, rbm.n_pixels, clf, test, stats, references, isl_counts, reference_v)
        results[name].stats = {k: val for k, val in stats.items() if k not in ("log_weights",)}
        spec = sampler(name, stp)
        results[name].description = f"{spec.describe()}; per sample: {spec.cost()}"
        samples[name] = v
        all_stats[name] = stats
        if out is not None:
            _save_samples(out, name + tag, v, stats)
    return results, samples, all_stats


def depression_reports(rbm: RBM, device, samplers, stp, fits: FitCache, n_ticks: int, seed: int) -> dict:
    """For each depressing spiking sampler: the resource predicted at the rates seen and the resource
    measured at each spike (science.depression), on the network that sampler ran."""
    out = {}
    for name in samplers:
        spec = sampler(name, stp)
        if spec.on_device and spec.stp is not None:
            params = lif_params(spec.stp)
            fit = None if spec.fit == "none" else fits(params if spec.fit == "own" else lif_params(None))
            out[name] = resource_report(network_for(rbm, device, params, fit, spec.beta), n_ticks, seed,
                                        device.formats)
    return out


def depression_verdict(summary: dict, depressed: str = "lif_stp") -> str:
    """Does depression help? Only where `depressed` beats the best heated control (gibbs…_b…, lif_b…) on
    ISL and on TV to the model among the controls whose confident switch rate is at least its own
    (matched or more mixing); with no such control, against the fastest-switching one."""
    isl_key = max((k for k in summary.get(depressed, {}) if k.startswith("isl@")), key=lambda k: int(k[4:]), default=None)
    if depressed not in summary or isl_key is None or "tv_to_model" not in summary[depressed]:
        return ""
    heated = [n for n in summary if sampler(n).heated and isl_key in summary[n] and "tv_to_model" in summary[n]]
    if not heated:
        return f"No heated control was run, so nothing is said about whether depression ({depressed}) helps."
    m = lambda n, k: summary[n][k]["mean"]  # noqa: E731
    rate = m(depressed, "confident_switches_per_1000")
    matched = [n for n in heated if m(n, "confident_switches_per_1000") >= rate]
    pool = matched or [max(heated, key=lambda n: m(n, "confident_switches_per_1000"))]
    best = max(pool, key=lambda n: (m(n, isl_key), -m(n, "tv_to_model")))
    wins = m(depressed, isl_key) > m(best, isl_key) and m(depressed, "tv_to_model") < m(best, "tv_to_model")
    how = "at a matched or higher" if matched else "at the highest available (lower than its)"
    return (f"Depression ({depressed}: {m(depressed, 'confident_switches_per_1000'):.1f} confident switches per 1000, "
            f"{isl_key} {m(depressed, isl_key):.2f}, TV to model {m(depressed, 'tv_to_model'):.3f}) against the best "
            f"heated control {how} confident switch rate ({best}: {m(best, 'confident_switches_per_1000'):.1f}, "
            f"{m(best, isl_key):.2f}, {m(best, 'tv_to_model'):.3f}): depression "
            + ("helps here (better on both ISL and TV to the model)." if wins else
               "does not help here (it does not beat that control on both ISL and TV to the model)."))


def seed_pipeline(device, seed: int, sc: Scale, samplers, stp, skew: str = "balanced", bm_path=None,
                  dataset: Dataset = DIGITS, quick: bool = False, with_machine: bool = False,
                  with_depression: bool = False) -> dict:
    """One seed of mixing or imbalanced, a pure function of its arguments: the split and machine of
    `seed` (trained on `skew`, or loaded from bm_path), its reference, its fits, every sampler once.
    Returns the per-seed summaries (`res`, with `_meta`), the samples and their stats by sampler, and
    with `with_machine` the machine, the classifier and the reference's class frequencies (what the
    first seed's figures need), with `with_depression` the depression reports."""
    dev = task_device(device)
    train, train_used, test, rbm, clf = prepare(seed, quick, skew=skew, bm_path=bm_path, dataset=dataset)
    mref = model_reference(rbm, sc.n_reference, seed, clf, sc.reference_thin, sc.reference_burn_in)
    fits = FitCache(rbm, dev, mref.fit_target, sc.fit, seed)
    refs = {"train": train_used.class_frequencies(), "model": mref.class_frequencies}
    res, samples, stats = compare_samplers(rbm, samplers, sc.n_samples, seed, dev, clf, test, refs, sc.isl_counts,
                                           None, stp, fits=fits, reference_v=mref.visible)
    res["_meta"] = {"seed": seed, "classifier_accuracy": float(clf.score(test.x, test.y)),
                    "rbm_test_accuracy": rbm.accuracy(test), "train_class_frequencies": refs["train"].tolist(),
                    "model_class_frequencies": mref.class_frequencies.tolist(), "reference": mref.convergence,
                    "fits": fits.summary()}
    out = {"res": res, "samples": samples, "stats": stats}
    if with_machine:
        out.update(rbm=rbm, clf=clf, model_class_frequencies=mref.class_frequencies)
    if with_depression:
        out["depression"] = depression_reports(rbm, dev, samplers, stp, fits,
                                               sc.n_samples * lif_params(None).tau_ref_ticks, seed)
    return out


def _seed_tasks(device, seeds, sc: Scale, samplers, stp, skew="balanced", bm_path=None, dataset=DIGITS,
                quick=False, depression=False):
    from lifstp.executor import Task

    task_device(device)
    return [Task({"skew": skew, "seed": s} if skew != "balanced" else {"seed": s},
                 dict(device=device.name, seed=s, sc=sc, samplers=tuple(samplers), stp=stp, skew=skew,
                      bm_path=bm_path, dataset=dataset, quick=quick, with_machine=k == 0,
                      with_depression=depression and k == 0))
            for k, s in enumerate(seeds)]


def _save_seed_samples(out: Path, got: dict, tag: str) -> None:
    for name, v in got["samples"].items():
        _save_samples(out, name + tag, v, got["stats"][name])


def run_mixing(device, out, seed: int = 0, n_seeds: int = 3, quick: bool = False, samplers=MIXING_SAMPLERS,
               stp=MIXING_STP, bm_path=None, show_progress: bool = False, fit: FitSettings | None = None,
               dataset: Dataset = DIGITS, n_samples: int | None = None, executor: str = "serial",
               scale: Scale | None = None) -> dict:
    """Free-running samplers on the digits machine: switches, classes, class frequencies, ISL; over
    n_seeds seeds (each seed: its own split, training run and sampler seeds; with bm_path one machine),
    each seed a task on `executor` (lifstp.executor); `scale` replaces the scale (tests)."""
    from lifstp.executor import run_tasks

    for s in samplers:
        check_name(s)
    out = Path(out)
    sc = scale or scale_for(quick, fit, n_samples, paper=dataset.paper)
    t0 = time.perf_counter()
    seeds = list(range(seed, seed + n_seeds))
    tasks = _seed_tasks(device, seeds, sc, samplers, stp, bm_path=bm_path, dataset=dataset, quick=quick,
                        depression=True)
    ran = run_tasks(seed_pipeline, tasks, executor, "mixing seeds", show_progress)
    if ran.results[0] is None:  # the figures and the depression report are the first seed's
        ran.raise_failures("seeds")
    per_seed = []
    for k, (s, got) in enumerate(zip(seeds, ran.results)):
        if got is not None:
            _save_seed_samples(out, got, "" if k == 0 else f"_seed{s}")
            per_seed.append(got["res"])
    first = ran.results[0]
    save_machine(out / "bm.npz", first["rbm"])
    depression = first["depression"]
    rows = [{n: r for n, r in ps.items() if n != "_meta"} for ps in per_seed]
    agg = _aggregate(rows, TABLE_KEYS)
    result = {"experiment": "mixing", "device": device.name, "seeds": seeds,
              "dataset": dataset.describe(),
              "quick": quick, "stp": list(stp), "per_seed": per_seed, "summary": agg, "depression": depression,
              "tasks": ran.to_json(), "wall_s": time.perf_counter() - t0}
    meta = [ps["_meta"] for ps in per_seed]
    notes = (f"{dataset.describe()}; device {device.name}, seeds {seed}..{seed + n_seeds - 1}, "
             f"{sc.n_samples} samples per sampler, "
             f"LIF+STP U={stp[0]}, τ_rec={stp[1]} ms; image classifier accuracy "
             f"{np.mean([m['classifier_accuracy'] for m in meta]):.3f}, RBM exact-posterior accuracy "
             f"{np.mean([m['rbm_test_accuracy'] for m in meta]):.3f}. Mean ± 95 % confidence interval over seeds. "
             + _reference_note(meta) + " " + depression_verdict(agg)
             + "".join(f"\n\n{name}: {describe_depression(r)}" for name, r in depression.items())
             + f"\n\nTasks: {ran.summary()}")
    md = _markdown("Mixing", agg, TABLE_KEYS, notes)
    _write_tables(out, "mixing", result, md)
    from .figures import plot_class_traces, plot_isl, plot_sample_grid

    plot_class_traces(first["samples"], first["clf"], first["rbm"].n_pixels, out / "mixing_classes.png")
    plot_isl(per_seed, out / "mixing_isl.png")
    plot_sample_grid(first["samples"], first["rbm"].n_pixels, out / "mixing_samples.png")
    ran.raise_failures("seeds")
    return result


IMBALANCED_SKEWS = ("cut5-9", "linear")
IMBALANCED_SAMPLERS = ("gibbs100_b0.8", "ast", "lif", "lif_b0.8", "lif_stp", "lif_stp_norefit", "lif_stp_paper")


def run_imbalanced(device, out, seed: int = 0, n_seeds: int = 3, quick: bool = False,
                   samplers=IMBALANCED_SAMPLERS, skews=IMBALANCED_SKEWS, stp=MIXING_STP,
                   show_progress: bool = False, fit: FitSettings | None = None, executor: str = "serial",
                   scale: Scale | None = None) -> dict:
    """Train on class-skewed data; how close are generated class frequencies to the training ones?
    Each (skew, seed) is a task on `executor` (lifstp.executor)."""
    from lifstp.executor import run_tasks

    for s in samplers:
        check_name(s)
    out = Path(out)
    sc = scale or scale_for(quick, fit)
    seeds = list(range(seed, seed + n_seeds))
    result = {"experiment": "imbalanced", "device": device.name, "seeds": seeds,
              "quick": quick, "stp": list(stp), "skews": {}}
    md_parts = []
    t0 = time.perf_counter()
    tasks = [t for skew in skews for t in _seed_tasks(device, seeds, sc, samplers, stp, skew=skew, quick=quick)]
    ran = run_tasks(seed_pipeline, tasks, executor, "imbalanced seeds", show_progress)
    for j, skew in enumerate(skews):
        got_all = ran.results[j * n_seeds:(j + 1) * n_seeds]
        per_seed = []
        for k, (s, got) in enumerate(zip(seeds, got_all)):
            if got is None:
                continue
            _save_seed_samples(out, got, f"_{skew}" + ("" if k == 0 else f"_seed{s}"))
            per_seed.append(got["res"])
            if k == 0:
                rbm, clf = got["rbm"], got["clf"]
                save_machine(out / f"bm_{skew}.npz", rbm)
                if skew == skews[0]:
                    save_machine(out / "bm.npz", rbm)
                from .figures import plot_class_frequencies

                train_freq = np.asarray(got["res"]["_meta"]["train_class_frequencies"])
                plot_class_frequencies(got["samples"], clf, rbm.n_pixels, train_freq, out / f"imbalanced_{skew}.png",
                                       f"trained on skew {skew}", model=got["model_class_frequencies"])
        if not per_seed:
            continue
        agg = _aggregate([{n: r for n, r in ps.items() if n != "_meta"} for ps in per_seed], TABLE_KEYS)
        result["skews"][skew] = {"per_seed": per_seed, "summary": agg}
        meta = [ps["_meta"] for ps in per_seed]
        md_parts.append(_markdown(f"Imbalanced data: {skew}", agg, TABLE_KEYS,
                                  f"training class frequencies (seed {meta[0]['seed']}): "
                                  + ", ".join(f"{x:.3f}" for x in meta[0]['train_class_frequencies'])
                                  + "; the model's own (reference): "
                                  + ", ".join(f"{x:.3f}" for x in meta[0]['model_class_frequencies'])
                                  + ". " + _reference_note(meta) + " " + depression_verdict(agg)))
    result["tasks"] = ran.to_json()
    result["wall_s"] = time.perf_counter() - t0
    _write_tables(out, "imbalanced", result, "\n".join(md_parts) + f"\nTasks: {ran.summary()}\n")
    ran.raise_failures("seeds")
    return result


#: Devices opened by the tasks of this process, by --device name (the driver registers its own, so a
#: serial executor reuses the device it was given: a board's port opens once).
_TASK_DEVICES: dict = {}


def task_device(device):
    """The device a task runs on: the one given, or opened once per worker process from its name."""
    if not isinstance(device, str):
        _TASK_DEVICES.setdefault(device.name, device)
        return device
    if device not in _TASK_DEVICES:
        from lifstp.device import open_device

        _TASK_DEVICES[device] = open_device(device)
    return _TASK_DEVICES[device]


def sweep_point(rbm: RBM, device: str, stp, n_samples: int, seed: int, fit: Fit, clf, test: ImageSet, refs: dict,
                isl_counts, reference_v):
    """One point of the sweep, a pure function of its arguments: samples of the machine run with the
    renewing fit under depression `stp` = (U, τ_rec) (None: renewing), and their summary."""
    from .spiking import spiking_samples

    v, stats = spiking_samples(rbm, task_device(device), lif_params(stp), n_samples, seed=seed, fit=fit)
    return v, stats, summarise(v, rbm.n_pixels, clf, test, stats, refs, isl_counts, reference_v)


def run_sweep(device, out, seed: int = 0, quick: bool = False, bm_path=None, show_progress: bool = False,
              fit: FitSettings | None = None, executor: str = "serial", scale: Scale | None = None) -> dict:
    """Confident switch rate, ISL and TV to training frequencies of LIF + STP over a U × τ_rec grid, each
    point a task on `executor` (lifstp.executor); `scale` replaces the full or quick one (tests)."""
    from lifstp.executor import Task, run_tasks

    out = Path(out)
    sc = scale or scale_for(quick, fit)
    train, train_used, test, rbm, clf = prepare(seed, quick, bm_path=bm_path, show_progress=show_progress,
                                                config=TrainConfig(seed=seed, epochs=sc.epochs) if scale else None)
    save_machine(out / "bm.npz", rbm)
    mref = model_reference(rbm, sc.n_reference, seed, clf, sc.reference_thin, sc.reference_burn_in)
    fits = FitCache(rbm, device, mref.fit_target, sc.fit, seed, show_progress)
    renewing = fits(lif_params(None))  # every point runs the renewing fit with its depression: no refit
    refs = {"train": train_used.class_frequencies(), "model": mref.class_frequencies}
    points = [(u, tau) for u in sc.sweep_u for tau in sc.sweep_tau] + [None]  # None: renewing LIF, the baseline
    task_device(device)
    common = dict(rbm=rbm, device=device.name, n_samples=sc.sweep_samples, seed=seed, fit=renewing, clf=clf,
                  test=test, refs=refs, isl_counts=sc.isl_counts, reference_v=mref.visible)
    tasks = [Task({"U": p[0], "tau_rec_ms": p[1], "seed": seed} if p else {"renewing": True, "seed": seed},
                  dict(common, stp=p)) for p in points]
    t0 = time.perf_counter()
    ran = run_tasks(sweep_point, tasks, executor, "sweep", show_progress)
    grid, base = {}, None
    for p, r in zip(points, ran.results):
        if r is None:
            continue
        v, stats, summ = r
        if p is None:
            base = summ
            _save_samples(out, "lif", v, stats)
        else:
            grid[f"{p[0]:g},{p[1]:g}"] = summ
            _save_samples(out, f"lif_stp_U{p[0]:g}_tau{p[1]:g}", v, stats)
    result = {"experiment": "sweep", "device": device.name, "seed": seed, "quick": quick, "U": list(sc.sweep_u),
              "tau_rec_ms": list(sc.sweep_tau), "grid": grid, "lif_renewing": base, "reference": mref.convergence,
              "fits": fits.summary(), "chosen": list(MIXING_STP), "paper": list(PAPER_STP), "tasks": ran.to_json(),
              "wall_s": time.perf_counter() - t0}
    isl_key = str(max(n for n in sc.isl_counts if n <= sc.sweep_samples))
    cell = lambda g: (f"{g.confident_switches_per_1000:.1f} / {g.isl[int(isl_key)]:.2f} / {g.tv['model']:.3f}"  # noqa: E731
                      if g is not None else "FAILED")
    lines = ["# Sweep of LIF + STP over U × τ_rec", "",
             f"device {device.name}, seed {seed}, {sc.sweep_samples} samples per point, every point on the renewing "
             f"fit (no refit). Cells: confident switches per 1000 samples / ISL@{isl_key} (nats) / TV to the model. "
             f"Renewing LIF (U=1, τ_rec=10 ms): {cell(base)}. Tasks: {ran.summary()}", "",
             "| U \\ τ_rec (ms) | " + " | ".join(f"{t:g}" for t in sc.sweep_tau) + " |",
             "| --- |" + " --- |" * len(sc.sweep_tau)]
    for u in sc.sweep_u:
        lines.append(f"| {u:g} | " + " | ".join(cell(grid.get(f"{u:g},{t:g}")) for t in sc.sweep_tau) + " |")
    _write_tables(out, "sweep", result, "\n".join(lines) + "\n")
    if not ran.failed:
        from .figures import plot_sweep

        plot_sweep(result, isl_key, out / "sweep.png")
    ran.raise_failures("sweep points")
    return result


def run_classify(device, out, seed: int = 0, quick: bool = False, stp=MIXING_STP, bm_path=None,
                 show_progress: bool = False, fit: FitSettings | None = None) -> dict:
    """Test accuracy of the exact label posterior and of clamped LIF networks with and without STP."""
    out = Path(out)
    sc = scale_for(quick, fit)
    train, train_used, test, rbm, clf = prepare(seed, quick, bm_path=bm_path, show_progress=show_progress)
    save_machine(out / "bm.npz", rbm)
    n = min(sc.n_classify, len(test.y))
    x, y = test.x[:n], test.y[:n]
    result = {"experiment": "classify", "device": device.name, "seed": seed, "quick": quick, "n_test": n,
              "exact_posterior_accuracy": float(np.mean(rbm.classify(x) == y)),
              "image_classifier_accuracy": float(clf.score(x, y)), "duration_ms": sc.classify_ms}
    mref = model_reference(rbm, sc.n_reference, seed, clf, sc.reference_thin, sc.reference_burn_in)
    renewing = FitCache(rbm, device, mref.fit_target, sc.fit, seed, show_progress)(lif_params(None))
    for name, s in (("lif", None), ("lif_stp", stp), ("lif_stp_paper", PAPER_STP)):
        pred, counts, stats = classify_clamped(rbm, device, lif_params(s), x, seed=seed, duration_ms=sc.classify_ms,
                                               show_progress=show_progress, fit=renewing)
        result[f"{name}_accuracy"] = float(np.mean(pred == y))
        result[f"{name}_stats"] = stats
        result[f"{name}_label_rate_hz"] = float(counts.sum(axis=1).mean() / rbm.n_labels / (sc.classify_ms * 1e-3))
    md = ("# Classification\n\n"
          f"device {device.name}, seed {seed}, {n} test images, {sc.classify_ms:g} ms per image after 20 ms burn-in, "
          f"LIF+STP U={stp[0]}, τ_rec={stp[1]} ms; every LIF network is the renewing fit of the machine.\n\n| method | accuracy |\n| --- | --- |\n"
          f"| exact label posterior | {result['exact_posterior_accuracy']:.3f} |\n"
          f"| LIF, renewing synapses (clamped) | {result['lif_accuracy']:.3f} |\n"
          f"| LIF + STP, U={stp[0]:g}, τ_rec={stp[1]:g} ms (clamped) | {result['lif_stp_accuracy']:.3f} |\n"
          f"| LIF + STP, paper U=0.01, τ_rec=280 ms (clamped) | {result['lif_stp_paper_accuracy']:.3f} |\n"
          f"| logistic regression on pixels (reference) | {result['image_classifier_accuracy']:.3f} |\n")
    _write_tables(out, "classify", result, md)
    return result


def run_inloop(device, out, seed: int = 0, quick: bool = False, negative_ms: float = 200.0,
               show_progress: bool = False, fit: FitSettings | None = None, epochs: int | None = None) -> dict:
    """Training in the loop against classical training: the same data, split and settings trained once
    with persistent Gibbs chains (then fitted to the device) and once with the spiking network's own
    samples as the negative phase (run as trained, no fit). Both are judged as generators of the data
    (ISL of held-out images, class TV to the training frequencies, marginal error to the training
    images, label one-hot fraction) and as classifiers (exact posterior, clamped spiking network)."""
    from .spiking import SpikingNegativePhase, spiking_samples

    out = Path(out)
    sc = scale_for(quick, fit)
    train, test = split(load_digits_binary(), 0.2, seed)
    clf = fit_classifier(train, seed)
    cfg = TrainConfig(seed=seed, epochs=epochs or sc.epochs)
    t0 = time.perf_counter()
    classical = train_images(train, cfg, test, show_progress=show_progress)
    negative = SpikingNegativePhase(device, duration_ms=negative_ms, seed=seed)
    inloop = train_images(train, cfg, test, show_progress=show_progress, negative_phase=negative)
    inloop.meta.update(negative_phase="lif", negative_runs=negative.calls, negative_ticks=negative.ticks)
    save_machine(out / "bm.npz", classical)
    save_machine(out / "bm_inloop.npz", inloop)
    data_v = np.concatenate([train.x, np.eye(N_CLASSES, dtype=np.uint8)[train.y]], axis=1)
    refs = {"train": train.class_frequencies()}
    mref = model_reference(classical, sc.n_reference, seed, clf, sc.reference_thin, sc.reference_burn_in)
    renewing = FitCache(classical, device, mref.fit_target, sc.fit, seed, show_progress)(lif_params(None))
    n = min(sc.n_classify, len(test.y))
    rows = {}
    for name, rbm, f in (("classical_fitted", classical, renewing), ("inloop", inloop, None)):
        v, stats = spiking_samples(rbm, device, lif_params(None), sc.n_samples, seed=seed, fit=f,
                                   show_progress=show_progress, desc=name)
        summary = summarise(v, rbm.n_pixels, clf, test, stats, refs, sc.isl_counts)
        row = summary.to_json()
        row.update({f"data_{k}": val for k, val in asdict(fidelity(v, data_v, rbm.n_pixels)).items()})
        pred, _, _ = classify_clamped(rbm, device, lif_params(None), test.x[:n], seed=seed,
                                      duration_ms=sc.classify_ms, fit=f)
        row["clamped_accuracy"] = float(np.mean(pred == test.y[:n]))
        row["exact_posterior_accuracy"] = rbm.accuracy(test)
        rows[name] = row
        _save_samples(out, name, v, stats)
    isl_key = str(max(n for n in sc.isl_counts if n <= sc.n_samples))
    for row in rows.values():
        row[f"isl@{isl_key}"] = row["isl"][isl_key]  # a JSON row: keys are strings
    keys = ("exact_posterior_accuracy", "clamped_accuracy", "data_marginal_mae", "data_pair_cov_mae",
            "data_label_one_hot", "tv_to_train", "confident_switches_per_1000", f"isl@{isl_key}")
    result = {"experiment": "inloop", "device": device.name, "seed": seed, "quick": quick, "rows": rows,
              "negative_ms_per_update": negative_ms, "negative_runs": negative.calls,
              "train_seconds": {"classical": classical.meta["train_seconds"], "inloop": inloop.meta["train_seconds"]},
              "wall_s": time.perf_counter() - t0}
    lines = ["# Training in the loop", "",
             f"device {device.name}, seed {seed}, {cfg.epochs} epochs, {sc.n_samples} free samples, {n} clamped test "
             f"images. classical_fitted: PCD-trained, then fitted to the device; inloop: the negative phase of every "
             f"update from {negative_ms:g} ms of the spiking network itself ({negative.calls} runs), sampled as trained. "
             "data_*: fidelity of the generated samples to the training images.", "",
             "| machine | " + " | ".join(keys) + " |", "| --- |" + " --- |" * len(keys)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[k]:.3g}" if k in row else "" for k in keys) + " |")
    _write_tables(out, "inloop", result, "\n".join(lines) + "\n")
    return result
