"""Data and machine files of the science package: digits split and skews, the MNIST IDX loader on
small generated files, the exact label posterior, BM.npz with unit groups, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from lifstp.bm import BoltzmannMachine, exact_distribution, save
from lifstp.errors import InputError
from lifstp.science.digits import SKEWS, augment_shifts, imbalance, load_digits_binary, split
from lifstp.science.idx import downsample, load_mnist, read_idx, write_idx
from lifstp.science.rbm import RBM, load_machine, save_machine


def test_split_is_stratified_and_disjoint():
    data = load_digits_binary()
    train, test = split(data, 0.2, seed=1)
    assert len(train.y) + len(test.y) == len(data.y)
    np.testing.assert_allclose(train.class_frequencies(), test.class_frequencies(), atol=0.01)
    assert set(np.unique(data.x)) <= {0, 1}


def test_skews_cut_the_named_classes():
    train, _ = split(load_digits_binary(), 0.2, seed=0)
    cut = imbalance(train, "cut5-9")
    before = np.bincount(train.y, minlength=10)
    after = np.bincount(cut.y, minlength=10)
    np.testing.assert_array_equal(after[:5], before[:5])
    np.testing.assert_allclose(after[5:] / before[5:], SKEWS["cut5-9"][5:], atol=0.02)
    with pytest.raises(InputError, match="unknown skew"):
        imbalance(train, "nope")


def test_augment_shifts_five_copies():
    data = load_digits_binary()
    aug = augment_shifts(split(data, 0.5, 0)[1])
    assert aug.x.shape[0] % 5 == 0 and aug.x.max() == 1


@pytest.mark.parametrize("gz", [False, True])
def test_idx_loader_roundtrip_and_downsampling(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"img.idx{suffix}", images)
    write_idx(tmp_path / f"lab.idx{suffix}", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / f"img.idx{suffix}"), images)
    data = load_mnist(tmp_path / f"img.idx{suffix}", tmp_path / f"lab.idx{suffix}", factor=4)
    assert data.x.shape == (7, 49) and data.shape == (7, 7)
    expected = (images.reshape(7, 7, 4, 7, 4).mean(axis=(2, 4)) >= 128).reshape(7, 49)
    np.testing.assert_array_equal(data.x, expected)
    np.testing.assert_array_equal(data.y, labels)


def test_idx_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(InputError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(InputError, match="expected 5 data bytes"):
        read_idx(tmp_path / "short")
    with pytest.raises(InputError):
        downsample(np.zeros((1, 28, 28)), 3)


def small_rbm(seed=0):
    rng = np.random.default_rng(seed)
    return RBM(rng.normal(0, 1, (5, 3)), rng.normal(0, 0.5, 5), rng.normal(0, 0.5, 3), n_pixels=2, n_labels=3)


def test_label_posterior_is_exact():
    """p(label | pixels) from the formula equals the conditional of the enumerated joint, labels one-hot."""
    rbm = small_rbm()
    codes = np.arange(1 << rbm.n)
    bits = (codes[:, None] >> np.arange(rbm.n)) & 1
    pz = exact_distribution(rbm.to_bm())
    for pixels in ([0, 0], [1, 0], [1, 1]):
        probs = []
        for lab in range(3):
            onehot = np.eye(3, dtype=int)[lab]
            mask = (bits[:, :2] == pixels).all(axis=1) & (bits[:, 2:5] == onehot).all(axis=1)
            probs.append(pz[mask].sum())
        probs = np.array(probs) / np.sum(probs)
        np.testing.assert_allclose(np.exp(rbm.label_log_posterior(np.array([pixels]))[0]), probs, rtol=1e-9)


def test_machine_file_roundtrip_and_missing_groups(tmp_path):
    rbm = small_rbm()
    save_machine(tmp_path / "bm.npz", rbm)
    with np.load(tmp_path / "bm.npz") as f:
        assert {"W", "b", "pixel_units", "label_units", "hidden_units", "metadata"} <= set(f.files)
        W = f["W"]
        assert W.shape == (8, 8) and np.allclose(W, W.T) and not np.diag(W).any()
    back = load_machine(tmp_path / "bm.npz")
    np.testing.assert_allclose(back.W, rbm.W)
    np.testing.assert_allclose(back.a, rbm.a)
    save(tmp_path / "plain.npz", BoltzmannMachine(np.zeros((3, 3)), np.zeros(3)))
    with pytest.raises(InputError, match="missing unit group"):
        load_machine(tmp_path / "plain.npz")


def test_train_command_on_mnist_idx(tmp_path, capsys):
    from lifstp.cli import main

    rng = np.random.default_rng(1)
    write_idx(tmp_path / "img.idx.gz", rng.integers(0, 256, (60, 28, 28)))
    write_idx(tmp_path / "lab.idx.gz", np.repeat(np.arange(10), 6))
    out = tmp_path / "bm.npz"
    assert main(["train", "--mnist-images", str(tmp_path / "img.idx.gz"), "--mnist-labels",
                 str(tmp_path / "lab.idx.gz"), "--downsample", "4", "--epochs", "1", "--hidden", "8",
                 "--out", str(out), "--no-progress"]) == 0
    back = load_machine(out)
    assert (back.n_pixels, back.n_labels, back.n_hidden) == (49, 10, 8)
    assert main(["train", "--mnist-images", str(tmp_path / "img.idx.gz"), "--out", str(out)]) == 2
    assert "go together" in capsys.readouterr().err
