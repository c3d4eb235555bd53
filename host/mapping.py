"""From a Boltzmann machine (W, b in theory units) to a network on the core.

Biases move the leak potentials, E_L,k = v_p05 + α·b_k; weights are chosen so that the PSP averaged
over τ_ref equals α·W_kj (the rectangular PSP of the theory), for current-based exponential synapses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lifstp.golden_model.spec import ModelParams

from .bm import BoltzmannMachine
from .errors import InputError
from .network import Network


@dataclass(frozen=True)
class Calibration:
    """The fitted activation function p_on = σ((E_L − v_p05_mv) / alpha_mv), with the sweep data, and
    the weight scale: the factor on the theoretical PSP-matching weight that sampled best (1 = theory).
    What the mapping reads; lifstp.calibration measures it."""

    v_p05_mv: float
    alpha_mv: float
    e_l_mv: np.ndarray
    p_on: np.ndarray
    weight_scale: float = 1.0

    def predict(self, e_l_mv: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(np.asarray(e_l_mv) - self.v_p05_mv) / self.alpha_mv))


def pa_per_theory_weight(params: ModelParams, alpha_mv: float) -> float:
    """Synaptic weight in pA that stands for a theory weight of 1."""
    tm, ts, tr = params.tau_m_ms, params.tau_syn_ms, params.tau_ref_ms
    c, g = params.c_m_pf, params.g_l_ns
    denom = tm * (1 - math.exp(-tr / tm)) - ts * (1 - math.exp(-tr / ts))
    return alpha_mv * (tr / ts) * (c - g * ts) / denom


def map_bm(bm: BoltzmannMachine, params: ModelParams, cal: Calibration) -> Network:
    """The network that samples from `bm` with neurons calibrated by `cal`."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, not as a warning
        e_l = cal.v_p05_mv + cal.alpha_mv * bm.b
        weights = bm.W * (cal.weight_scale * pa_per_theory_weight(params, cal.alpha_mv))
    for name, theory, mapped in (("b", bm.b, e_l), ("W", bm.W, weights)):
        if not np.isfinite(mapped).all():
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(mapped))[0])
            raise InputError(f"{name}{list(idx)} = {float(theory[idx]):g} is too large to map onto a neuron")
    return Network(params, e_l, weights)
