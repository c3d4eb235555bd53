"""The samplers compared, by name, behind one call: run_sampler(name, rbm, n_samples, seed, ...) ->
(v: samples × visible uint8, pixels then labels; stats: sweeps, unit_updates, wall_s, ...).

Names: `gibbs` (1 sweep per sample), `gibbs<k>` (k sweeps per sample, e.g. gibbs100: as much compute
per sample as a spiking sampler, which runs τ_ref = 100 ticks per sample), `ast` (adaptive simulated
tempering, β = 1 … 0.5), `lif` (renewing synapses, no depression), `lif_stp` (depression, U and τ_rec
given, default spiking.MIXING_STP: U = 0.1, τ_rec = 280 ms), `lif_stp_paper` (the paper's U = 0.01,
τ_rec = 280 ms).
"""

from __future__ import annotations

import re

from lifstp.errors import InputError

from .gibbs import gibbs_samples
from .rbm import RBM
from .spiking import MIXING_STP, PAPER_STP, lif_params, spiking_samples
from .tempering import ast_samples

KNOWN = ("gibbs", "gibbs<k>", "ast", "lif", "lif_stp", "lif_stp_paper")


def check_name(name: str) -> str:
    if name in ("gibbs", "ast", "lif", "lif_stp", "lif_stp_paper") or re.fullmatch(r"gibbs[1-9][0-9]*", name):
        return name
    raise InputError(f"unknown sampler {name!r}; expected one of {', '.join(KNOWN)}")


def run_sampler(name: str, rbm: RBM, n_samples: int, seed: int = 0, device=None, stp=MIXING_STP,
                show_progress: bool = False, ast_levels: int = 20):
    """Draw n_samples from `rbm` with the named sampler (spiking ones need `device`)."""
    check_name(name)
    if name.startswith("gibbs"):
        k = int(name[5:] or 1)
        return gibbs_samples(rbm.W, rbm.a, rbm.c, n_samples, k=k, seed=seed)
    if name == "ast":
        from .tempering import default_betas

        return ast_samples(rbm.W, rbm.a, rbm.c, n_samples, seed=seed, betas=default_betas(ast_levels))
    if device is None:
        raise InputError(f"sampler {name} runs on a device; none given")
    params = lif_params({"lif": None, "lif_stp": stp, "lif_stp_paper": PAPER_STP}[name])
    return spiking_samples(rbm, device, params, n_samples, seed=seed, show_progress=show_progress, desc=name)
