"""The samplers compared, in one registry: a name says how a sampler runs, what it costs and with which
parameters, and every experiment, the command line and the figures take their samplers from here.

Classical samplers of the RBM itself:

- `gibbs<k>` (k block Gibbs sweeps per sample; `gibbs` is gibbs1, and gibbs100 spends as many unit
  updates per sample as a spiking sampler, which runs τ_ref = 100 ticks per sample);
- `gibbs<k>_b<β>`: the same at constant inverse temperature β < 1 (a heated control);
- `ast`: adaptive simulated tempering, β = 1 … 0.5, samples kept at β = 1.

Spiking samplers on a device (lifstp.science.spiking), each with the mapping it uses:

- `lif`: renewing synapses (U = 1, τ_rec = τ_syn), the machine fitted to the device by moment matching;
- `lif_unfitted`: renewing synapses, the calibrated mapping alone (what the core samples without a fit);
- `lif_b<β>`: the renewing fit with W and b scaled by β (heated, without depression: a control);
- `lif_stp`: depression (U, τ_rec given; default U = 0.1, τ_rec = 280 ms), fitted with depression on;
- `lif_stp_norefit`: the same depression applied to the renewing fit (no refit: one weight scale for
  every U and τ_rec, as the group that proposed depression ran it);
- `lif_stp_paper`: the paper's U = 0.01, τ_rec = 280 ms on the renewing fit, no refit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifstp.errors import InputError

from .gibbs import gibbs_samples
from .rbm import RBM
from .spiking import MIXING_STP, PAPER_STP, lif_params, spiking_samples
from .tempering import ast_samples, default_betas

#: Names (and name patterns) the registry knows.
KNOWN = ("gibbs", "gibbs<k>", "gibbs<k>_b<β>", "ast", "lif", "lif_unfitted", "lif_b<β>", "lif_stp",
         "lif_stp_norefit", "lif_stp_paper")
#: Tempering levels of `ast`.
AST_LEVELS = 20


@dataclass(frozen=True)
class Sampler:
    """One registered sampler. family: gibbs | ast | lif. For gibbs: sweeps per sample and β. For lif:
    stp = (U, τ_rec ms) or None (renewing), fit = "own" (fitted under its own parameters), "renewing"
    (the renewing fit reused), or "none" (calibrated mapping only), and β (scales the fitted machine)."""

    name: str
    family: str
    sweeps_per_sample: int = 1
    beta: float = 1.0
    stp: tuple | None = None
    fit: str = "none"

    @property
    def on_device(self) -> bool:
        return self.family == "lif"

    @property
    def heated(self) -> bool:
        """A constant-temperature control (β < 1)."""
        return self.beta < 1

    def cost(self) -> str:
        """What one sample costs, in the operations of the cost model (docs/science.md)."""
        if self.family == "gibbs":
            return f"{self.sweeps_per_sample} sweep(s) of 2·n_visible·n_hidden multiply-adds"
        if self.family == "ast":
            return "one sweep of 2·n_visible·n_hidden multiply-adds per step, only β = 1 steps kept (plus pilot runs)"
        return "τ_ref ticks of N neuron updates plus each spike's fan-out in synaptic events"

    def describe(self) -> str:
        """One line for tables and figures."""
        if self.family == "gibbs":
            heat = f" at β = {self.beta:g}" if self.beta != 1 else ""
            return f"block Gibbs, {self.sweeps_per_sample} sweep(s) per sample{heat}"
        if self.family == "ast":
            return f"adaptive simulated tempering, {AST_LEVELS} levels β = 1 … 0.5"
        syn = "renewing synapses" if self.stp is None else f"depression U = {self.stp[0]:g}, τ_rec = {self.stp[1]:g} ms"
        how = {"own": "fitted", "renewing": "renewing fit, no refit", "none": "calibrated mapping, no fit"}[self.fit]
        heat = f", W and b × {self.beta:g}" if self.beta != 1 else ""
        return f"LIF, {syn}, {how}{heat}"


def _beta(text: str, name: str) -> float:
    try:
        beta = float(text)
    except ValueError:
        raise InputError(f"sampler {name!r}: {text!r} is not an inverse temperature") from None
    if not 0 < beta < 1:
        raise InputError(f"sampler {name!r}: the inverse temperature must lie in (0, 1), got {beta:g}")
    return beta


def sampler(name: str, stp=MIXING_STP) -> Sampler:
    """The registered sampler of this name (InputError names the known ones); `stp` is lif_stp's
    (U, τ_rec), checked by the one rule of lif_params."""
    lif_params(stp)
    if m := re.fullmatch(r"gibbs([1-9][0-9]*)?(?:_b([0-9]*\.?[0-9]+))?", name):
        return Sampler(name, "gibbs", int(m.group(1) or 1), _beta(m.group(2), name) if m.group(2) else 1.0)
    if name == "ast":
        return Sampler(name, "ast")
    if m := re.fullmatch(r"lif_b([0-9]*\.?[0-9]+)", name):
        return Sampler(name, "lif", beta=_beta(m.group(1), name), fit="renewing")
    fixed = {"lif": (None, "own"), "lif_unfitted": (None, "none"), "lif_stp": (tuple(stp), "own"),
             "lif_stp_norefit": (tuple(stp), "renewing"), "lif_stp_paper": (PAPER_STP, "renewing")}
    if name in fixed:
        s, fit = fixed[name]
        return Sampler(name, "lif", stp=s, fit=fit)
    raise InputError(f"unknown sampler {name!r}; expected one of {', '.join(KNOWN)}")


def check_name(name: str) -> str:
    """`name` if the registry knows it, else InputError."""
    sampler(name)
    return name


def run_sampler(name: str, rbm: RBM, n_samples: int, seed: int = 0, device=None, stp=MIXING_STP,
                show_progress: bool = False, fits=None):
    """Draw n_samples from `rbm` with the named sampler (spiking ones need `device`; fitted ones take
    their fit from `fits(params)`, a callable returning the Fit for core parameters, see
    experiments.FitCache). Returns (v: samples × visible uint8, stats)."""
    spec = sampler(name, stp)
    if spec.family == "gibbs":
        return gibbs_samples(rbm.W, rbm.a, rbm.c, n_samples, k=spec.sweeps_per_sample, seed=seed, beta=spec.beta)
    if spec.family == "ast":
        return ast_samples(rbm.W, rbm.a, rbm.c, n_samples, seed=seed, betas=default_betas(AST_LEVELS))
    if device is None:
        raise InputError(f"sampler {name} runs on a device; none given")
    params = lif_params(spec.stp)
    fit = None
    if spec.fit != "none":
        if fits is None:
            raise InputError(f"sampler {name} uses a fitted machine; no fit was given")
        fit = fits(params if spec.fit == "own" else lif_params(None))
    return spiking_samples(rbm, device, params, n_samples, seed=seed, show_progress=show_progress, desc=name,
                           fit=fit, beta=spec.beta)
