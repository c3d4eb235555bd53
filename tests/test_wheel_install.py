"""The package as a user installs it: a wheel built from a copy of the source tree, installed into a
fresh virtual environment outside the checkout, runs `lifstp sample` on the golden and on the verilator
device with equal spikes, imports the board layer, and writes its builds into the user cache
directory, never into the installed package.

The new environment reaches the test environment's dependencies through a .pth file that lists their
site-packages folders (nothing is downloaded). Such a path entry does not run the .pth files in those
folders, so the editable install of the checkout is not visible there: `lifstp` is the wheel's, which
the test asserts.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lifstp.bm import random_bm, save

ROOT = Path(__file__).resolve().parents[1]
#: what a source distribution would not hold: version control, environments, builds and outputs
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".peers", "build", "dist", "sim_build", "out", "__pycache__",
                                    "*.egg-info", ".pytest_cache", ".hypothesis", "*.pyc", "*.vcd", "*.fst")
#: the variables that would send the installed package's caches somewhere other than $XDG_CACHE_HOME
CACHE_VARS = ("LIFSTP_CACHE_DIR", "LIFSTP_SIM_BUILD", "LIFSTP_PEERS_DIR", "PYTHONPATH")


def _package_dirs() -> dict[str, str]:
    return runpy.run_path(str(ROOT / "setup.py"), run_name="setup")["PACKAGE_DIRS"]


def _expected_members() -> set[str]:
    """Every file of the mapped source folders, at its place in the wheel (lifstp/..., lifstp/rtl/...)."""
    members = set()
    for package, folder in _package_dirs().items():
        base = ROOT / folder
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in filenames:
                if f.endswith(".pyc"):
                    continue
                rel = (Path(dirpath) / f).relative_to(base).as_posix()
                members.add(f"{package.replace('.', '/')}/{rel}")
    return members


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "lifstp"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    dist = src.parent / "dist"
    # without build isolation: the test environment has the build backend, so nothing is downloaded
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(dist), str(src)], check=True, capture_output=True, text=True)
    (found,) = dist.glob("lifstp-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh environment with the wheel installed; its python, lifstp script, environment variables
    and the installed package's folder."""
    root = tmp_path_factory.mktemp("user")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    deps = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    (purelib / "test_dependencies.pth").write_text("".join(f"{p}\n" for p in deps))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if k not in CACHE_VARS}
    env["XDG_CACHE_HOME"] = str(root / "cache")
    work = root / "work"
    work.mkdir()
    return {"python": python, "lifstp": env_dir / "bin" / "lifstp", "env": env, "work": work,
            "package": purelib / "lifstp", "cache": root / "cache" / "lifstp"}


def _run(installed, *cmd, timeout=900) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=installed["work"], env=installed["env"], capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _package_files(package: Path) -> set[str]:
    """The installed package's files, without Python's and numba's bytecode caches (__pycache__)."""
    return {p.relative_to(package).as_posix() for p in package.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_wheel_holds_every_module_and_data_file(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = {n for n in z.namelist() if ".dist-info/" not in n}
    expected = _expected_members()
    assert "lifstp/rtl/engine/__init__.py" in expected and "lifstp/sim/harness_cpp/main.cpp" in expected
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert names <= expected, f"in the wheel but not in the source: {sorted(names - expected)}"


def test_installed_wheel_samples_on_golden_and_verilator_alike(installed):
    before = _package_files(installed["package"])
    where = json.loads(_run(installed, installed["python"], "-c", """if True:
        import json, lifstp, lifstp.cli, lifstp.rtl.engine, lifstp.bench.peer_envs as peers
        import lifstp.sim.build as sim_build, lifstp.sim.harness as harness
        print(json.dumps({"lifstp": lifstp.__file__, "engine": lifstp.rtl.engine.__file__,
                          "cli": lifstp.cli.__file__, "cpp": str(harness.CPP_MAIN),
                          "cpp_exists": harness.CPP_MAIN.is_file(), "harness_cache": str(harness.cache_dir()),
                          "sim_build": str(sim_build.sim_build_root()), "peers": str(peers.peers_dir())}))
    """))
    package = installed["package"].resolve()
    for key in ("lifstp", "engine", "cli", "cpp"):
        assert Path(where[key]).resolve().is_relative_to(package), (key, where[key])
    assert where["cpp_exists"]
    cache = installed["cache"]
    assert Path(where["harness_cache"]) == cache / "verilator"
    assert Path(where["sim_build"]) == cache / "sim_build"
    assert Path(where["peers"]) == cache / "peers"

    save(installed["work"] / "bm.npz", random_bm(5, np.random.default_rng(11)))
    runs = {}
    for device in ("golden", "verilator"):
        _run(installed, installed["lifstp"], "sample", "bm.npz", "--device", device, "--duration-ms", "1000",
             "--seed", "2", "--out", f"{device}.npz", "--no-progress")
        with np.load(installed["work"] / f"{device}.npz") as run:
            runs[device] = {k: run[k] for k in ("spike_tick", "spike_neuron", "n_ticks")}
    assert len(runs["golden"]["spike_tick"]) > 50
    for key, value in runs["golden"].items():
        np.testing.assert_array_equal(runs["verilator"][key], value, err_msg=key)
    # the harness was compiled from the installed main.cpp into the user cache, not into the package
    assert list((cache / "verilator").glob("device-*/obj/harness"))
    assert _package_files(installed["package"]) == before


def test_installed_wheel_imports_the_board_layer(installed):
    before = _package_files(installed["package"])
    out = _run(installed, installed["python"], "-c", """if True:
        from lifstp.boards.build import build, flash, programmer_command
        from lifstp.boards.top import BoardTop, board, platform_for
        b = board("icebreaker")
        plan = platform_for(b).build(BoardTop(b, b.device(8, 1)), name="lifstp", do_build=False)
        print(sorted(plan.files))
    """)
    assert "lifstp.il" in out or "lifstp.v" in out, out
    said = _run(installed, installed["lifstp"], "flash", "--board", "icebreaker", "--dry-run")
    assert "build/icebreaker/lifstp.bin" in said
    assert _package_files(installed["package"]) == before
