"""The default board builds of tests/test_boards_build.py, run in a background process.

nextpnr places and routes on one core for most of the suite's half hour; started when the suite is
collected (tests/conftest.py), the builds run one after another on a second core beside the other
tests, and their tests (ordered last) collect the results here. Run as a script, this module is
that background process: `python board_builds.py ROOT NAME...` runs each build of BUILDS into
ROOT/NAME and writes ROOT/NAME.out and .err (what `lifstp build` printed) and ROOT/NAME.json (exit
status, wall time) when it is done.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: The builds the tests check, by name, longest first: the default of each board (CI requires them
#: to fit and meet their clocks) and an iCEBreaker core that does not fit (two lanes of the shared
#: core: 2 × 4 SB_MAC16 for the neuron updates and 2 × 2 for the synaptic events, where it has 8).
BUILDS = {"ulx3s-85f": ["--board", "ulx3s-85f"],
          "icebreaker": ["--board", "icebreaker"],
          "icebreaker-2-lanes": ["--board", "icebreaker", "--lanes", "2"]}
#: How long a test waits for its board's build, from the moment the builds started.
BUILD_TIMEOUT_S = 75 * 60


@dataclass
class BuildResult:
    """What `lifstp build ... --out DIR` did: exit status, what it printed, wall time and its folder."""

    returncode: int
    out: str
    err: str
    wall_s: float
    out_dir: Path


class BackgroundBuilds:
    """The background process running the builds `names` (of BUILDS) in turn, each into its own folder
    under `root`."""

    def __init__(self, names, root: Path | None = None):
        self.names = tuple(names)
        self.root = Path(root or tempfile.mkdtemp(prefix="lifstp-board-builds-"))
        self.started = time.monotonic()
        # Lower priority: when the other tests briefly need both cores, they come first.
        self.process = subprocess.Popen([sys.executable, __file__, str(self.root), *self.names],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=lambda: os.nice(5))

    def result(self, name: str) -> BuildResult:
        """Wait for build `name` (up to BUILD_TIMEOUT_S from the start) and return what it did."""
        if name not in self.names:
            raise KeyError(f"{name} is not among the background builds {self.names}")
        done = self.root / f"{name}.json"
        while not done.exists():
            if self.process.poll() is not None and not done.exists():
                raise RuntimeError(f"the background build process ended ({self.process.returncode}) "
                                   f"before build {name}; see {self.root}")
            if time.monotonic() - self.started > BUILD_TIMEOUT_S:
                raise TimeoutError(f"build {name} did not finish within {BUILD_TIMEOUT_S} s")
            time.sleep(1.0)
        meta = json.loads(done.read_text())
        return BuildResult(meta["returncode"], (self.root / f"{name}.out").read_text(),
                           (self.root / f"{name}.err").read_text(), meta["wall_s"], self.root / name)

    def stop(self, keep: bool) -> None:
        """End the background process if it still runs (the session ended early); remove the builds'
        folder unless `keep` (a failed session keeps them for a look)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


#: The builds of this test session, when tests/conftest.py started them.
running: BackgroundBuilds | None = None


def _build_all(root: Path, names) -> None:
    from lifstp.cli import main

    for name in names:
        out, err = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(["build", *BUILDS[name], "--out", str(root / name)])
            except BaseException as exc:  # a crash is a result too: the test shows it
                print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
                rc = -1
        (root / f"{name}.out").write_text(out.getvalue())
        (root / f"{name}.err").write_text(err.getvalue())
        (root / f"{name}.json").write_text(json.dumps({"returncode": rc, "wall_s": time.perf_counter() - t0}))


if __name__ == "__main__":
    _build_all(Path(sys.argv[1]), sys.argv[2:])
