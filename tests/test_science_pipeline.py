"""The science pipeline end to end on small settings: a quickly trained digits RBM classifies well
above chance (exactly and clamped on LIF neurons), STP raises the confident class-switch rate of LIF
sampling over renewing synapses on this sticky model, the commands write their files, and bad input
gets a clear message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lifstp.device import open_device
from lifstp.errors import InputError
from lifstp.cli import main
from lifstp.science.digits import load_digits_binary, split
from lifstp.fitting import FitSettings
from lifstp.science.experiments import FitCache, model_reference
from lifstp.science.measures import fit_classifier, summarise
from lifstp.science.rbm import TrainConfig, save_machine, train_images
from lifstp.science.samplers import run_sampler
from lifstp.science.spiking import classify_clamped, lif_params


#: A short fit for the command tests (the full and --quick settings are measured in docs/results.md).
FAST_FIT = ["--fit-steps", "16", "--fit-step-ms", "30000"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, test = split(load_digits_binary(), 0.2, seed=0)
    rbm = train_images(train, TrainConfig(n_hidden=50, epochs=40, seed=0), test)
    path = tmp_path_factory.mktemp("bm") / "bm.npz"
    save_machine(path, rbm)
    return train, test, rbm, path


def test_exact_posterior_accuracy_well_above_chance(trained):
    _, test, rbm, _ = trained
    assert rbm.accuracy(test) > 0.8


def test_clamped_lif_classifies(trained):
    _, test, rbm, _ = trained
    device = open_device("golden")
    for stp in (None, (0.1, 280.0)):
        pred, counts, _ = classify_clamped(rbm, device, lif_params(stp), test.x[:60], duration_ms=100.0)
        assert np.mean(pred == test.y[:60]) > 0.7, stp
        assert counts.sum() > 0


@pytest.mark.parametrize("device_name", ["golden", "golden:dsp18"])
def test_stp_raises_confident_switch_rate(trained, device_name):
    """The fitted renewing machine without and with depression (U = 0.1, τ_rec = 280 ms, no refit), two
    seeds each: depression raises the confident class-switch rate; and the fit brings the visible
    marginals closer to the parallel-tempering reference than the calibrated mapping alone. At the
    default formats and at the dsp18 formats (every product on one 18 × 18 multiplier)."""
    train, test, rbm, _ = trained
    clf = fit_classifier(train)
    device = open_device(device_name)
    mref = model_reference(rbm, 3000, 0, clf)
    fits = FitCache(rbm, device, mref.fit_target, FitSettings(steps=16, duration_ms=30_000.0, lr=0.5), 0)
    for seed in (0, 1):
        res = {}
        for name in ("lif_unfitted", "lif", "lif_stp_norefit"):
            v, stats = run_sampler(name, rbm, 3000, seed=seed, device=device, fits=fits)
            assert v.shape == (3000, 74) and v.dtype == np.uint8
            res[name] = summarise(v, 64, clf, test, stats, reference_v=mref.visible)
        rates = {n: r.confident_switches_per_1000 for n, r in res.items()}
        assert rates["lif_stp_norefit"] > 1.2 * rates["lif"], rates
        assert res["lif"].fidelity.marginal_mae < res["lif_unfitted"].fidelity.marginal_mae, res


def test_mixing_command_writes_samples_tables_figures(trained, tmp_path, capsys):
    _, _, rbm, path = trained
    out = tmp_path / "mix"
    rc = main(["experiment", "mixing", "--quick", "--seeds", "1", "--bm", str(path), "--out", str(out),
               "--samplers", "gibbs,gibbs100_b0.8,ast,lif,lif_b0.8,lif_stp", "--no-progress"] + FAST_FIT)
    assert rc == 0
    for name in ("gibbs", "ast", "lif", "lif_stp"):
        with np.load(out / "samples" / f"{name}.npz") as f:
            assert f["v"].dtype == np.uint8 and f["v"].shape == (1000, 74)
    for f in ("bm.npz", "mixing.json", "mixing.md", "mixing_classes.png", "mixing_isl.png", "mixing_samples.png"):
        assert (out / f).exists(), f
    result = json.loads((out / "mixing.json").read_text())
    assert result["summary"]["ast"]["classes_visited"]["mean"] >= 8
    for name in ("gibbs", "lif", "lif_stp"):
        for key in ("marginal_mae", "pair_cov_mae", "label_one_hot", "tv_to_model", "confident_switches_per_1e9_ops"):
            assert key in result["summary"][name], (name, key)
    reference = result["per_seed"][0]["_meta"]["reference"]
    assert reference["marginal_mae"] < 0.03 and "parallel tempering" in reference["source"]
    printed = capsys.readouterr().out
    assert "| lif_stp |" in printed and "heated control" in printed and "measured against the second" in printed


def test_train_command(tmp_path, capsys):
    out = tmp_path / "bm.npz"
    assert main(["train", "--epochs", "3", "--hidden", "20", "--out", str(out), "--no-progress"]) == 0
    assert "test accuracy of the exact label posterior" in capsys.readouterr().out
    with np.load(out) as f:
        assert f["W"].shape == (94, 94) and list(f["label_units"]) == list(range(64, 74))


def test_bad_input_messages(trained, tmp_path, capsys):
    _, _, rbm, path = trained
    with pytest.raises(InputError, match="unknown sampler"):
        run_sampler("metropolis", rbm, 10)
    for u in ("-0.1", "1.5", "nan"):
        assert main(["experiment", "mixing", "--quick", "--bm", str(path), "--out", str(tmp_path),
                     "--stp-u", u]) == 2
        assert "stp_u must lie in [0, 1]" in capsys.readouterr().err
    assert main(["experiment", "mixing", "--quick", "--bm", str(path), "--out", str(tmp_path),
                 "--samplers", "gibbs,hmc"]) == 2
    assert "unknown sampler 'hmc'" in capsys.readouterr().err
    plain = tmp_path / "plain.npz"
    np.savez(plain, W=np.zeros((74 + 5, 74 + 5)), b=np.zeros(79))
    assert main(["experiment", "sweep", "--quick", "--bm", str(plain), "--out", str(tmp_path)]) == 2
    assert "missing unit group" in capsys.readouterr().err


def test_sweep_classify_imbalanced_quick(trained, tmp_path, capsys):
    """The other three experiments in --quick mode write their tables and figures."""
    _, _, _, path = trained
    assert main(["experiment", "sweep", "--quick", "--bm", str(path), "--out", str(tmp_path / "sw"),
                 "--no-progress"] + FAST_FIT) == 0
    sweep = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert set(sweep["grid"]) == {"0.1,10", "0.1,280", "1,10", "1,280"}
    assert (tmp_path / "sw" / "sweep.png").exists() and (tmp_path / "sw" / "samples" / "lif.npz").exists()
    assert main(["experiment", "classify", "--quick", "--bm", str(path), "--out", str(tmp_path / "cl"),
                 "--no-progress"] + FAST_FIT) == 0
    cls = json.loads((tmp_path / "cl" / "classify.json").read_text())
    assert cls["exact_posterior_accuracy"] > 0.8 and cls["lif_accuracy"] > 0.7
    assert main(["experiment", "imbalanced", "--quick", "--seeds", "1", "--skews", "cut5-9",
                 "--samplers", "ast,lif_stp", "--out", str(tmp_path / "im"), "--no-progress"] + FAST_FIT) == 0
    imb = json.loads((tmp_path / "im" / "imbalanced.json").read_text())
    freq = imb["skews"]["cut5-9"]["per_seed"][0]["_meta"]["train_class_frequencies"]
    assert sum(freq[5:]) < 0.2  # classes 5-9 cut to 20 %: about 1/6 of the training set
    assert (tmp_path / "im" / "imbalanced_cut5-9.png").exists()
    assert (tmp_path / "im" / "samples" / "lif_stp_cut5-9.npz").exists()


def test_training_is_reproducible_across_processes(tmp_path):
    """`lifstp train --seed S` twice, in two processes with different BLAS thread counts: the same bytes."""
    import os
    import subprocess
    import sys

    outs = []
    for k, threads in enumerate(("1", "2")):
        out = tmp_path / f"bm{k}.npz"
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        subprocess.run([sys.executable, "-m", "lifstp.cli", "train", "--epochs", "3", "--seed", "7",
                        "--out", str(out), "--no-progress"], check=True, env=env, capture_output=True)
        outs.append(out)
    with np.load(outs[0]) as a, np.load(outs[1]) as b:
        assert a["W"].tobytes() == b["W"].tobytes() and a["b"].tobytes() == b["b"].tobytes()


def test_training_in_the_loop(tmp_path, capsys):
    """The spiking network's own samples as the negative phase: the machine still learns to classify
    (far above chance), by its exact posterior and clamped on the device, and the comparison with
    classical training writes its table."""
    out = tmp_path / "inloop"
    assert main(["experiment", "inloop", "--quick", "--epochs", "12", "--negative-ms", "100", "--out", str(out),
                 "--no-progress"] + FAST_FIT) == 0
    result = json.loads((out / "inloop.json").read_text())
    rows = result["rows"]
    assert result["negative_runs"] == 12 * (1438 // 32)  # one device run per update
    assert rows["inloop"]["exact_posterior_accuracy"] > 0.6 and rows["inloop"]["clamped_accuracy"] > 0.5
    assert rows["classical_fitted"]["exact_posterior_accuracy"] > 0.6
    for row in rows.values():
        assert 0 <= row["data_marginal_mae"] < 0.5 and 0 <= row["tv_to_train"] <= 1
    assert "| inloop |" in capsys.readouterr().out
    with np.load(out / "bm_inloop.npz") as f:
        assert json.loads(str(f["metadata"]))["negative_phase"] == "lif"


def test_paper_size_dataset_and_mnist_folder(tmp_path):
    """--paper-size without MNIST: the digits upsampled to 28×28, said so; --mnist DIR without the
    files: a message naming them."""
    from lifstp.science.experiments import Dataset

    d = Dataset(paper=True)
    data = d.load()
    assert data.x.shape == (1797, 784) and data.shape == (28, 28) and d.n_hidden == 500
    assert 0.2 < data.x.mean() < 0.5 and "UPSAMPLED" in d.describe()
    with pytest.raises(InputError, match="train-images-idx3-ubyte"):
        Dataset(paper=True, mnist=str(tmp_path)).load()
