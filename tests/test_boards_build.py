"""Bitstreams in CI, with the YoWASP tools: the default configuration of each board builds, fits and
meets its clock; a configuration that does not fit is refused with a message that says what does not.

The iCEBreaker builds the core with one shared multiplier (docs/boards.md, "iCEBreaker"); more lanes
need more SB_MAC16 than the iCE40UP5K's 8, which is the refused case. YoWASP compiles its tools on
first use (about a minute, cached under ~/.cache/YoWASP).
"""

from __future__ import annotations

import time

import pytest

from lifstp.cli import main


@pytest.mark.parametrize("board,bitstream,min_bytes", [("icebreaker", "lifstp.bin", 100_000),
                                                       ("ulx3s-85f", "lifstp.bit", 100_000)])
def test_default_build_fits_and_meets_timing(board, bitstream, min_bytes, tmp_path, capsys):
    t0 = time.perf_counter()
    rc = main(["build", "--board", board, "--out", str(tmp_path / board)])
    out = capsys.readouterr()
    print(out.out, out.err, f"build wall time {time.perf_counter() - t0:.0f} s")
    assert rc == 0, out.err
    assert "meets" in out.out and "MISSES" not in out.out
    assert (tmp_path / board / bitstream).stat().st_size > min_bytes


def test_icebreaker_build_that_does_not_fit_is_refused_clearly(tmp_path, capsys):
    # two lanes of the shared core: 2 x 4 SB_MAC16 for the neuron updates and 2 x 2 for the synaptic
    # events, where the device has 8
    rc = main(["build", "--board", "icebreaker", "--lanes", "2", "--out", str(tmp_path / "icebreaker")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    assert "ICESTORM_DSP" in err, err
    assert not (tmp_path / "icebreaker" / "lifstp.bin").exists()
