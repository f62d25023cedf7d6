"""Executing a sweep's missing runs on local worker processes or on a Dask distributed cluster.

Both executors take the same task dicts (see :mod:`sim.sweep.runner`) and yield answers as runs
finish, in whatever order; the caller stores each one at once and sorts at the end, so results do
not depend on the number of workers, their order or the executor.

* :class:`LocalPool`: ``multiprocessing`` worker processes, created once per sweep and fed one run
  at a time. Workers come from a fork server that has already imported the simulator, so starting
  them costs milliseconds, and they ignore Ctrl-C: the parent terminates them.
* :class:`DaskPool`: a ``dask.distributed.Client`` on a running scheduler (``tcp://HOST:PORT``). The
  workers must run this project's code (same checkout and environment); results travel back to the
  client, which writes them, so workers need no shared filesystem.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Iterable, Iterator

from sim.scenario import ScenarioError

_CONTEXT = None
#: The most local worker processes a sweep or search starts (each is a whole simulator).
MAX_WORKERS = 256


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        _CONTEXT = multiprocessing.get_context(method)
        if method == "forkserver":
            _CONTEXT.set_forkserver_preload(["sim.sweep.runner"])
    return _CONTEXT


class LocalPool:
    def __init__(self, workers: int):
        from sim.sweep.runner import quiet_worker, ready

        self.workers = workers
        self.pool = _context().Pool(processes=workers, initializer=quiet_worker)
        self.pool.map(ready, range(workers), chunksize=1)  # every worker up before the clock starts
        self.description = f"{workers} local worker process{'es' if workers != 1 else ''}"

    def imap(self, tasks: Iterable[dict]) -> Iterator[dict]:
        from sim.sweep.runner import run_one

        yield from self.pool.imap_unordered(run_one, list(tasks), chunksize=1)

    def close(self) -> None:
        self.pool.close()
        self.pool.join()

    def terminate(self) -> None:
        self.pool.terminate()
        self.pool.join()


class DaskPool:
    def __init__(self, address: str, *, timeout_s: float = 15.0):
        if "://" not in address:
            raise ScenarioError(f"--scheduler {address!r}: expected an address like tcp://HOST:PORT")
        try:
            from dask.distributed import Client
        except ImportError:
            raise ScenarioError("--scheduler needs dask[distributed] installed in this environment") from None
        try:
            self.client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ScenarioError(f"--scheduler {address}: cannot reach the Dask scheduler ({exc})") from None
        workers = self.client.scheduler_info().get("workers", {})
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        self.workers = threads
        self.description = f"Dask scheduler {address} ({len(workers)} workers, {threads} threads)"

    def imap(self, tasks: Iterable[dict]) -> Iterator[dict]:
        from dask.distributed import as_completed

        from sim.sweep.runner import run_one

        tasks = list(tasks)
        futures = [self.client.submit(run_one, task, pure=False, key=f"rbtc-sweep-{task['run']}-{os.getpid()}-{i}")
                   for i, task in enumerate(tasks)]
        self._futures = futures
        by_key = {future.key: task for future, task in zip(futures, tasks)}
        with self.client.as_current():
            finished = as_completed(futures)
        for future in finished:
            try:
                answer = future.result()
            except Exception as exc:  # the task never ran our code (e.g. the worker cannot import sim)
                task = by_key[future.key]
                answer = {"run": task["run"], "point": task["point"], "seed": task["seed"],
                          "error": f"{type(exc).__name__} on the Dask worker: {exc}"}
            future.release()
            yield answer

    def close(self) -> None:
        self.client.close()

    def terminate(self) -> None:
        try:
            self.client.cancel(getattr(self, "_futures", []))
        finally:
            self.client.close()


def check_workers(workers: int | None) -> None:
    """``--workers``: None (the default) or a number of local processes in [1, MAX_WORKERS]."""
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise ScenarioError(f"--workers {workers}: expected a number of worker processes in [1, {MAX_WORKERS}]")


def make_pool(workers: int | None, scheduler: str | None):
    if scheduler:
        return DaskPool(scheduler)
    check_workers(workers)
    return LocalPool(workers or default_workers())
