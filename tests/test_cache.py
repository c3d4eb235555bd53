"""The user cache directory (lifstp.cache): where the harness, simulator and peer builds go, with the
environment variables that move them; and the lock that keeps two processes out of one build folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from lifstp.bench.peer_envs import peers_dir
from lifstp.cache import build_lock, cache_root
from lifstp.sim.build import sim_build_root
from lifstp.sim.harness import cache_dir as harness_cache_dir

VARS = ("LIFSTP_CACHE_DIR", "XDG_CACHE_HOME", "LIFSTP_SIM_BUILD", "LIFSTP_PEERS_DIR")


def _clear(monkeypatch):
    for var in VARS:
        monkeypatch.delenv(var, raising=False)


def test_default_is_dot_cache_in_home(monkeypatch, tmp_path):
    _clear(monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_root() == tmp_path / ".cache" / "lifstp"
    assert harness_cache_dir() == tmp_path / ".cache" / "lifstp" / "verilator"
    assert sim_build_root() == tmp_path / ".cache" / "lifstp" / "sim_build"
    assert peers_dir() == tmp_path / ".cache" / "lifstp" / "peers"


def test_xdg_cache_home_then_lifstp_cache_dir(monkeypatch, tmp_path):
    _clear(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "lifstp"
    assert sim_build_root() == tmp_path / "xdg" / "lifstp" / "sim_build"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG specification: absolute paths only
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_root() == tmp_path / ".cache" / "lifstp"
    monkeypatch.setenv("LIFSTP_CACHE_DIR", str(tmp_path / "mine"))
    assert harness_cache_dir() == tmp_path / "mine" / "verilator"


def test_own_overrides_of_sim_build_and_peers(monkeypatch, tmp_path):
    _clear(monkeypatch)
    monkeypatch.setenv("LIFSTP_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("LIFSTP_SIM_BUILD", str(tmp_path / "sb"))
    monkeypatch.setenv("LIFSTP_PEERS_DIR", str(tmp_path / "pe"))
    assert sim_build_root() == tmp_path / "sb"
    assert peers_dir() == tmp_path / "pe"
    assert harness_cache_dir() == tmp_path / "mine" / "verilator"


def test_build_lock_lets_one_holder_in_at_a_time(tmp_path):
    build_dir = tmp_path / "builds" / "device-0123"
    events: list[tuple[str, float]] = []
    held = threading.Event()

    def first():
        with build_lock(build_dir):
            events.append(("first in", time.monotonic()))
            held.set()
            time.sleep(0.3)
            events.append(("first out", time.monotonic()))

    def second():
        held.wait(5)
        with build_lock(build_dir):
            events.append(("second in", time.monotonic()))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [name for name, _ in events] == ["first in", "first out", "second in"]
    assert Path(f"{build_dir}.lock").exists() and not build_dir.exists()
