"""The one device interface (lifstp.device.Device): every device implements it, tells its formats,
N and lanes without building anything, and calibration and fitting use the device's own formats."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from lifstp import device as device_mod
from lifstp import sampling
from lifstp.bm import random_bm
from lifstp.device import VERILATOR_MAX_NEURONS, Device, GoldenDevice, ProtocolDevice, VerilatorDevice, open_device
from lifstp.emulator import GoldenEmulator
from lifstp.fitting import FitError, check_fit_matches
from lifstp.errors import InputError
from lifstp.golden_model.spec import Formats, format_preset
from lifstp.link import DeviceClient, LoopbackTransport
from lifstp.sampling import calibration_for, sampling_params

#: Formats other than the defaults, valid for small cores: a device with these must not be calibrated
#: or fitted as if it had the defaults.
OTHER = replace(Formats(), frac_w=11, width_w=15)


def _board(formats: Formats, n: int = 8) -> ProtocolDevice:
    """What `--device serial:` gives, over an in-process emulator instead of a UART."""
    return ProtocolDevice("serial:test", DeviceClient(LoopbackTransport(GoldenEmulator(n, formats))))


@pytest.fixture
def no_build(monkeypatch):
    """Any Verilator build fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a Verilator core was built")

    monkeypatch.setattr(device_mod, "device_binary", refuse)


def test_every_device_implements_the_interface(no_build):
    for dev in (open_device("golden"), open_device("verilator"), _board(Formats())):
        assert isinstance(dev, Device)
        assert isinstance(dev.formats, Formats) and dev.lanes >= 1
        dev.close()


def test_formats_n_and_lanes_without_a_build(no_build):
    assert GoldenDevice().formats == Formats() and GoldenDevice(OTHER).formats == OTHER
    assert GoldenDevice().max_neurons is None
    verilator = VerilatorDevice(lanes=2, formats=OTHER)
    assert (verilator.formats, verilator.lanes, verilator.max_neurons) == (OTHER, 2, VERILATOR_MAX_NEURONS)
    assert VerilatorDevice().formats == Formats()


def test_a_software_device_named_with_a_formats_preset(no_build):
    """golden:dsp18 and verilator:dsp18 have those formats and keep the name (a worker process reopens a
    device by its name); golden:default is plain golden; an unknown preset is refused by name."""
    dsp18 = format_preset("dsp18")
    for spec in ("golden:dsp18", "verilator:dsp18"):
        dev = open_device(spec)
        assert (dev.name, dev.formats) == (spec, dsp18)
        assert open_device(dev.name).formats == dsp18
    assert open_device("golden:default").name == "golden"
    with pytest.raises(InputError, match="golden:wide: unknown formats 'wide'"):
        open_device("golden:wide")


def test_info_names_the_formats_preset(capsys):
    """`lifstp info` names a preset's formats (and prints the fields of any other)."""
    from lifstp.cli import main

    assert main(["info", "--device", "golden:dsp18"]) == 0
    out = capsys.readouterr().out
    assert "device: golden:dsp18" in out and "formats: dsp18: Formats(frac_v=9, width_v=17" in out


def test_a_board_reports_its_formats_n_and_lanes_by_identify():
    board = _board(OTHER, n=12)
    assert (board.formats, board.max_neurons, board.lanes) == (OTHER, 12, 1)
    assert board.info()["formats"] == OTHER


def test_the_verilator_device_builds_cores_with_its_formats(monkeypatch):
    built = []

    def record(n, lanes, formats=None, log=None):
        built.append((n, lanes, formats))
        raise RuntimeError("stop here")

    monkeypatch.setattr(device_mod, "device_binary", record)
    with pytest.raises(RuntimeError, match="stop here"):
        VerilatorDevice(lanes=2, formats=OTHER).open(5)
    assert built == [(6, 2, OTHER)]


@pytest.mark.parametrize("make", [lambda: _board(OTHER), lambda: GoldenDevice(OTHER),
                                  lambda: VerilatorDevice(formats=OTHER)], ids=["serial", "golden", "verilator"])
def test_calibration_runs_with_the_devices_formats(monkeypatch, no_build, make):
    """calibration_for calibrates on a golden device with the formats of the device it is given."""
    made = []

    class Recording(GoldenDevice):
        def __init__(self, formats=None):
            made.append(formats)
            super().__init__(formats)

    monkeypatch.setattr(sampling, "GoldenDevice", Recording)
    monkeypatch.setattr(sampling, "calibrate", lambda params, run: ("calibrated", params))
    monkeypatch.setattr(sampling, "_CALIBRATIONS", {})
    params = sampling_params()
    assert calibration_for(make(), params) == ("calibrated", params)
    assert made == [OTHER]


def test_a_fit_belongs_to_the_formats_of_its_device():
    """check_fit_matches compares a fit's formats with the device's own (a board's from IDENTIFY)."""
    params = sampling_params()
    bm = random_bm(3, np.random.default_rng(0))
    fit = SimpleNamespace(bm=bm, formats=Formats(), params=params, converged=True)
    assert check_fit_matches(fit, bm, _board(Formats()), params) is fit
    with pytest.raises(FitError, match="formats"):
        check_fit_matches(fit, bm, _board(OTHER), params)
    fit.converged, fit.final_mean_error, fit.settings = False, 0.1, SimpleNamespace(tolerance=0.03)
    with pytest.raises(FitError, match="did not converge"):
        check_fit_matches(fit, bm, _board(Formats()), params)
