"""Where lifstp keeps what it builds or installs on first use: the user cache directory, never the
installed package.

The root is $LIFSTP_CACHE_DIR if set, else `lifstp/` in $XDG_CACHE_HOME (default ~/.cache), so
~/.cache/lifstp by default. Below it: `verilator/` (the compiled harness of the `verilator` device),
`sim_build/` (the cocotb simulator builds of the tests), `peers/` (the virtual environments of
the benchmark's peer simulators), and for `lifstp bench board` `bench/` (its default network) and
`builds/` (the board builds it runs with --build). Each of those has its own override as well ($LIFSTP_SIM_BUILD,
$LIFSTP_PEERS_DIR, read where they are used).
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

__all__ = ["cache_root", "cache_dir", "build_lock"]


def cache_root() -> Path:
    """$LIFSTP_CACHE_DIR, else $XDG_CACHE_HOME/lifstp (an absolute $XDG_CACHE_HOME only, as the XDG
    base directory specification says), else ~/.cache/lifstp."""
    root = os.environ.get("LIFSTP_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "lifstp"


def cache_dir(name: str, override: str | None = None) -> Path:
    """The cache folder `name` under `cache_root()`, or the folder in the environment variable
    `override` when that is set."""
    if override and os.environ.get(override):
        return Path(os.environ[override])
    return cache_root() / name


@contextmanager
def build_lock(build_dir: Path):
    """Hold an exclusive lock on `build_dir` (a `.lock` file beside it) while it is being built, so
    that two processes that need the same build wait for one another instead of writing into the same
    folder at once. A caller checks again, under the lock, whether the build is already there."""
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f"{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
