"""The independent reference of a Boltzmann machine's distribution: exact moments by enumeration for
small machines, parallel tempering (PT) for large ones.

Parallel tempering runs one chain per inverse temperature of a ladder β_0 = 1 > β_1 > … > β_{K−1},
each a sequential single-site Gibbs sampler of p_β(z) ∝ exp(β·(½ zᵀWz + bᵀz)); after every sweep,
neighbouring chains propose to swap their states, accepted with probability
min(1, exp((β_k − β_{k+1})·(L(z_{k+1}) − L(z_k)))), L(z) = ½ zᵀWz + bᵀz. Only the β = 1 chain is kept.
Several independent ladders run side by side, and a reference is always two independent runs, so that
its own convergence is measured (their disagreement), not assumed.

The sampler knows nothing of spiking or of the core: it is the yardstick the spiking sampler and the
network-specific fit (lifstp.fitting) are held against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from .bm import BoltzmannMachine, exact_distribution, all_states, MAX_EXACT_UNITS
from .errors import InputError
from .progress import progress_bar

#: The default ladder: 20 inverse temperatures evenly spaced from 1 down to 0.2.
DEFAULT_BETAS = tuple(float(x) for x in np.linspace(1.0, 0.2, 20))
#: Largest machine whose moments the fit takes from exact enumeration rather than from a sampler.
MAX_EXACT_FIT_UNITS = 20
#: A tempering reference whose two runs disagree by more than this (mean absolute difference of their
#: unit means) is too short to trust.
MAX_REFERENCE_DISAGREEMENT = 0.02


@numba.njit(cache=True)
def _seed(seed):
    np.random.seed(seed)


@numba.njit(cache=True)
def _log_weight(z, field, b):
    """L(z) = ½ zᵀWz + bᵀz from the local fields field = b + Wz: ½ Σ z_i (field_i + b_i)."""
    s = 0.0
    for i in range(z.shape[0]):
        if z[i]:
            s += field[i] + b[i]
    return 0.5 * s


@numba.njit(cache=True)
def _sweep(W, b, z, field, beta):
    """One sequential Gibbs sweep at inverse temperature beta; fields kept in step with each flip."""
    n = z.shape[0]
    for i in range(n):
        x = beta * field[i]
        p = 1.0 / (1.0 + np.exp(-x))
        new = 1 if np.random.random() < p else 0
        if new != z[i]:
            d = 1.0 if new else -1.0
            z[i] = new
            for j in range(n):
                field[j] += d * W[i, j]


@numba.njit(cache=True)
def _pt_run(W, b, betas, z, field, n_keep, thin, burn, out, swaps_tried, swaps_taken):
    """Advance one ladder (z, field: K × n) by burn sweeps, then keep the β = 1 state every thin sweeps."""
    K = betas.shape[0]
    kept = 0
    step = 0
    while kept < n_keep:
        for k in range(K):
            _sweep(W, b, z[k], field[k], betas[k])
        # Swap proposals between neighbours, alternating even and odd pairs.
        for k in range(step % 2, K - 1, 2):
            la = _log_weight(z[k], field[k], b)
            lb = _log_weight(z[k + 1], field[k + 1], b)
            logr = (betas[k] - betas[k + 1]) * (lb - la)
            swaps_tried[k] += 1
            if logr >= 0 or np.random.random() < np.exp(logr):
                swaps_taken[k] += 1
                for i in range(z.shape[1]):
                    t = z[k, i]
                    z[k, i] = z[k + 1, i]
                    z[k + 1, i] = t
                    f = field[k, i]
                    field[k, i] = field[k + 1, i]
                    field[k + 1, i] = f
        step += 1
        if step > burn and (step - burn) % thin == 0:
            for i in range(z.shape[1]):
                out[kept, i] = z[0, i]
            kept += 1
    return step


@dataclass(frozen=True)
class TemperingRun:
    """The β = 1 states of one parallel-tempering run (samples × n, uint8, ladders one after another),
    with its ladder, the sweeps it took and the swap acceptance between each pair of neighbours."""

    states: np.ndarray
    betas: tuple
    n_ladders: int
    sweeps: int
    swap_acceptance: np.ndarray
    wall_s: float


def _checked_ladder(betas, n_samples, n_ladders, thin, burn_in) -> np.ndarray:
    """The ladder as an array, or InputError for a ladder or run length tempering cannot use."""
    betas = np.asarray(betas, np.float64)
    if betas.ndim != 1 or betas.size < 2 or betas[0] != 1.0 or np.any(np.diff(betas) >= 0) or betas[-1] <= 0:
        raise InputError(f"a tempering ladder starts at β = 1 and falls strictly to a positive β, got {betas.tolist()}")
    if n_samples < n_ladders or n_ladders < 1 or thin < 1 or burn_in < 0:
        raise InputError(f"parallel tempering needs n_samples >= n_ladders >= 1, thin >= 1 and burn_in >= 0, got "
                         f"{n_samples}, {n_ladders}, {thin}, {burn_in}")
    return betas


def parallel_tempering(bm: BoltzmannMachine, n_samples: int, seed: int, betas=DEFAULT_BETAS, n_ladders: int = 8,
                       thin: int = 2, burn_in: int = 500, show_progress: bool = False) -> TemperingRun:
    """n_samples states of `bm` at β = 1 from n_ladders independent ladders (each n_samples/n_ladders
    states, thin sweeps apart, after burn_in sweeps)."""
    betas = _checked_ladder(betas, n_samples, n_ladders, thin, burn_in)
    W = np.ascontiguousarray(bm.W, np.float64)
    b = np.ascontiguousarray(bm.b, np.float64)
    n, K = b.size, betas.size
    rng = np.random.default_rng(seed)
    per = -(-n_samples // n_ladders)
    out = np.zeros((per * n_ladders, n), np.uint8)
    tried = np.zeros(K - 1, np.int64)
    taken = np.zeros(K - 1, np.int64)
    sweeps = 0
    t0 = time.perf_counter()
    with progress_bar(n_ladders, "parallel tempering", "ladder", enabled=show_progress) as bar:
        for k in range(n_ladders):
            _seed(int(rng.integers(2**31)))
            z = (rng.random((K, n)) < 0.5).astype(np.uint8)
            field = b[None, :] + z.astype(np.float64) @ W
            sweeps += _pt_run(W, b, betas, z, field, per, thin, burn_in, out[k * per:(k + 1) * per], tried, taken)
            bar.update(1)
    acc = taken / np.maximum(tried, 1)
    return TemperingRun(out[:n_samples], tuple(betas.tolist()), n_ladders, int(sweeps) * K, acc,
                        time.perf_counter() - t0)


def geometric_ladder(n_temperatures: int, beta_min: float) -> tuple:
    """n_temperatures inverse temperatures falling geometrically from 1 to beta_min: equal ratios keep
    the swap acceptance roughly even along the ladder when the energy spread grows as β falls."""
    if n_temperatures < 2 or not 0 < beta_min < 1:
        raise InputError(f"a geometric ladder needs at least 2 temperatures and 0 < β_min < 1, got "
                         f"{n_temperatures} and {beta_min}")
    return tuple(float(x) for x in np.geomspace(1.0, beta_min, n_temperatures))


def bipartite_layers(bm: BoltzmannMachine):
    """(first, second) index arrays if the machine's units split into two layers with no coupling
    inside either (an RBM), else None. The first layer is the connected component of unit 0's side."""
    n = bm.n
    adj = bm.W != 0
    side = np.full(n, -1, np.int64)
    for start in range(n):
        if side[start] >= 0:
            continue
        side[start] = 0
        stack = [start]
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(adj[i]):
                if side[j] < 0:
                    side[j] = 1 - side[i]
                    stack.append(j)
                elif side[j] == side[i]:
                    return None
    a, b = np.flatnonzero(side == 0), np.flatnonzero(side == 1)
    return (a, b) if a.size and b.size else None


def _bernoulli(rng, x):
    """Binary states with p = sigmoid(x), elementwise."""
    return (rng.random(x.shape) * (1.0 + np.exp(-x)) < 1.0).astype(np.float64)


def block_tempering(bm: BoltzmannMachine, layers, n_samples: int, seed: int, betas=DEFAULT_BETAS,
                    n_ladders: int = 8, thin: int = 2, burn_in: int = 500,
                    show_progress: bool = False) -> TemperingRun:
    """Parallel tempering of a bipartite machine with block Gibbs sweeps (one layer given the other,
    then back), every ladder and temperature at once as matrix products: the same chain as
    parallel_tempering's in distribution, ~100× cheaper on an RBM of a thousand units. Swaps as there."""
    betas = _checked_ladder(betas, n_samples, n_ladders, thin, burn_in)
    ia, ib = layers
    Wab = np.ascontiguousarray(bm.W[np.ix_(ia, ib)], np.float64)
    ba, bb = bm.b[ia].astype(np.float64), bm.b[ib].astype(np.float64)
    K, L = betas.size, n_ladders
    beta = betas[None, :, None]                       # ladders × temperatures × units
    rng = np.random.default_rng(seed)
    za = (rng.random((L, K, ia.size)) < 0.5).astype(np.float64)
    zb = np.zeros((L, K, ib.size))
    per = -(-n_samples // L)
    out = np.zeros((L, per, bm.n), np.uint8)
    tried = np.zeros(K - 1, np.int64)
    taken = np.zeros(K - 1, np.int64)
    t0 = time.perf_counter()
    steps = burn_in + per * thin
    # One BLAS thread: the products are small, and a fixed summation order keeps runs reproducible.
    with threadpool_limits(limits=1), progress_bar(steps, "parallel tempering (block)", "sweep",
                                                   enabled=show_progress) as bar:
        for step in range(steps):
            zb = _bernoulli(rng, beta * (za @ Wab + bb))
            fa = zb @ Wab.T + ba
            za = _bernoulli(rng, beta * fa)
            # L(z) = zaᵀ Wab zb + baᵀza + bbᵀzb, from the fields of the last half-sweep.
            logw = np.einsum("lku,lku->lk", za, fa) + zb @ bb
            pairs = np.arange(step % 2, K - 1, 2)
            logr = (betas[pairs] - betas[pairs + 1])[None, :] * (logw[:, pairs + 1] - logw[:, pairs])
            accept = np.log(rng.random(logr.shape)) < logr
            tried[pairs] += L
            taken[pairs] += accept.sum(axis=0)
            li, pi = np.nonzero(accept)
            lo, hi = pairs[pi], pairs[pi] + 1
            za[li, lo], za[li, hi] = za[li, hi], za[li, lo].copy()
            zb[li, lo], zb[li, hi] = zb[li, hi], zb[li, lo].copy()
            if step >= burn_in and (step - burn_in) % thin == thin - 1:
                k = (step - burn_in) // thin
                out[:, k, ia] = za[:, 0]
                out[:, k, ib] = zb[:, 0]
            bar.update(1)
    acc = taken / np.maximum(tried, 1)
    return TemperingRun(out.reshape(L * per, bm.n)[:n_samples], tuple(betas.tolist()), L, steps * K, acc,
                        time.perf_counter() - t0)


@dataclass(frozen=True)
class Moments:
    """First and second moments of binary units: mean[i] = ⟨z_i⟩, second[i, j] = ⟨z_i z_j⟩."""

    mean: np.ndarray
    second: np.ndarray

    @classmethod
    def of_states(cls, states) -> "Moments":
        z = np.asarray(states, np.float64)
        if z.ndim != 2 or len(z) == 0:
            raise InputError(f"moments need a non-empty samples × units array, got shape {z.shape}")
        return cls(z.mean(axis=0), z.T @ z / len(z))

    @classmethod
    def of_distribution(cls, p, n: int) -> "Moments":
        """Moments of a distribution over the 2^n state codes (unit k is bit k)."""
        z = all_states(n)
        p = np.asarray(p, np.float64)
        return cls(p @ z, (z * p[:, None]).T @ z)

    def covariance(self) -> np.ndarray:
        return self.second - np.outer(self.mean, self.mean)


def exact_moments(bm: BoltzmannMachine) -> Moments:
    """Moments of `bm` by enumeration (at most MAX_EXACT_UNITS units)."""
    return Moments.of_distribution(exact_distribution(bm), bm.n)


@dataclass(frozen=True)
class Reference:
    """The reference of a machine: its moments, where they came from, and how far two independent
    estimates of them disagree (0 for exact enumeration). `runs` holds the tempering runs, if any."""

    moments: Moments
    source: str
    marginal_disagreement: float
    runs: tuple = ()

    @property
    def trusted(self) -> bool:
        """Whether the two runs agree within MAX_REFERENCE_DISAGREEMENT (exact references always do)."""
        return self.marginal_disagreement <= MAX_REFERENCE_DISAGREEMENT

    def check_trusted(self) -> "Reference":
        """This reference, or InputError if it is too short to trust."""
        if not self.trusted:
            raise InputError(f"the reference is too short to trust: its two independent runs disagree by "
                             f"{self.marginal_disagreement:.3f} in the unit means (at most {MAX_REFERENCE_DISAGREEMENT}); "
                             "take more reference samples")
        return self

    def states(self) -> np.ndarray:
        """All reference states (both runs), samples × n."""
        if not self.runs:
            raise InputError("an exact reference has no samples")
        return np.concatenate([r.states for r in self.runs])

    def run(self, k: int) -> "Reference":
        """The reference made of run k alone (its disagreement with the other run kept)."""
        r = self.runs[k]
        return Reference(Moments.of_states(r.states), f"{self.source}, run {k + 1} of {len(self.runs)}",
                         self.marginal_disagreement, (r,))


def tempering_reference(bm: BoltzmannMachine, n_samples: int, seed: int, betas=DEFAULT_BETAS, n_ladders: int = 8,
                        thin: int = 2, burn_in: int = 500, show_progress: bool = False) -> Reference:
    """Two independent parallel-tempering runs of n_samples states each (seeds derived from `seed`;
    block Gibbs sweeps when the machine is bipartite, single-site sweeps otherwise);
    the reference moments pool both, and their disagreement is the mean absolute difference of the
    two runs' unit means."""
    layers = bipartite_layers(bm)
    if layers is None:
        runs = tuple(parallel_tempering(bm, n_samples, seed * 2 + k + 1_000_003, betas, n_ladders, thin,
                                        burn_in, show_progress=show_progress) for k in range(2))
    else:
        runs = tuple(block_tempering(bm, layers, n_samples, seed * 2 + k + 1_000_003, betas, n_ladders, thin,
                                     burn_in=burn_in, show_progress=show_progress) for k in range(2))
    m = [Moments.of_states(r.states) for r in runs]
    pooled = Moments((m[0].mean + m[1].mean) / 2, (m[0].second + m[1].second) / 2)
    source = (f"parallel tempering{' (block Gibbs)' if layers is not None else ''}, {len(betas)} inverse "
              f"temperatures {betas[0]:g} … {betas[-1]:g}, "
              f"{n_ladders} ladders, 2 × {n_samples} states")
    return Reference(pooled, source, float(np.abs(m[0].mean - m[1].mean).mean()), runs)


def reference_for(bm: BoltzmannMachine, n_samples: int = 20_000, seed: int = 0, show_progress: bool = False) -> Reference:
    """Exact moments for machines of at most MAX_EXACT_FIT_UNITS units, parallel tempering beyond."""
    if bm.n <= min(MAX_EXACT_FIT_UNITS, MAX_EXACT_UNITS):
        return Reference(exact_moments(bm), "exact enumeration", 0.0)
    return tempering_reference(bm, n_samples, seed, show_progress=show_progress)
