"""Bad Boltzmann-machine files get a clear message naming the problem, from the API and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from lifstp import bm as bm_mod
from lifstp.cli import main
from lifstp.errors import InputError


def write(tmp_path, name="bm.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


GOOD_W = np.array([[0.0, 0.5, -0.2], [0.5, 0.0, 0.1], [-0.2, 0.1, 0.0]])
GOOD_B = np.array([0.1, -0.3, 0.2])


@pytest.mark.parametrize("arrays,needle", [
    ({"W": GOOD_W + np.triu(np.ones((3, 3)), 1) * 0.3, "b": GOOD_B}, r"not symmetric: W\[0,1\]"),
    ({"W": GOOD_W + np.eye(3) * 0.7, "b": GOOD_B}, r"zero diagonal, but W\[0,0\]"),
    ({"W": GOOD_W[:2], "b": GOOD_B}, "square"),
    ({"W": GOOD_W, "b": GOOD_B[:2]}, "b has 2 entries"),
    ({"W": GOOD_W, "b": GOOD_B.reshape(3, 1)}, "b must be a vector"),
    ({"W": np.where(np.eye(3, k=1) + np.eye(3, k=-1) > 0, np.nan, GOOD_W), "b": GOOD_B}, r"W\[0, 1\] is nan"),
    ({"W": GOOD_W, "b": np.array([0.1, np.inf, 0.0])}, r"b\[1\] is inf"),
    ({"b": GOOD_B}, "missing key.*W"),
    ({"W": GOOD_W, "bias": GOOD_B}, "missing key.*b.*found: W, bias"),
    ({"W": np.array([["a", "b"], ["c", "d"]]), "b": np.array(["x", "y"])}, "real numbers"),
])
def test_malformed_machine_is_named(tmp_path, arrays, needle):
    path = write(tmp_path, **arrays)
    with pytest.raises(InputError, match=needle):
        bm_mod.load(path)


def test_not_an_npz_file(tmp_path):
    path = tmp_path / "bm.npz"
    path.write_text("hello")
    with pytest.raises(InputError, match="not a readable .npz"):
        bm_mod.load(path)
    with pytest.raises(InputError, match="no such file"):
        bm_mod.load(tmp_path / "missing.npz")


def test_cli_reports_bad_file_without_traceback(tmp_path, capsys):
    path = write(tmp_path, W=GOOD_W + np.eye(3), b=GOOD_B)
    out = tmp_path / "run.npz"
    code = main(["sample", str(path), "--device", "golden", "--duration-ms", "10", "--seed", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "zero diagonal" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("args,needle", [
    (["--stp-u", "1.5"], "stp_u must lie in"),
    (["--stp-tau-rec-ms", "-3"], "stp_tau_rec_ms must be a positive"),
    (["--device", "fpga"], "unknown device 'fpga'"),
    (["--device", "golden:dsp9"], "unknown formats 'dsp9'; presets: default, dsp18"),
])
def test_cli_reports_bad_arguments(tmp_path, capsys, args, needle):
    path = write(tmp_path, W=GOOD_W, b=GOOD_B)
    code = main(["sample", str(path), "--duration-ms", "10", "--out", str(tmp_path / "r.npz"), *args])
    assert code == 2
    assert needle in capsys.readouterr().err


def test_exact_distribution_matches_brute_force():
    machine = bm_mod.BoltzmannMachine(GOOD_W, GOOD_B)
    p = bm_mod.exact_distribution(machine)
    brute = []
    for code in range(8):
        z = np.array([(code >> k) & 1 for k in range(3)], dtype=float)
        brute.append(np.exp(0.5 * z @ GOOD_W @ z + GOOD_B @ z))
    np.testing.assert_allclose(p, np.array(brute) / sum(brute), rtol=1e-12)
