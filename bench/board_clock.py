"""The clock a board's build meets, from nextpnr's report of that build (never a typed-in number).

The board runs at the clock its PLL makes (`Board.sys_clk_hz`); the build's achieved Fmax of that
clock only says whether timing closes there. A report comes from a path (`--build-report`), from a
build run now into the user cache (`--build`), or by default from the newest build cached there.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lifstp.boards.build import BUILD_STAMP, BuildError, build, read_report
from lifstp.boards.top import Board
from lifstp.cache import cache_dir
from lifstp.golden_model.spec import preset_name

#: The folder of the builds `lifstp bench board --build` runs: `builds/` in the user cache directory.
BUILDS = "builds"


@dataclass(frozen=True)
class BoardClock:
    """The clock a board runs at, and what its build achieves."""

    run_hz: float  #: the board's design clock (from its PLL or oscillator)
    fmax_hz: float  #: the build's achieved Fmax of that clock
    clock_name: str  #: nextpnr's name of the clock
    report: Path
    baud: int  #: the build's UART rate
    config: dict | None  #: what was built (build.json), when recorded

    @property
    def hz(self) -> float:
        """The clock the design runs at on the board (its timing closes there)."""
        return self.run_hz


def builds_dir() -> Path:
    """Where `--build` puts its builds: `builds/` in the user cache directory."""
    return cache_dir(BUILDS)


def newest_report(b: Board) -> Path | None:
    """The newest report.json of a build of board `b` in the user cache, if any."""
    found = sorted(builds_dir().glob(f"{b.name}-*/report.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def run_build(b: Board, log=print) -> Path:
    """Build board `b`'s default design into a new folder of the user cache; its report.json."""
    out = builds_dir() / f"{b.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    build(b, b.device(), out, log=log)
    return out / "report.json"


def board_clock(b: Board, cfg, report: str | Path | None = None, run: bool = False, log=print) -> BoardClock:
    """The clock of board `b`, whose default core has the CoreConfig `cfg`, from a nextpnr report:
    `report`, or a build run now (`run`), or the newest cached one. BuildError if there is none, if the
    file is not such a report, if it is of another configuration than `cfg`, or if the build misses the
    board's clock."""
    if run:
        path = run_build(b, log)
    elif report is not None:
        path = Path(report)
    else:
        path = newest_report(b)
        if path is None:
            raise BuildError(f"no cached build of {b.name} in {builds_dir()}; pass --build to build it now "
                             f"or --build-report PATH (a nextpnr report.json of `lifstp build --board {b.name}`)")
    rep = read_report(path, b)
    name, fmax_mhz = rep.design_clock()
    if rep.config is not None:
        # (a build recorded before the formats and the field memories were: the defaults then)
        built = (rep.config.get("n_neurons"), rep.config.get("lanes"), rep.config.get("shared_multiplier"),
                 rep.config.get("formats", "default"), rep.config.get("fields_in_block_ram", False))
        wanted = preset_name(cfg.formats) or asdict(cfg.formats)
        if built != (cfg.n_neurons, cfg.lanes, cfg.shared_multiplier, wanted, cfg.fields_in_block_ram):
            raise BuildError(f"{path}: a build of N = {built[0]}, L = {built[1]}, formats {built[3]}, neuron fields "
                             f"in {'block' if built[4] else 'any'} RAM (see {path.parent / BUILD_STAMP}); the "
                             f"benchmark measures {b.name}'s core N = {cfg.n_neurons}, L = {cfg.lanes}, formats "
                             f"{wanted}, neuron fields in {'block' if cfg.fields_in_block_ram else 'any'} RAM")
    if fmax_mhz < rep.target_mhz:
        raise BuildError(f"{path}: the build misses {b.name}'s clock ({fmax_mhz:.2f} MHz achieved, the board runs at "
                         f"{rep.target_mhz:g} MHz): it would not run reliably; rebuild")
    baud = int(rep.config["baud"]) if rep.config and rep.config.get("baud") else b.default_baud
    return BoardClock(b.sys_clk_hz, fmax_mhz * 1e6, name, path, baud, rep.config)
