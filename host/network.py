"""A network in physical units, as the host hands it to a device: the core's parameters, each
neuron's leak potential and clamp mode, and the recurrent weights."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from lifstp.golden_model.spec import ClampMode, ModelParams

from .errors import InputError


@dataclass(frozen=True)
class Network:
    """params: the core's global parameters; e_l_mv: leak potential per neuron (mV);
    weights_pa: recurrent weights, [pre, post], in pA; clamp: ClampMode per neuron (default FREE)."""

    params: ModelParams
    e_l_mv: np.ndarray
    weights_pa: np.ndarray
    clamp: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        e_l = np.asarray(self.e_l_mv, dtype=np.float64)
        n = e_l.size
        if e_l.ndim != 1 or n == 0:
            raise InputError(f"e_l_mv must be a non-empty vector, got shape {e_l.shape}")
        w = np.asarray(self.weights_pa, dtype=np.float64)
        if w.shape != (n, n):
            raise InputError(f"weights_pa must be {n}×{n} to match e_l_mv, got {w.shape}")
        clamp = np.zeros(n, np.int8) if self.clamp is None else np.asarray(self.clamp, dtype=np.int8)
        if clamp.shape != (n,):
            raise InputError(f"clamp must have {n} entries, got shape {clamp.shape}")
        if not np.isin(clamp, [int(m) for m in ClampMode]).all():
            raise InputError(f"clamp holds modes outside {[int(m) for m in ClampMode]}")
        object.__setattr__(self, "e_l_mv", e_l)
        object.__setattr__(self, "weights_pa", w)
        object.__setattr__(self, "clamp", clamp)

    @property
    def n(self) -> int:
        return self.e_l_mv.size

    def with_clamp(self, clamp: np.ndarray) -> "Network":
        return replace(self, clamp=clamp)
