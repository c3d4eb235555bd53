"""The peer simulators, each in a virtual environment of its own, created on first use.

NEST and Brian2 pin numpy versions that conflict with the project's, so they never share its
environment. Their environments live under $LIFSTP_PEERS_DIR (default `peers/` in the user cache
directory, ~/.cache/lifstp/peers: see lifstp.cache); a peer that cannot be installed is skipped with
the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from lifstp.cache import cache_dir

SCRIPTS = Path(__file__).resolve().parent / "peers"


@dataclass(frozen=True)
class Peer:
    """A peer simulator: its pip requirements, the script that runs the benchmark network in it, and
    a Python statement that proves the install works."""

    name: str
    requirements: tuple[str, ...]
    script: str
    probe: str


PEERS = {
    "nest": Peer("nest", ("nest-simulator==3.10",), "nest_lif.py", "import nest"),
    "brian2": Peer("brian2", ("brian2==2.9.0", "numpy<2.3", "setuptools"), "brian2_lif.py", "import brian2"),
}


class PeerUnavailable(RuntimeError):
    """The peer could not be installed or run here; the message says why."""


def peers_dir() -> Path:
    """The folder of the peers' environments: $LIFSTP_PEERS_DIR, else `peers/` in the user cache."""
    return cache_dir("peers", override="LIFSTP_PEERS_DIR")


def peer_python(name: str, log=print) -> Path:
    """The Python of the peer's environment, installing it first if needed."""
    peer = PEERS[name]
    env = peers_dir() / name
    python = env / "bin" / "python"
    stamp = env / "installed.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("requirements") == list(peer.requirements):
        return python
    log(f"installing {name} into {env} (once; takes a minute or two)")
    env.parent.mkdir(parents=True, exist_ok=True)
    try:
        venv.create(env, with_pip=True, clear=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *peer.requirements], check=True,
                       capture_output=True, text=True, timeout=1800)
        subprocess.run([str(python), "-c", peer.probe], check=True, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYNEST_QUIET": "1"})
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        raise PeerUnavailable(f"{name} did not install: {' / '.join(tail)}") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerUnavailable(f"{name} did not install: {exc}") from None
    stamp.write_text(json.dumps({"requirements": list(peer.requirements)}))
    return python


def run_peer(name: str, args: list[str], timeout_s: float = 3600, log=print) -> dict:
    """Run the peer's benchmark script with `args`; its one JSON line on stdout, as a dict."""
    python = peer_python(name, log)
    cmd = [str(python), str(SCRIPTS / PEERS[name].script), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "PYNEST_QUIET": "1", "OMP_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"{name} took longer than {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-5:]
        raise PeerUnavailable(f"{name} failed (exit {proc.returncode}): {' / '.join(tail)}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise PeerUnavailable(f"{name} printed no result: {proc.stdout[-300:]!r}")
    return json.loads(lines[-1])


if __name__ == "__main__":  # python -m lifstp.bench.peer_envs NAME ARGS...: run one peer by hand
    print(json.dumps(run_peer(sys.argv[1], sys.argv[2:], log=lambda m: print(m, file=sys.stderr))))
