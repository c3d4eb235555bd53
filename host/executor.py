"""Where the costly experiments run their independent tasks: `--executor serial|processes|dask[:ADDRESS]`
(docs/science.md, "Executors").

Each task is a pure function of its arguments (its parameters and its seed): it opens its own device
by name and draws everything from its seed, so any executor gives the same results, bit for bit, in
the order the tasks were given.

- `serial`: one after the other in this process (the default);
- `processes`: a pool of worker processes on this machine, one per core;
- `dask`: Dask distributed on a `LocalCluster` of this machine's cores; `dask:tcp://HOST:8786` on the
  scheduler at that address and every worker attached to it (`dask scheduler`, `dask worker ADDRESS`).
  A worker that dies takes the tasks it held (running or queued) with it; the scheduler runs them again
  on another worker, and the run reports each task it retried (`TaskReport.retried`).

A task that raises does not stop the others: `run_tasks` returns every result it got, and
`TaskRun.raise_failures()` raises a TaskError naming each failed task's parameters and error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .errors import ExecutorError, InputError, TaskError
from .progress import progress_bar

#: How long a client waits for a Dask scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 10.0
#: Workers of the LocalCluster of `--executor dask` (None: one per core of this machine).
LOCAL_WORKERS: int | None = None
#: The executor names `--executor` takes (dask also as dask:ADDRESS).
EXECUTORS = ("serial", "processes", "dask")
EXECUTOR_HELP = ("where the tasks run: serial (default), processes (a pool on this machine), dask (a Dask "
                 "LocalCluster here) or dask:tcp://HOST:8786 (a Dask scheduler and its workers; docs/science.md)")


@dataclass(frozen=True)
class Task:
    """One task: `params`, the few values that say which task it is (in tables and messages), and
    `kwargs`, everything the function takes (the parameters, the seed, the data)."""

    params: dict
    kwargs: dict


@dataclass
class TaskReport:
    """What happened to one task: `retried` counts the times its worker died under it (Dask only);
    `error` is "Type: message" if it failed."""

    params: dict
    retried: int = 0
    error: str | None = None


@dataclass
class TaskRun:
    """The results in the order of the tasks (None where a task failed), with a report per task."""

    executor: str
    results: list
    reports: list[TaskReport]
    dashboard: str | None = None
    workers: int = 1

    @property
    def failed(self) -> list[TaskReport]:
        return [r for r in self.reports if r.error is not None]

    @property
    def retried(self) -> list[TaskReport]:
        return [r for r in self.reports if r.retried]

    def summary(self) -> str:
        """One sentence for the tables: the executor, the tasks, which were retried and which failed."""
        said = f"{len(self.reports)} tasks on executor {self.executor} ({self.workers} workers)"
        if self.retried:
            said += "; retried after their worker died: " + "; ".join(
                f"{describe(r.params)} ({r.retried}×)" for r in self.retried)
        if self.failed:
            said += "; FAILED: " + "; ".join(f"{describe(r.params)}: {r.error}" for r in self.failed)
        return said + "."

    def to_json(self) -> dict:
        return {"executor": self.executor, "workers": self.workers, "dashboard": self.dashboard,
                "tasks": [asdict(r) for r in self.reports]}

    def raise_failures(self, what: str = "tasks") -> None:
        """TaskError naming each failed task's parameters and error, if any failed."""
        if self.failed:
            kept = len(self.reports) - len(self.failed)
            raise TaskError(f"{len(self.failed)} of {len(self.reports)} {what} failed: "
                            + "; ".join(f"{describe(r.params)}: {r.error}" for r in self.failed)
                            + f" ({kept} results kept)", self.results)


def describe(params: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def parse_executor(spec: str) -> tuple[str, str | None]:
    """("serial" | "processes" | "dask", the scheduler address or None); InputError for anything else."""
    name, _, address = (spec or "serial").partition(":")
    if name not in EXECUTORS or (address and name != "dask"):
        raise InputError(f"--executor {spec}: expected serial, processes, dask or dask:tcp://HOST:PORT")
    if name == "dask" and spec.endswith(":") and not address:
        raise InputError(f"--executor {spec}: give the scheduler's address after dask:, e.g. dask:tcp://host:8786")
    return name, address or None


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_tasks(fn: Callable, tasks: list[Task], executor: str = "serial", desc: str = "tasks",
              show_progress: bool = False, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> TaskRun:
    """Run fn(**task.kwargs) for every task on `executor` (an --executor value); never raises for a
    failed task (see TaskRun.raise_failures), raises ExecutorError if the executor cannot be had."""
    name, address = parse_executor(executor)
    if name == "dask":
        return _run_dask(fn, tasks, address, desc, show_progress, connect_timeout_s)
    reports = [TaskReport(t.params) for t in tasks]
    results: list = [None] * len(tasks)
    with progress_bar(len(tasks), desc, "task", enabled=show_progress) as bar:
        if name == "serial" or len(tasks) <= 1:
            for i, t in enumerate(tasks):
                try:
                    results[i] = fn(**t.kwargs)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # a failed task is reported, the others go on
                    reports[i].error = _error(exc)
                bar.update(1)
            return TaskRun(name, results, reports)
        from concurrent.futures import ProcessPoolExecutor, as_completed

        workers = min(len(tasks), os.cpu_count() or 1)
        with ProcessPoolExecutor(workers) as pool:
            futures = {pool.submit(fn, **t.kwargs): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as exc:  # BrokenProcessPool too: a dead worker fails its tasks
                    reports[i].error = _error(exc)
                bar.update(1)
        return TaskRun(name, results, reports, workers=workers)


def _connect(address: str | None, timeout_s: float):
    """A Dask client: on the scheduler at `address`, or on a new LocalCluster of this machine."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ExecutorError(f"--executor dask needs Dask distributed ({exc}): pip install 'lifstp[cluster]'") from None
    if address is None:
        import dask

        import logging

        with dask.config.set({"distributed.worker.daemon": False}):  # a worker may start processes of its own
            # Errors of tasks come back in the TaskRun; the workers' own log of them would repeat them.
            cluster = LocalCluster(n_workers=LOCAL_WORKERS or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address="127.0.0.1:0", host="127.0.0.1", silence_logs=logging.CRITICAL)
        return Client(cluster), cluster
    try:
        return Client(address, timeout=timeout_s), None
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(f"no Dask scheduler answered at {address} within {timeout_s:g} s ({_error(exc)}); start "
                            f"one with `dask scheduler` and its workers with `dask worker {address}`") from None
    except ValueError as exc:
        raise ExecutorError(f"--executor dask:{address}: not a scheduler address ({_error(exc)})") from None


def _suspicious(dask_scheduler=None, keys=()):
    """On the scheduler: how often each task's worker died under it (TaskState.suspicious)."""
    return {k: dask_scheduler.tasks[k].suspicious for k in keys if k in dask_scheduler.tasks}


def _run_dask(fn, tasks, address, desc, show_progress, timeout_s) -> TaskRun:
    from dask.distributed import as_completed

    client, cluster = _connect(address, timeout_s)
    label = f"dask:{address}" if address else "dask (LocalCluster)"
    try:
        workers = len(client.scheduler_info(n_workers=-1)["workers"]) if address else len(cluster.workers)
        print(f"{desc}: {len(tasks)} tasks on {label}, {workers} workers; dashboard {client.dashboard_link}",
              file=sys.stderr, flush=True)
        keys = [f"{desc}-{i}-{os.getpid()}-{id(tasks)}".replace(" ", "_") for i in range(len(tasks))]
        # pure=False with explicit keys: every task runs, and is named after its place in the list.
        futures = [client.submit(fn, key=k, pure=False, **t.kwargs) for k, t in zip(keys, tasks)]
        index = {f.key: i for i, f in enumerate(futures)}
        reports = [TaskReport(t.params) for t in tasks]
        results: list = [None] * len(tasks)
        with progress_bar(len(tasks), desc, "task", enabled=show_progress) as bar:
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    results[i] = fut.result()
                except Exception as exc:  # the task raised, or its workers kept dying (KilledWorker)
                    reports[i].error = _error(exc)
                bar.update(1)
        # Read while the futures hold the tasks on the scheduler: afterwards it forgets them.
        for k, n in client.run_on_scheduler(_suspicious, keys=keys).items():
            reports[index[k]].retried = int(n)
        return TaskRun(label, results, reports, client.dashboard_link, workers)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

