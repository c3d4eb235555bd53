"""Network-specific fitting: the core's parameters adjusted in the loop until the device samples the
machine it is given (docs/fitting.md).

The calibrated mapping (lifstp.mapping) is right for weakly coupled machines only: real PSPs are not
rectangular, a refractory neuron ignores its input, noise and recurrent input interact. The fit
corrects the whole mapping for one machine on one device by moment matching, which is Boltzmann
learning with the target's own moments as the data:

    b' ← b' + η_t·(⟨z⟩_target − ⟨z⟩_device),    W' ← W' + η_t·M ⊙ (⟨zzᵀ⟩_target − ⟨zzᵀ⟩_device),

where (W', b') is the effective machine handed to the mapping (so the leak potentials and the integer
weights on the core follow from it), M the machine's own connectivity (a restricted machine stays
restricted) and the targets exact by enumeration (≤ 20 units) or from the parallel-tempering
reference (lifstp.reference). The device's moments come from a free run with its states read every
few ticks. The step falls as η_t = η / (1 + t/t_half) and the result is the average of the iterates of
the last half of the steps (Polyak averaging), which cancels most of the noise of the moment estimates.

The fitted network is quantised by the device like any other; the fit is judged on the device after
quantisation, so the last step's error includes what the weight format costs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lifstp.golden_model.spec import Formats, ModelError, ModelParams

from .analysis import run_states
from .bm import BoltzmannMachine
from .device import Device
from .errors import InputError, LifstpError
from .mapping import Calibration, map_bm
from .network import Network
from .progress import progress_bar
from .readout import sampler_readout
from .reference import Moments, Reference

#: Version of the FIT.npz layout.
FIT_FILE_VERSION = 1


class FitError(LifstpError):
    """A fit that did not converge, or a FIT.npz that does not belong to the machine or device."""


@dataclass(frozen=True)
class FitSettings:
    """How a fit runs: `steps` updates, each from `chains` independent free runs (seeds of their own)
    sharing `duration_ms` of model time (states read every `every_ticks` ticks after `burn_in_ms` in
    each; several short chains see more of a sticky machine's modes than one long one), step size `lr` halving by step `t_half` (default: a quarter
    of the steps); it has converged when the unit means of the final, averaged machine are within
    `tolerance` (mean absolute error) of the targets, judged on `final_runs` independent runs of
    `final_duration_ms` each, pooled (a slowly mixing sampler's single run says more about which modes
    it happened to visit than about its distribution)."""

    steps: int = 40
    duration_ms: float = 20_000.0
    chains: int = 1
    lr: float = 1.0
    t_half: float | None = None
    every_ticks: int = 10
    burn_in_ms: float = 100.0
    final_duration_ms: float = 50_000.0
    final_runs: int = 4
    tolerance: float = 0.03

    def __post_init__(self) -> None:
        for name in ("steps", "chains", "every_ticks", "final_runs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"fit setting {name} must be a whole number of at least 1, got {value!r}")
        for name in ("duration_ms", "lr", "final_duration_ms", "tolerance"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise InputError(f"fit setting {name} must be a positive finite number, got {value!r}")
        if not (isinstance(self.burn_in_ms, (int, float)) and np.isfinite(self.burn_in_ms) and self.burn_in_ms >= 0):
            raise InputError(f"fit setting burn_in_ms must be a finite number >= 0, got {self.burn_in_ms!r}")
        if self.t_half is not None and not (np.isfinite(self.t_half) and self.t_half > 0):
            raise InputError(f"fit setting t_half must be None or a positive number of steps, got {self.t_half!r}")


@dataclass(frozen=True)
class FitStep:
    """One step: the error of the device's unit means (mean absolute) and of its pairwise
    co-activations over the machine's connections (mean absolute), before the update."""

    step: int
    lr: float
    mean_error: float
    pair_error: float


def digest(bm: BoltzmannMachine) -> str:
    """A fingerprint of a machine's W and b: a FIT.npz belongs to exactly one machine."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(bm.W, np.float64).tobytes())
    h.update(np.ascontiguousarray(bm.b, np.float64).tobytes())
    return h.hexdigest()[:16]


def device_moments(device, network: Network, n_ticks: int, seed: int, every_ticks: int = 10,
                   burn_in_ticks: int = 0) -> Moments:
    """Unit means and co-activations of a free run of `network` on `device`, states read every
    `every_ticks` ticks from `burn_in_ticks` on. A device that prefers states (a board) sends those
    states in its states readout instead of every spike, so the fit is not paced by its UART; the
    states are the same."""
    run = device.run(network, n_ticks, seed, **sampler_readout(device, (0, network.n), every_ticks, burn_in_ticks))
    _, states = run_states(run, every_ticks, burn_in_ticks, network.n, network.params.tau_ref_ticks)
    return Moments.of_states(states)


def pooled_moments(device, network: Network, n_ticks: int, seeds, every_ticks: int, burn_in_ticks: int) -> Moments:
    """Moments of independent runs of `network`, one per seed, pooled with equal weight."""
    runs = [device_moments(device, network, n_ticks, s, every_ticks, burn_in_ticks) for s in seeds]
    return Moments(np.mean([m.mean for m in runs], axis=0), np.mean([m.second for m in runs], axis=0))


def moment_errors(target: Moments, got: Moments, mask: np.ndarray) -> tuple[float, float]:
    """(mean absolute error of the unit means, mean absolute error of ⟨z_i z_j⟩ over the pairs in mask)."""
    pairs = np.abs(target.second - got.second)[mask]
    return float(np.abs(target.mean - got.mean).mean()), float(pairs.mean()) if pairs.size else 0.0


@dataclass
class Fit:
    """A machine fitted to a device: `fitted` is the effective machine (theory units) that the
    calibrated mapping turns into the network on the core; `bm` the machine it samples."""

    bm: BoltzmannMachine
    fitted: BoltzmannMachine
    params: ModelParams
    calibration: Calibration
    formats: Formats
    reference_source: str
    history: list = field(default_factory=list)
    final_mean_error: float = float("nan")
    final_pair_error: float = float("nan")
    converged: bool = False
    settings: FitSettings = field(default_factory=FitSettings)

    def network(self) -> Network:
        """The network the fit found, in physical units."""
        return map_bm(self.fitted, self.params, self.calibration)

    def save(self, path) -> None:
        """Write FIT.npz (the fitted machine, what it was fitted for, and its convergence history) to a
        path (exactly that name) or an open binary file."""
        meta = {"version": FIT_FILE_VERSION, "bm_digest": digest(self.bm), "params": asdict(self.params),
                "formats": asdict(self.formats), "reference_source": self.reference_source,
                "calibration": {"v_p05_mv": self.calibration.v_p05_mv, "alpha_mv": self.calibration.alpha_mv,
                                "weight_scale": self.calibration.weight_scale},
                "history": [asdict(s) for s in self.history], "final_mean_error": self.final_mean_error,
                "final_pair_error": self.final_pair_error, "converged": self.converged,
                "settings": asdict(self.settings)}
        arrays = dict(W=self.fitted.W, b=self.fitted.b, target_W=self.bm.W, target_b=self.bm.b,
                      calibration_e_l_mv=self.calibration.e_l_mv, calibration_p_on=self.calibration.p_on,
                      metadata=np.array(json.dumps(meta)))
        if hasattr(path, "write"):
            np.savez(path, **arrays)
        else:
            with open(path, "wb") as f:  # a file object: numpy writes exactly this path, no ".npz" added
                np.savez(f, **arrays)


def load_fit(path: str | Path, bm: BoltzmannMachine | None = None, formats: Formats | None = None,
             params: ModelParams | None = None) -> Fit:
    """Read FIT.npz; InputError if it is not a readable FIT.npz, FitError (check_fit) if it was made
    for another machine, formats or parameters than the ones given, or did not converge."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    needed = ("W", "b", "target_W", "target_b", "calibration_e_l_mv", "calibration_p_on", "metadata")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in needed if k not in data.files]
            if missing:
                raise InputError(f"{path}: not a FIT.npz (missing {', '.join(missing)}); write one with `lifstp fit`")
            arrays = {k: np.array(data[k]) for k in needed}
        meta = json.loads(str(arrays["metadata"]))
        if not isinstance(meta, dict) or meta.get("version") != FIT_FILE_VERSION:
            version = meta.get("version") if isinstance(meta, dict) else None
            raise InputError(f"{path}: FIT.npz version {version!r}, this lifstp reads {FIT_FILE_VERSION}")
        c = meta["calibration"]
        fit = Fit(BoltzmannMachine(arrays["target_W"], arrays["target_b"]), BoltzmannMachine(arrays["W"], arrays["b"]),
                  ModelParams(**meta["params"]),
                  Calibration(c["v_p05_mv"], c["alpha_mv"], arrays["calibration_e_l_mv"], arrays["calibration_p_on"],
                              c["weight_scale"]),
                  Formats(**meta["formats"]), meta["reference_source"], [FitStep(**h) for h in meta["history"]],
                  meta["final_mean_error"], meta["final_pair_error"], bool(meta["converged"]),
                  FitSettings(**meta["settings"]))
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, ModelError) as exc:  # json errors are ValueErrors
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(f"{path}: not a readable FIT.npz ({type(exc).__name__}: {what})") from None
    if fit.bm.n and digest(fit.bm) != meta["bm_digest"]:
        raise InputError(f"{path}: its target machine does not match its own fingerprint (a damaged file)")
    return check_fit(fit, bm, formats, params, str(path))


def check_fit(fit: Fit, bm: BoltzmannMachine | None = None, formats: Formats | None = None,
              params: ModelParams | None = None, where: str = "the fit") -> Fit:
    """`fit`, or FitError if it was made for another machine, other formats or other core parameters
    than the ones given (None: not checked), or did not converge."""
    if bm is not None and digest(bm) != digest(fit.bm):
        raise FitError(f"{where} was fitted for another machine (fingerprint {digest(fit.bm)}, this machine "
                       f"{digest(bm)}); fit this one with `lifstp fit`")
    if formats is not None and fit.formats != formats:
        raise FitError(f"{where} was fitted for a device with formats {fit.formats}, this device has {formats}")
    if params is not None and fit.params != params:
        diff = [k for k, v in asdict(params).items() if getattr(fit.params, k) != v]
        raise FitError(f"{where} was fitted with other core parameters ({', '.join(diff)}); fit again with these")
    if not fit.converged:
        raise FitError(f"{where}: this fit did not converge (final unit-mean error {fit.final_mean_error:.3g} "
                       f"> tolerance {fit.settings.tolerance:g}); fit again with more steps or longer runs")
    return fit


def fit_machine(bm: BoltzmannMachine, device, params: ModelParams, calibration: Calibration, reference: Reference,
                settings: FitSettings = FitSettings(), seed: int = 0, show_progress: bool = False) -> Fit:
    """Fit the mapping of `bm` to `device` by moment matching in the loop against `reference`.

    Returns the Fit with converged set (never raises for non-convergence: the caller decides; the
    command line refuses to use an unconverged fit)."""
    target = reference.moments
    if target.mean.shape != (bm.n,):
        raise InputError(f"the reference has {target.mean.size} units, the machine {bm.n}")
    mask = bm.W != 0
    W, b = bm.W.copy(), bm.b.copy()
    burn = int(round(settings.burn_in_ms / params.dt_ms))
    n_ticks = burn + int(round(settings.duration_ms / settings.chains / params.dt_ms))
    if n_ticks <= burn + settings.every_ticks:
        raise InputError(f"fit runs of {settings.duration_ms} ms over {settings.chains} chains are too short")
    t_half = settings.t_half if settings.t_half is not None else max(settings.steps / 4, 1.0)
    avg_from = settings.steps // 2
    W_sum, b_sum, n_avg = np.zeros_like(W), np.zeros_like(b), 0
    history = []
    with progress_bar(settings.steps + 1, "fitting", "step", enabled=show_progress) as bar:
        for t in range(settings.steps):
            net = map_bm(BoltzmannMachine(W, b), params, calibration)
            got = pooled_moments(device, net, n_ticks, [seed + 7919 * t + c * 31 for c in range(settings.chains)],
                                 settings.every_ticks, burn)
            eta = settings.lr / (1 + t / t_half)
            err = moment_errors(target, got, mask)
            history.append(FitStep(t, eta, *err))
            b = b + eta * (target.mean - got.mean)
            dW = np.where(mask, target.second - got.second, 0.0)
            W = W + eta * (dW + dW.T) / 2  # symmetric by construction; the average removes rounding asymmetry
            if t >= avg_from:
                W_sum += W
                b_sum += b
                n_avg += 1
            bar.set_postfix(mean_err=f"{err[0]:.4f}", pair_err=f"{err[1]:.4f}")
            bar.update(1)
        fitted = BoltzmannMachine(W_sum / n_avg, b_sum / n_avg)
        final_ticks = burn + int(round(settings.final_duration_ms / params.dt_ms))
        got = pooled_moments(device, map_bm(fitted, params, calibration), final_ticks,
                             [seed + 104_729 + r for r in range(settings.final_runs)], settings.every_ticks, burn)
        final = moment_errors(target, got, mask)
        bar.update(1)
    return Fit(bm, fitted, params, calibration, device.formats, reference.source, history, final[0], final[1],
               final[0] <= settings.tolerance, settings)


def check_fit_matches(fit: Fit, bm: BoltzmannMachine, device: Device, params: ModelParams) -> Fit:
    """check_fit against this machine, this device's formats and these parameters."""
    return check_fit(fit, bm, device.formats, params)
