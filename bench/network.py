"""The benchmark network, shared by the golden model and the peer scripts (bench/peers/*.py take the
same arguments and draw the same weights)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifstp.golden_model.spec import ModelParams


@dataclass(frozen=True)
class BenchNetwork:
    """N neurons, dense random recurrent weights W ~ N(0, sigma²) nA (no autapses), drawn with
    numpy's default_rng(seed) as W[pre, post]; all leak potentials e_l_mv; the default noise of the
    model (2000 Hz, ±90 pA per source); depression U, tau_rec (renewing by default)."""

    n: int
    duration_ms: float = 1000.0
    seed: int = 1
    weight_std_na: float = 0.02
    e_l_mv: float = -53.0
    stp_u: float = 1.0
    stp_tau_rec_ms: float = 10.0

    def params(self) -> ModelParams:
        return ModelParams(stp_u=self.stp_u, stp_tau_rec_ms=self.stp_tau_rec_ms)

    def weights_pa(self) -> np.ndarray:
        w = np.random.default_rng(self.seed).normal(0.0, self.weight_std_na, size=(self.n, self.n)) * 1000.0
        np.fill_diagonal(w, 0.0)
        return w

    def peer_args(self) -> list[str]:
        """Command-line arguments of bench/peers/*.py for this network."""
        return ["--n", str(self.n), "--duration-ms", str(self.duration_ms), "--seed", str(self.seed),
                "--dense-weight-std", str(self.weight_std_na), "--e-l-mv", str(self.e_l_mv),
                "--stp-u", str(self.stp_u), "--stp-tau-rec-ms", str(self.stp_tau_rec_ms), "--threads", "1"]
