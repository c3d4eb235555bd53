"""Bad command lines of `lifstp sample`: each gets a one-line message, a non-zero exit and no output
file, and the output path is checked before the run; a good one writes exactly the path given."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from lifstp import protocol as P
from lifstp.bm import random_bm, save
from lifstp.cli import main
from lifstp.emulator import GoldenEmulator
from lifstp.link import DeviceClient, DeviceError, LoopbackTransport


@pytest.fixture
def bm(tmp_path):
    path = tmp_path / "bm.npz"
    save(path, random_bm(4, np.random.default_rng(0)))
    return path


def _lying_npz(path):
    """W's header claims 10^6 x 10^6 float64, the file holds 64 bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W.npy", header.getvalue() + bytes(64))
        b = io.BytesIO()
        np.save(b, np.zeros(3))
        z.writestr("b.npy", b.getvalue())


def _huge_w(path):
    W = np.full((3, 3), 1e308)
    W[0, 1] = W[1, 0] = -1e308
    np.fill_diagonal(W, 0)
    np.savez(path, W=W, b=np.zeros(3))


@pytest.mark.parametrize("extra,needle", [
    (["--duration-ms", "inf"], "positive number of ms"),
    (["--duration-ms", "nan"], "positive number of ms"),
    (["--duration-ms", "0.01"], "0 ticks"),
    (["--duration-ms", "1e12"], "a run is 1 .."),
    (["--duration-ms", "10", "--device", "verilator", "BIG"], "up to 1024 neurons"),
    (["--duration-ms", "10", "LYING"], "claims shape (1000000, 1000000)"),
    (["--duration-ms", "10", "HUGE_W"], "too large to map"),
])
def test_bad_sample_arguments(tmp_path, bm, capsys, extra, needle):
    if "BIG" in extra:
        W = np.zeros((1100, 1100))
        np.savez(tmp_path / "big.npz", W=W, b=np.zeros(1100))
        extra = [e for e in extra if e != "BIG"]
        bm = tmp_path / "big.npz"
    if "LYING" in extra:
        extra, bm = extra[:-1], tmp_path / "lying.npz"
        _lying_npz(bm)
    if "HUGE_W" in extra:
        extra, bm = extra[:-1], tmp_path / "huge_w.npz"
        _huge_w(bm)
    out = tmp_path / "run.npz"
    with _no_warnings():
        code = main(["sample", str(bm), "--out", str(out), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code != 0 and needle in err and err.count("\n") == 1 and err.startswith("lifstp: error:"), err
    assert not out.exists() and not list(tmp_path.glob("run.npz*")) and not list(tmp_path.glob(".run*"))


class _no_warnings:
    """No warning (numpy's RuntimeWarning included) escapes before the message."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings(record=True)
        self.caught = self._ctx.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        assert not [w for w in self.caught if issubclass(w.category, RuntimeWarning)], self.caught
        return False


@pytest.mark.parametrize("where", ["folder", "unwritable", "under_a_file"])
def test_output_path_checked_before_the_run(tmp_path, bm, capsys, monkeypatch, where):
    import lifstp.sampling as sampling

    def no_run(*a, **k):
        raise AssertionError("the run started before --out was checked")

    monkeypatch.setattr(sampling, "sample", no_run)
    (tmp_path / "file").write_text("x")
    out = {"folder": tmp_path, "unwritable": tmp_path / "ro" / "run.npz",
           "under_a_file": tmp_path / "file" / "run.npz"}[where]
    if where == "unwritable":
        (tmp_path / "ro").mkdir(mode=0o500)
        monkeypatch.setattr("tempfile.TemporaryFile", _refuse)  # root ignores the mode
    assert main(["sample", str(bm), "--duration-ms", "10", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lifstp: error: --out") and err.count("\n") == 1


def _refuse(*a, **k):
    raise PermissionError(13, "Permission denied")


@pytest.mark.parametrize("name", ["run.out", "run"])
def test_out_is_written_exactly(tmp_path, bm, capsys, name):
    out = tmp_path / name
    assert main(["sample", str(bm), "--duration-ms", "20", "--out", str(out), "--no-progress"]) == 0
    assert out.is_file() and sorted(p.name for p in tmp_path.iterdir()) == sorted(["bm.npz", name])
    assert f"wrote {out}:" in capsys.readouterr().out
    with np.load(out) as run:
        assert int(run["n_ticks"]) == 200


class _Liar(GoldenEmulator):
    """A device whose IDENTIFY reply is cut short, or reports impossible formats."""

    def __init__(self, how):
        super().__init__(4)
        self.how = how

    def _identify(self, f):
        good = P.IDENTIFY_PAYLOAD.pack(P.PROTOCOL_VERSION, 4, 1, *P.format_fields(self.formats), P.MAX_PAYLOAD,
                                       int(P.Readout.SPIKES))
        bad = good[:5] if self.how == "short" else good[:4] + bytes(8) + good[12:]
        self._send(P.Op.IDENTIFY | P.REPLY_BIT, f.seq, bad)


@pytest.mark.parametrize("how,needle", [("short", "has 5 bytes"), ("formats", "formats this host cannot use")])
def test_bad_identify_reply(how, needle):
    with pytest.raises(DeviceError, match=needle):
        DeviceClient(LoopbackTransport(_Liar(how))).identify()
