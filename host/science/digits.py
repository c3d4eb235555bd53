"""The image data: scikit-learn's 8×8 handwritten digits, binarised, split into stratified train and
test sets, optionally made class-imbalanced; and the visible vectors (pixels, then one-hot labels)
a Boltzmann machine with label units is trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifstp.errors import InputError

N_CLASSES = 10


@dataclass
class ImageSet:
    """Binary images (samples × pixels, uint8) and their labels (int64), with an image shape."""

    x: np.ndarray
    y: np.ndarray
    shape: tuple

    @property
    def n_pixels(self) -> int:
        return self.x.shape[1]

    def class_frequencies(self) -> np.ndarray:
        return np.bincount(self.y, minlength=N_CLASSES) / max(len(self.y), 1)


def load_digits_binary(threshold: float = 8.0) -> ImageSet:
    """sklearn's 1797 digits (grey levels 0..16), pixel = 1 iff grey level >= threshold."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return ImageSet((d.data >= threshold).astype(np.uint8), d.target.astype(np.int64), (8, 8))


def load_digits_upsampled(side: int = 28, threshold: float = 8.0) -> ImageSet:
    """sklearn's digits brought to side × side pixels (bilinear interpolation of the grey levels, then
    the same threshold): a stand-in of MNIST's size (28 × 28) when no MNIST files are given."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    if side < 8:
        raise InputError(f"upsampling needs a side of at least 8 pixels, got {side}")
    d = load_digits()
    grey = zoom(d.images, (1, side / 8, side / 8), order=1)
    return ImageSet((grey >= threshold).astype(np.uint8).reshape(len(grey), -1), d.target.astype(np.int64), (side, side))


def split(data: ImageSet, test_fraction: float = 0.2, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Stratified train/test split (each class split in the same proportion)."""
    if not 0 < test_fraction < 1:
        raise InputError(f"test fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(data.y):
        idx = np.flatnonzero(data.y == c)
        rng.shuffle(idx)
        test.extend(idx[:int(round(test_fraction * idx.size))])
    mask = np.zeros(len(data.y), bool)
    mask[test] = True
    return (ImageSet(data.x[~mask], data.y[~mask], data.shape), ImageSet(data.x[mask], data.y[mask], data.shape))


#: Named class skews: fraction of each class's training images kept.
SKEWS = {
    "balanced": np.ones(N_CLASSES),
    "cut5-9": np.array([1.0] * 5 + [0.2] * 5),        # classes 5-9 cut to 20 %
    "linear": np.linspace(1.0, 0.1, N_CLASSES),        # class k keeps 1 - 0.1 k, 1.0 down to 0.1
}


def imbalance(data: ImageSet, skew: str, seed: int = 0) -> ImageSet:
    """Keep the fraction SKEWS[skew][c] of each class c's images (a random subset)."""
    if skew not in SKEWS:
        raise InputError(f"unknown skew {skew!r}; expected one of {', '.join(SKEWS)}")
    keep_frac = SKEWS[skew]
    rng = np.random.default_rng(seed + 7919)
    keep = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(data.y == c)
        rng.shuffle(idx)
        keep.extend(idx[:max(1, int(round(keep_frac[c] * idx.size)))] if idx.size else [])
    keep = np.sort(np.asarray(keep, dtype=np.int64))
    return ImageSet(data.x[keep], data.y[keep], data.shape)


def visible_vectors(data: ImageSet) -> np.ndarray:
    """Rows [pixels, one-hot label] as float64: the visible layer of an RBM with label units."""
    onehot = np.zeros((len(data.y), N_CLASSES))
    onehot[np.arange(len(data.y)), data.y] = 1.0
    return np.hstack([data.x.astype(np.float64), onehot])


def augment_shifts(data: ImageSet) -> ImageSet:
    """The images and their copies shifted by one pixel up, down, left and right (zero fill): 5× the
    data, a standard cheap augmentation that helps small training sets generalise."""
    h, w = data.shape
    imgs = data.x.reshape(-1, h, w)
    out = [imgs]
    for axis, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        s = np.roll(imgs, step, axis=axis)
        if axis == 1:
            s[:, 0 if step > 0 else -1, :] = 0
        else:
            s[:, :, 0 if step > 0 else -1] = 0
        out.append(s)
    return ImageSet(np.concatenate(out).reshape(-1, h * w), np.tile(data.y, 5), data.shape)
