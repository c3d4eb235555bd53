"""Boltzmann machines: the BM.npz file format, its validation, and exact distributions by enumeration.

A Boltzmann machine over binary units z has p(z) ∝ exp(½ zᵀWz + bᵀz), W symmetric with zero diagonal.
BM.npz holds `W` (n × n) and `b` (n) in these theory units (README, "Command line").
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

#: Largest machine whose distribution is enumerated exactly (2^n states).
MAX_EXACT_UNITS = 24


@dataclass(frozen=True)
class BoltzmannMachine:
    """Weights W (n × n, symmetric, zero diagonal) and biases b (n), float64."""

    W: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        validate(self.W, self.b, "BoltzmannMachine")

    @property
    def n(self) -> int:
        return self.b.size


def validate(W: np.ndarray, b: np.ndarray, where: str) -> None:
    """Raise InputError naming `where` if (W, b) is not a Boltzmann machine."""
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise InputError(f"{where}: W must be a square matrix, got shape {W.shape}")
    if b.ndim != 1:
        raise InputError(f"{where}: b must be a vector, got shape {b.shape}")
    if W.shape[0] != b.size:
        raise InputError(f"{where}: W is {W.shape[0]}×{W.shape[1]} but b has {b.size} entries")
    if b.size == 0:
        raise InputError(f"{where}: the machine has no units")
    for name, arr in (("W", W), ("b", b)):
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise InputError(f"{where}: {name} must hold real numbers, got dtype {arr.dtype}")
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{where}: {name}{list(idx)} is {arr[idx]} (NaN or infinite)")
    asym = np.abs(W - W.T)
    if asym.max() > 1e-9 * max(1.0, np.abs(W).max()):
        i, j = (int(x) for x in np.unravel_index(np.argmax(asym), W.shape))
        raise InputError(f"{where}: W is not symmetric: W[{i},{j}]={W[i, j]} but W[{j},{i}]={W[j, i]}")
    diag = np.abs(np.diag(W))
    if diag.max() > 0:
        i = int(np.argmax(diag))
        raise InputError(f"{where}: W must have a zero diagonal, but W[{i},{i}]={W[i, i]}")


def load(path: str | Path) -> BoltzmannMachine:
    """Read and validate BM.npz; InputError says what is wrong and where."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a readable .npz file (an .npz is a zip archive of arrays; save one "
                         "with numpy.savez(path, W=W, b=b))")
    _check_headers(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("W", "b") if k not in data.files]
            if missing:
                raise InputError(f"{path}: missing key(s) {', '.join(missing)} (found: {', '.join(data.files) or 'none'})")
            W = np.array(data["W"])
            b = np.array(data["b"])
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None
    validate(W, b, str(path))
    return BoltzmannMachine(W.astype(np.float64), b.astype(np.float64))


def _check_headers(path: Path) -> None:
    """Refuse an array whose .npy header claims more data than the archive holds (before numpy
    allocates what the header claims)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0  # versions 2 and 3 share the layout
                    shape, _, dtype = read(fh)
                    header_bytes = fh.tell()
                if dtype.hasobject:
                    continue  # refused by np.load(allow_pickle=False) with its own message
                claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if claimed > info.file_size - header_bytes:
                    raise InputError(f"{path}: {info.filename[:-4]} claims shape {shape} ({claimed} bytes) but "
                                     f"the file holds {info.file_size - header_bytes} bytes of it")
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None


def save(path: str | Path, bm: BoltzmannMachine, **extra: np.ndarray) -> None:
    """Write BM.npz (W, b and any extra arrays)."""
    np.savez(path, W=bm.W, b=bm.b, **extra)


def random_bm(n: int, rng: np.random.Generator, sigma: float = 0.5) -> BoltzmannMachine:
    """A random machine: W and b drawn from N(0, sigma²), W symmetrised with zero diagonal."""
    upper = np.triu(rng.normal(0.0, sigma, (n, n)), 1)
    return BoltzmannMachine(upper + upper.T, rng.normal(0.0, sigma, n))


def all_states(n: int) -> np.ndarray:
    """All 2^n binary states as rows; row k is the binary code of k with unit 0 as the lowest bit."""
    codes = np.arange(1 << n, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(np.float64)


def exact_distribution(bm: BoltzmannMachine) -> np.ndarray:
    """p(z) for every state code (unit k is bit k of the code), by enumeration."""
    if bm.n > MAX_EXACT_UNITS:
        raise InputError(f"exact enumeration needs at most {MAX_EXACT_UNITS} units, the machine has {bm.n}")
    z = all_states(bm.n)
    energy = 0.5 * np.einsum("si,ij,sj->s", z, bm.W, z) + z @ bm.b
    energy -= energy.max()
    p = np.exp(energy)
    return p / p.sum()
