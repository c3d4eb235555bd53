"""Sampling accuracy: D_KL(p_exact ‖ p_sampled) of small random Boltzmann machines against sampling
time, renewing synapses against plain ones (docs/results.md, "Sampling accuracy")."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .analysis import joint_distribution, kl_divergence
from .bm import exact_distribution, random_bm
from .progress import progress_bar
from .sampling import calibration_for, sample, sampling_params

#: Settings compared: renewing synapses (U = 1, τ_rec = τ_syn, the default) and plain ones (no
#: depression), each with the calibrated weight scale and with the theoretical translation (scale 1).
SYNAPSES = {"renewing": (1.0, None, True), "plain": (0.0, None, True),
            "renewing, theory weights": (1.0, None, False), "plain, theory weights": (0.0, None, False)}


@dataclass
class AccuracyResult:
    durations_ms: list[float]
    kl: dict  #: synapse name -> durations × machines
    weight_scale: dict
    seed: int

    def medians(self) -> dict:
        return {name: [float(np.median(row)) for row in rows] for name, rows in self.kl.items()}

    def to_json(self) -> str:
        return json.dumps({"durations_ms": self.durations_ms, "seed": self.seed,
                           "median_kl": self.medians(), "kl": {k: np.asarray(v).tolist() for k, v in self.kl.items()},
                           "weight_scale": self.weight_scale}, indent=1)


def run_accuracy(device, n_machines: int = 10, n_units: int = 5, durations_ms=(1e4, 1e5, 1e6), seed: int = 1,
                 synapses=SYNAPSES, show_progress: bool = False) -> AccuracyResult:
    """Sample `n_machines` random machines (W, b ~ N(0, 0.5²), drawn from `seed`) for the longest
    duration; D_KL at each shorter duration is taken from the start of the same run."""
    durations = sorted(float(d) for d in durations_ms)
    kl, scales = {}, {}
    for name, (u, tau, fitted_scale) in synapses.items():
        params = sampling_params(u, tau)
        cal = calibration_for(device, params)
        if not fitted_scale:
            cal = replace(cal, weight_scale=1.0)
        scales[name] = cal.weight_scale
        rng = np.random.default_rng(seed)
        rows = np.zeros((len(durations), n_machines))
        with progress_bar(n_machines, f"D_KL, {name} synapses", "machine", enabled=show_progress) as bar:
            for m in range(n_machines):
                bm = random_bm(n_units, rng)
                p = exact_distribution(bm)
                run = sample(bm, device, durations[-1], seed=seed * 1000 + m, params=params, calibration=cal)
                for d, dur in enumerate(durations):
                    n_ticks = int(round(dur / params.dt_ms))
                    keep = run.spike_tick < n_ticks
                    q = joint_distribution(run.spike_tick[keep], run.spike_neuron[keep], n_units, n_ticks,
                                           run.tau_ref_ticks)
                    rows[d, m] = kl_divergence(p, q)
                bar.update(1)
        kl[name] = rows
    return AccuracyResult(durations, kl, scales, seed)


def write_report(result: AccuracyResult, out_dir: str | Path) -> list[Path]:
    """accuracy.json, accuracy.md (table) and accuracy.png in out_dir."""
    from .plots import plot_kl_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.json").write_text(result.to_json())
    med = result.medians()
    lines = ["| sampling time (ms) | " + " | ".join(f"median D_KL, {k}" for k in med) + " |",
             "| --- | " + " | ".join("---" for _ in med) + " |"]
    for d, dur in enumerate(result.durations_ms):
        lines.append(f"| {dur:.0e} | " + " | ".join(f"{med[k][d]:.4f}" for k in med) + " |")
    (out / "accuracy.md").write_text("\n".join(lines) + "\n")
    png = plot_kl_curves(result.durations_ms, result.kl, out / "accuracy.png",
                         f"{len(next(iter(result.kl.values()))[0])} random 5-unit machines, seed {result.seed}")
    return [out / "accuracy.json", out / "accuracy.md", png]


@dataclass
class FitAccuracyResult:
    """D_KL(p_sampled ‖ p_exact) per machine, with the calibrated mapping alone and fitted."""

    n_units: int
    sigma: float
    duration_ms: float
    seed: int
    calibrated: list
    fitted: list
    fit_seconds: list

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "median_calibrated": float(np.median(self.calibrated)),
                           "median_fitted": float(np.median(self.fitted))}, indent=1)


def fit_accuracy_machine(device, bm, duration_ms: float, run_seed: int) -> tuple[float, float, float]:
    """One machine of fit-accuracy, a pure function of its arguments (`device` by name is opened here):
    D_KL(p_sampled ‖ p_exact) with the calibrated mapping and fitted, and the seconds the fit took."""
    import time

    from .device import open_device
    from .fitting import FitSettings, fit_machine
    from .reference import reference_for

    device = open_device(device) if isinstance(device, str) else device
    params = sampling_params()
    cal = calibration_for(device, params)
    n_ticks = int(round(duration_ms / params.dt_ms))
    p = exact_distribution(bm)

    def dkl(fit):
        run = sample(bm, device, duration_ms, seed=run_seed, params=params, calibration=cal, fit=fit)
        q = joint_distribution(run.spike_tick, run.spike_neuron, bm.n, n_ticks, run.tau_ref_ticks)
        return kl_divergence(q, p)

    before = dkl(None)
    t0 = time.perf_counter()
    fit = fit_machine(bm, device, params, cal, reference_for(bm), FitSettings(), seed=run_seed)
    secs = time.perf_counter() - t0
    return before, dkl(fit), secs


def run_fit_accuracy(device, n_machines: int = 10, n_units: int = 8, sigma: float = 1.5, duration_ms: float = 1e5,
                     seed: int = 1, show_progress: bool = False, executor: str = "serial"):
    """Random machines (W, b ~ N(0, sigma²), drawn from `seed`), each sampled for duration_ms with the
    calibrated mapping and with the mapping fitted to the device (lifstp.fitting, default settings,
    exact targets); D_KL(p_sampled ‖ p_exact), the direction that stays finite when a state is never
    visited, from time-weighted states. Each machine is a task on `executor` (lifstp.executor);
    returns the result and the TaskRun (which says what was retried or failed)."""
    from .executor import Task, run_tasks

    rng = np.random.default_rng(seed)
    machines = [random_bm(n_units, rng, sigma) for _ in range(n_machines)]
    name = device.name if executor != "serial" else device  # a serial run reuses the device it was given
    tasks = [Task({"machine": m, "seed": seed * 1000 + m}, dict(device=name, bm=bm, duration_ms=duration_ms,
                                                                run_seed=seed * 1000 + m))
             for m, bm in enumerate(machines)]
    ran = run_tasks(fit_accuracy_machine, tasks, executor, "D_KL before and after the fit", show_progress)
    done = [r for r in ran.results if r is not None]
    result = FitAccuracyResult(n_units, sigma, duration_ms, seed, [r[0] for r in done], [r[1] for r in done],
                               [r[2] for r in done])
    return result, ran
