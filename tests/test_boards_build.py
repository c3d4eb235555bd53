"""Bitstreams in CI, with the YoWASP tools: the default configuration of each board builds, fits and
meets its clock; a configuration that does not fit is refused with a message that says what does not.

The iCEBreaker builds the core with one shared multiplier (docs/boards.md, "iCEBreaker"); more lanes
need more SB_MAC16 than the iCE40UP5K's 8, which is the refused case. YoWASP compiles its tools on
first use (about a minute, cached under ~/.cache/YoWASP). The default builds run in the background
while the rest of the suite runs (tests/conftest.py); their tests come last and read the results.
"""

from __future__ import annotations

import pytest

import board_builds


@pytest.mark.parametrize("board,bitstream,min_bytes", [("icebreaker", "lifstp.bin", 100_000),
                                                       ("ulx3s-85f", "lifstp.bit", 100_000)])
def test_default_build_fits_and_meets_timing(board, bitstream, min_bytes):
    """`lifstp build --board B` of the default configuration."""
    built = _background_build(board)
    print(built.out, built.err, f"build wall time {built.wall_s:.0f} s")
    assert built.returncode == 0, built.err
    assert "meets" in built.out and "MISSES" not in built.out
    assert (built.out_dir / bitstream).stat().st_size > min_bytes


def test_icebreaker_build_that_does_not_fit_is_refused_clearly():
    built = _background_build("icebreaker-2-lanes")  # board_builds.BUILDS says why it cannot fit
    assert built.returncode == 2
    assert "Traceback" not in built.err
    assert "ICESTORM_DSP" in built.err, built.err
    assert not (built.out_dir / "lifstp.bin").exists()


def _background_build(name: str) -> board_builds.BuildResult:
    assert board_builds.running is not None, "tests/conftest.py did not start the board builds"
    return board_builds.running.result(name)
