"""Running a sweep end to end: open (or resume) its folder, execute the missing runs, write the outputs.

Each run is a pure function of (point, seed), executed wherever a worker is free; its answer is
stored the moment it arrives. The tables, plots and summary are rebuilt from the stored runs in
design order every time, so an interrupted-and-resumed sweep, or one run with any number of
workers or on a Dask cluster, ends with the same tables.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Callable

import attrs

from sim.progress import StatusLine
from sim.sweep.execute import default_workers, make_pool
from sim.sweep.runner import code_fingerprint
from sim.sweep.spec import Sweep
from sim.sweep.store import Store


@attrs.define
class SweepResult:
    sweep: Sweep
    out: Path
    records: list[dict]  # every finished run of the design, in design order
    executed: int  # runs executed by this invocation
    reused: int  # runs found finished in the folder
    failed: list[dict]  # answers of runs that raised (not stored; a rerun retries them)
    exec_s: float  # wall time from the first task handed out to the last answer
    executor: str
    complete: bool
    points: list[dict] = attrs.field(factory=list)
    plots: list[Path] = attrs.field(factory=list)
    indices: list[dict] = attrs.field(factory=list)  # sensitivity designs: one row per (metric, parameter)
    skipped: dict = attrs.field(factory=dict)  # metrics without indices, with the reason

    @property
    def runs_per_s(self) -> float:
        return self.executed / self.exec_s if self.exec_s > 0 else 0.0

    @property
    def violating_runs(self) -> int:
        return sum(1 for r in self.records if r["metrics"]["violations"])


class Progress(StatusLine):
    """``sweep NAME: 12/27 runs (3 reused), 1.9 runs/s, ETA 8 s`` on one line; silent off a TTY."""

    def __init__(self, name: str, total: int, reused: int, stream=None):
        super().__init__(stream)
        self.name, self.total, self.reused = name, total, reused
        self.done = 0

    def step(self, failed: int = 0) -> None:
        self.done += 1
        elapsed = self.elapsed
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - self.reused - self.done
        eta = f", ETA {left / rate:.0f} s" if rate > 0 and left > 0 else ""
        extra = f", {failed} failed" if failed else ""
        self.draw(f"sweep {self.name}: {self.reused + self.done}/{self.total} runs "
                  f"({self.reused} reused{extra}), {rate:.2f} runs/s{eta}")


def execute_sweep(sweep: Sweep, out: Path, *, workers: int | None = None, scheduler: str | None = None,
                  restart: bool = False, report: bool = True, command: str | None = None,
                  on_run: Callable[[dict], None] | None = None, stream=None, pool=None,
                  progress: bool = True) -> SweepResult:
    """Run every missing run of ``sweep`` into ``out`` and (``report``) write tables, plots and summary.

    ``on_run(answer)`` is called after each answer is stored (tests use it to interrupt a sweep);
    whatever it raises stops the sweep with the runs stored so far kept. Notes about the folder go
    to ``stream`` (stderr by default); the progress line only when that is a TTY and ``progress``.
    ``pool`` is a worker pool (:func:`sim.sweep.execute.make_pool`) the caller owns and closes, for
    callers that run several sweeps on one pool (a search runs one per batch of trials).
    """
    stream = stream if stream is not None else sys.stderr
    out = Path(out)
    own = pool is None
    # A cluster is reached before the folder is touched, so a wrong address leaves nothing behind.
    if own and scheduler:
        pool = make_pool(None, scheduler)
    store = Store(sweep, out)
    try:
        done = store.open(restart=restart)
    except BaseException:
        store.close()
        if own and pool is not None:
            pool.close()
        raise
    try:
        return _execute(sweep, out, store, done, pool, own, workers, report, command, on_run, stream, progress)
    finally:
        store.close()


def _execute(sweep: Sweep, out: Path, store: Store, done: dict, pool, own: bool, workers: int | None, report: bool,
             command: str | None, on_run, stream, show_progress: bool) -> SweepResult:
    for note in (*sweep.notes, *store.notes):
        print(f"note: {note}", file=stream)
    reused = len(done)
    tasks = [sweep.task(point, seed) for point, seed in sweep.runs if sweep.run_id(point, seed) not in done]
    failed: list[dict] = []
    executed, exec_s = 0, 0.0
    executed_runs: set[str] = set()
    executor = "nothing to execute: every run was already in the folder"
    if tasks:
        progress = Progress(sweep.name, len(sweep.runs), reused, stream if show_progress else io.StringIO())
        try:
            if pool is None:
                pool = make_pool(min(workers if workers is not None else default_workers(), len(tasks)), None)
            executor = pool.description
            started = time.perf_counter()
            for answer in pool.imap(tasks):
                if "error" in answer:
                    failed.append(answer)
                else:
                    done[answer["run"]] = store.write_run(answer)
                    executed_runs.add(answer["run"])
                    executed += 1
                progress.step(len(failed))
                if on_run is not None:
                    on_run(answer)
        except BaseException:
            progress.close()
            if own and pool is not None:
                pool.terminate()
            store.write_manifest("incomplete", runs_done=len(done))
            raise
        exec_s = time.perf_counter() - started
        progress.close()
        if own:
            pool.close()
    elif own and pool is not None:
        pool.close()
    foreign = sorted({a.get("code") for a in done.values() if a.get("run") in executed_runs} - {code_fingerprint()},
                     key=str)
    if foreign:
        print(f"note: workers ran other simulator code ({', '.join(map(str, foreign))}) than this checkout "
              f"({code_fingerprint()}): start them from the same checkout and environment", file=stream)
    records = [done[sweep.run_id(p, s)] for p, s in sweep.runs if sweep.run_id(p, s) in done]
    complete = len(records) == len(sweep.runs)
    result = SweepResult(sweep, out, records, executed, reused, failed, exec_s, executor, complete)
    if report:
        from sim.sweep.plots import write_plots
        from sim.sweep.sensitivity import KINDS, indices
        from sim.sweep.summary import write_summary
        from sim.sweep.tables import write_sensitivity, write_tables

        _, result.points = write_tables(sweep, out, records)
        if sweep.design in KINDS:
            result.indices, result.skipped = indices(sweep, result.points)
            write_sensitivity(sweep, out, result.indices)
        result.plots = write_plots(sweep, out, result.points, result.indices)
        write_summary(sweep, result, result.points, result.plots, command or reproduce_command(sweep, out), out)
    store.write_manifest("complete" if complete else "incomplete", runs_done=len(records),
                         failed=[{"run": a["run"], "error": a["error"]} for a in failed])
    return result


def reproduce_command(sweep: Sweep, out: Path) -> str:
    return f"rbtc-sim sweep {sweep.path} --out {out}"
