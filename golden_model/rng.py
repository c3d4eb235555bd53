"""The background-noise generator: one xorshift64 state per neuron, seeded with SplitMix64.

Each neuron owns a 64-bit xorshift state (Marsaglia, "Xorshift RNGs", J. Stat. Softw. 8(14), 2003,
triple 13, 7, 17), stepped exactly once per tick whatever the neuron does, so the noise a neuron sees
depends only on (seed, neuron, tick), never on the number of lanes or the order of processing.
The state of neuron i is seeded as splitmix64(seed + (i + 1) * 0x9E3779B97F4A7C15) (Steele, Lea and
Flood, OOPSLA 2014), replaced by a fixed constant in the (never observed) case that it is zero.
Both functions are numba-compiled and also callable from Python.
"""

from __future__ import annotations

import numba
import numpy as np

from .spec import NOISE_UNIFORM_BITS

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
ZERO_STATE_REPLACEMENT = 0x2545F4914F6CDD1D


@numba.njit(numba.uint64(numba.uint64), cache=True, inline="always")
def xorshift64_step(x):
    """One step of xorshift64 (13, 7, 17)."""
    x ^= x << numba.uint64(13)
    x ^= x >> numba.uint64(7)
    x ^= x << numba.uint64(17)
    return x


@numba.njit(cache=True, inline="always")
def noise_uniforms(x):
    """The two 16-bit uniforms of a tick, taken from the stepped state: bits 63..48 drive the
    excitatory source, bits 47..32 the inhibitory one (xorshift's high bits are its best)."""
    mask = numba.uint64((1 << NOISE_UNIFORM_BITS) - 1)
    ue = numba.int64((x >> numba.uint64(48)) & mask)
    ui = numba.int64((x >> numba.uint64(32)) & mask)
    return ue, ui


def splitmix64(z: int) -> int:
    """SplitMix64's output function (mixes a 64-bit integer)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def seed_states(seed: int, n_neurons: int) -> np.ndarray:
    """Initial generator states of neurons 0..n_neurons-1 for a seed (any integer, taken mod 2^64)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    base = int(seed) & MASK64
    states = np.empty(n_neurons, dtype=np.uint64)
    for i in range(n_neurons):
        s = splitmix64((base + (i + 1) * GOLDEN_GAMMA) & MASK64)
        states[i] = s if s != 0 else ZERO_STATE_REPLACEMENT
    return states
