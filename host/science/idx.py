"""MNIST's IDX file format (LeCun's ubyte files, optionally gzipped), and downsampling of the images.

An IDX file starts with two zero bytes, a type code (0x08 unsigned byte, ...), the number of dimensions,
then each dimension as a big-endian uint32, then the data in row-major order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from lifstp.errors import InputError

from .digits import ImageSet

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (.gz read transparently); InputError if malformed."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _TYPES:
        raise InputError(f"{path}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{path}: truncated header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_TYPES[code])
    count = int(np.prod(dims)) if dims else 1
    if len(raw) - header != count * dtype.itemsize:
        raise InputError(f"{path}: expected {count * dtype.itemsize} data bytes for shape {dims}, "
                         f"found {len(raw) - header}")
    return np.frombuffer(raw, dtype, count, header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an unsigned-byte IDX file (used by the tests to make small MNIST-like files)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor × factor blocks of images (n × H × W); H and W must be divisible by factor."""
    n, h, w = images.shape
    if factor < 1 or h % factor or w % factor:
        raise InputError(f"cannot downsample {h}×{w} images by {factor}")
    return images.reshape(n, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


def load_mnist(images_path, labels_path, factor: int = 1, threshold: float = 128.0) -> ImageSet:
    """MNIST images and labels from IDX files, downsampled by `factor` (block mean), binarised at
    `threshold` (grey levels 0..255)."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise InputError(f"{images_path}: expected images n × H × W, got shape {images.shape}")
    if labels.ndim != 1 or labels.size != images.shape[0]:
        raise InputError(f"{labels_path}: expected {images.shape[0]} labels, got shape {labels.shape}")
    small = downsample(images.astype(np.float64), factor)
    x = (small >= threshold).astype(np.uint8).reshape(len(small), -1)
    return ImageSet(x, labels.astype(np.int64), small.shape[1:])


#: The MNIST training files looked for in a folder given with --mnist (each may be gzipped).
MNIST_TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


def load_mnist_dir(folder, factor: int = 1) -> ImageSet:
    """MNIST's training images and labels from a folder holding the IDX files (plain or .gz)."""
    folder = Path(folder)
    found = []
    for name in MNIST_TRAIN_FILES:
        hits = [folder / n for n in (name, name + ".gz") if (folder / n).exists()]
        if not hits:
            raise InputError(f"{folder}: no {name} (or {name}.gz); --mnist needs a folder with "
                             f"{' and '.join(MNIST_TRAIN_FILES)}")
        found.append(hits[0])
    return load_mnist(found[0], found[1], factor=factor)
