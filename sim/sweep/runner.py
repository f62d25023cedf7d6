"""One sweep run: a pure function of (point, seed) that a local worker process or a Dask worker executes.

The task is a small picklable dict (see :meth:`sim.sweep.spec.Sweep.task`: the point's
:class:`~sim.config.WorldConfig`, the ids that name the run, the user modules to import, the
registered metrics to measure and the time-series columns to keep); the answer is a small JSON-ready
dict, with the kept time series as columns (``series``: column -> list of values). A world that
raises is answered with ``error`` (and its traceback) instead of metrics, so one failing run never
takes the others down.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import time
import traceback
from pathlib import Path

import attrs

from sim.run import make_log, make_world
from sim.sweep.metrics import world_metrics
from sim.sweep.plugins import ensure_all

#: Violations copied into a run file (the count is always complete).
KEEP_VIOLATIONS = 5
_ROOT = Path(__file__).resolve().parents[2]
#: Source that cannot change what a run measures (reports, API, indexer, the sweep's own plumbing).
_NOT_RUN_CODE = ("sim/report/", "sim/api/", "sim/indexer/", "sim/cli.py", "sim/progress.py", "sim/run.py",
                 "sim/sweep/", "sim/search/", "sim/research.py")
_RUN_CODE_IN_SWEEP = ("sim/sweep/metrics.py", "sim/sweep/runner.py", "sim/sweep/plugins.py")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 (16 hex digits) over the simulator code a run depends on: ``sim`` and ``contracts_model``
    sources and compiled artifacts, less what only presents results. Stored with every run, so runs
    computed by other code (an edited checkout, a Dask worker on another version) can be pointed out."""
    digest = hashlib.sha256()
    files = []
    for package in ("sim", "contracts_model"):
        for path in (_ROOT / package).rglob("*"):
            rel = path.relative_to(_ROOT).as_posix()
            if path.suffix not in (".py", ".json", ".sol") or "__pycache__" in rel or not path.is_file():
                continue
            if rel.startswith(_NOT_RUN_CODE) and rel not in _RUN_CODE_IN_SWEEP:
                continue
            files.append((rel, path))
    for rel, path in sorted(files):
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def run_one(task: dict) -> dict:
    """Run the world of ``task`` to its end and measure it (see :func:`sim.sweep.metrics.world_metrics`)."""
    config = attrs.evolve(task["config"], seed=task["seed"], check_invariants=True)
    answer = {"run": task["run"], "point": task["point"], "seed": task["seed"]}
    started = time.perf_counter()
    try:
        ensure_all(task.get("modules", ()))
        world = make_world(config, make_log(config, None))
        world.run()
        world.finish()
        answer.update({
            "metrics": world_metrics(world, tuple(task.get("extra_metrics", ()))),
            "digest": world.log.digest,
            "events": world.log.count,
            "first_violations": [v.as_dict() for v in world.violations.kept[:KEEP_VIOLATIONS]],
        })
        if task.get("series"):
            rows = world.metrics.rows
            answer["series"] = {column: [row[column] for row in rows] for column in ("t", *task["series"])}
    except Exception as exc:  # reported as a failed run; the sweep goes on
        answer["error"] = f"{type(exc).__name__}: {exc}"
        answer["traceback"] = traceback.format_exc()
    answer["code"] = code_fingerprint()
    answer["wall_s"] = round(time.perf_counter() - started, 3)
    answer["worker_pid"] = os.getpid()
    return answer


def ready(_=None) -> int:
    """A no-op task: returns the worker's pid once the worker is up (used to warm a pool)."""
    return os.getpid()


def quiet_worker() -> None:
    """Local pool initialiser: Ctrl-C is the parent's to handle (it terminates the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
