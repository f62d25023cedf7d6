"""Running a search on worlds: each batch of trials is a sweep over the points asked so far, executed on
one worker pool (local processes or Dask) by the sweep machinery, so runs are stored as they finish,
points already run (a trial asked twice, an interrupted search run again) are read back instead of
rerun, and a rerun of the same command replays the optimiser to where it stopped.

Output folder (``reports/search-<name>/`` by default): what a sweep writes for its runs (``sweep.json``,
``sweep.toml`` = the search file, ``points/``, ``runs/``, ``runs.csv``, ``points.csv``: the folder loads
with :func:`sim.research.load` like a sweep's), and ``trials.csv`` / ``trials.parquet`` (every trial
in ask order), ``plots/progress.png``, ``worst.toml`` (the worst case found, ready to run), ``worst/``
(its run folder and report), ``search.json`` and ``summary.md`` / ``summary.html``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import attrs

from sim.progress import StatusLine
from sim.search.loop import Trial, best, search_loop
from sim.search.spec import Search
from sim.sweep.execute import default_workers, make_pool
from sim.sweep.metrics import aggregate

#: Files the search writes beside the sweep's; ``restart`` removes them too.
OUTPUT_FILES = ("search.json", "trials.csv", "trials.parquet", "worst.toml")


@attrs.define
class SearchResult:
    search: Search
    out: Path
    trials: list[Trial]
    records: list[dict]  # every run of every point asked, in ask order
    failed: list[dict]
    executed: int
    reused: int
    exec_s: float
    executor: str
    worst: Trial | None = None
    worst_seed: int | None = None
    worst_run: dict | None = None  # the stored run of the worst point with the worst seed
    replay: dict | None = None  # the worst scenario's own run: summary of worst/
    plots: list[Path] = attrs.field(factory=list)

    @property
    def violating_runs(self) -> int:
        return sum(1 for r in self.records if r["metrics"]["violations"])

    @property
    def broken(self) -> bool:
        return self.worst is not None and self.worst.breaks


class Progress(StatusLine):
    def step(self, search: Search, trials: list[Trial]) -> None:
        found = best(search, trials)
        value = f", worst so far {search.objective.metric} = {found.value:.6g}" if found else ""
        self.draw(f"search {search.name}: {len(trials)}/{search.budget} trials{value}")


def execute_search(search: Search, out: Path, *, workers: int | None = None, scheduler: str | None = None,
                   restart: bool = False, report: bool = True, command: str | None = None,
                   stream=None) -> SearchResult:
    """Run the search into ``out``; with ``report``, write the trials, progress plot, worst scenario (and
    run it into ``worst/``) and the summary."""
    from sim.sweep.driver import execute_sweep

    stream = stream if stream is not None else sys.stderr
    out = Path(out)
    if workers is None:
        workers = min(default_workers(), search.batch * len(search.seeds))
    pool = make_pool(workers, scheduler)  # refuses --workers 0 and a bad scheduler before the folder is touched
    points: dict[str, object] = {}
    records: dict[str, dict] = {}
    failed: list[dict] = []
    counts = {"executed": 0, "exec_s": 0.0}
    status = Progress(stream)
    first = True

    def evaluate(batch: list[dict]) -> list[dict | None]:
        nonlocal first
        asked = []
        for values in batch:
            point = search.head.space.point(len(points), values)
            points.setdefault(point.id, point)
            asked.append(points[point.id])
        if first and restart:
            _clear(out)
        result = execute_sweep(search.sweep(tuple(points.values())), out, pool=pool, restart=restart and first,
                               report=False, stream=stream if first else io.StringIO(), progress=False)
        first = False
        counts["executed"] += result.executed
        counts["exec_s"] += result.exec_s
        failed.extend(result.failed)
        for record in result.records:
            records[record["run"]] = record
        return [_means(search, point, records) for point in asked]

    try:
        trials = search_loop(search, evaluate, on_batch=lambda t: status.step(search, t))
    except BaseException:
        status.close()
        pool.terminate()
        raise
    status.close()
    pool.close()
    ordered = [records[f"{p.id}-s{s}"] for p in points.values() for s in search.seeds
               if f"{p.id}-s{s}" in records]
    result = SearchResult(search, out, trials, ordered, failed, counts["executed"], len(ordered) - counts["executed"],
                          counts["exec_s"], pool.description)
    result.worst = best(search, trials)
    if result.worst is not None:
        point = points[search.head.space.point(0, result.worst.values).id]
        runs = [records[f"{point.id}-s{s}"] for s in search.seeds if f"{point.id}-s{s}" in records]
        chosen = None
        for run in runs:  # the seed whose run is most extreme (the first on ties)
            value = run["metrics"].get(search.objective.metric)
            if value is not None and (chosen is None or search.objective.better(value, chosen["metrics"][
                    search.objective.metric])):
                chosen = run
        result.worst_run = chosen
        result.worst_seed = chosen["seed"] if chosen else None
    if report:
        from sim.search.report import write_report

        write_report(result, points, command or f"rbtc-sim search {search.path} --out {out}")
    return result


def _means(search: Search, point, records: dict) -> dict | None:
    runs = [records.get(f"{point.id}-s{seed}") for seed in search.seeds]
    if any(r is None for r in runs):
        return None  # a run failed: the trial is not measured
    means = {}
    for metric in search.head.metrics:
        mean = aggregate([r["metrics"].get(metric) for r in runs])["mean"]
        means[metric] = None if mean != mean else mean
    return means


def _clear(out: Path) -> None:
    import shutil

    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "worst", ignore_errors=True)
