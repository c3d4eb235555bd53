"""Executors of the costly experiments (lifstp.executor, docs/science.md "Executors"): the quick
sweep on a two-worker Dask LocalCluster gives the serial run's results bit for bit; a failing task
names its parameters and the other results are kept; a scheduler address that does not answer fails
in bounded time with a clear message; a worker killed mid-run has its task retried, and reported."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import cloudpickle
import numpy as np
import pytest

from lifstp import executor as ex
from lifstp.device import open_device
from lifstp.errors import ExecutorError, InputError, TaskError
from lifstp.fitting import FitSettings
from lifstp.science.experiments import QUICK, run_sweep

#: A test-only scale: the sweep's whole pipeline (training, reference, fit, points) in seconds.
TINY = replace(QUICK, epochs=1, n_reference=300, sweep_u=(0.1, 1.0), sweep_tau=(280.0,), sweep_samples=60,
               isl_counts=(50,), fit=FitSettings(steps=2, duration_ms=1000.0, final_duration_ms=1000.0, final_runs=1),
               reference_burn_in=50)


def _without_clock(x):
    """A result with its wall-clock times (wall_s, switches_per_wall_s: no two runs share them) and the
    executor's own report taken out."""
    if isinstance(x, dict):
        return {k: _without_clock(v) for k, v in x.items() if "wall_s" not in k and k != "tasks"}
    if isinstance(x, list):
        return [_without_clock(v) for v in x]
    return x


def _samples(folder: Path) -> dict:
    out = {}
    for f in sorted((folder / "samples").glob("*.npz")):
        with np.load(f) as d:
            out[f.name] = d["v"]
    return out


@pytest.mark.filterwarnings("ignore::UserWarning")  # the tiny scale's reference and fit are not trusted
def test_sweep_on_two_dask_workers_equals_serial(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "LOCAL_WORKERS", 2)
    device = open_device("golden")
    serial = run_sweep(device, tmp_path / "serial", seed=0, scale=TINY, executor="serial")
    dask = run_sweep(device, tmp_path / "dask", seed=0, scale=TINY, executor="dask")
    assert dask["tasks"]["workers"] == 2 and dask["tasks"]["executor"] == "dask (LocalCluster)"
    assert dask["tasks"]["dashboard"].startswith("http://127.0.0.1:")
    a, b = _samples(tmp_path / "serial"), _samples(tmp_path / "dask")
    assert set(a) == set(b) and len(a) == 3
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    got = [json.loads((tmp_path / k / "sweep.json").read_text()) for k in ("serial", "dask")]
    assert _without_clock(got[0]) == _without_clock(got[1])
    assert serial["tasks"]["executor"] == "serial" and _without_clock(got[0])["grid"]
    assert "executor dask (LocalCluster) (2 workers)" in (tmp_path / "dask" / "sweep.md").read_text()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_failing_point_is_named_and_the_others_kept(tmp_path):
    scale = replace(TINY, sweep_u=(0.1, 1.5))  # U = 1.5 is outside [0, 1]: that point's task fails
    with pytest.raises(TaskError) as err:
        run_sweep(open_device("golden"), tmp_path, seed=0, scale=scale, executor="serial")
    msg = str(err.value)
    assert "1 of 3 sweep points failed" in msg and "U=1.5, tau_rec_ms=280, seed=0" in msg and "stp_u" in msg
    assert "\n" not in msg
    table = (tmp_path / "sweep.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert rows["1.5"] == "| 1.5 | FAILED |" and "FAILED" not in rows["0.1"] and " / " in rows["0.1"]
    assert (tmp_path / "samples" / "lif_stp_U0.1_tau280.npz").exists() and (tmp_path / "samples" / "lif.npz").exists()
    assert len([r for r in err.value.results if r is not None]) == 2


def test_a_scheduler_that_does_not_answer_fails_in_bounded_time():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(ExecutorError) as err:
        ex.run_tasks(abs, [ex.Task({"x": -1}, {"x": -1})], f"dask:tcp://127.0.0.1:{port}", connect_timeout_s=2)
    assert time.perf_counter() - t0 < 15
    assert f"no Dask scheduler answered at tcp://127.0.0.1:{port} within 2 s" in str(err.value)
    assert "dask worker" in str(err.value)
    for bad in ("threads", "serial:x", "dask:"):
        with pytest.raises(InputError):
            ex.parse_executor(bad)


def _square_unless_first(x: int, marker: str) -> int:
    """x², except that the first call for x = 2 kills its worker process (a machine lost mid-run)."""
    if x == 2 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    time.sleep(0.2)
    return x * x


def test_a_killed_worker_is_retried_and_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "LOCAL_WORKERS", 2)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import the tests
    marker = str(tmp_path / "killed")
    tasks = [ex.Task({"x": x}, {"x": x, "marker": marker}) for x in range(6)]
    ran = ex.run_tasks(_square_unless_first, tasks, "dask", "kill test")
    assert Path(marker).exists()  # the worker did die
    assert ran.results == [x * x for x in range(6)] and not ran.failed
    assert ran.reports[2].retried >= 1
    said = ran.summary()  # tasks queued on the dead worker are retried (and said) too
    assert "retried after their worker died: " in said and "x=2 (1×)" in said
