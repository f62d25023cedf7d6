"""A run folder as the report sees it: the summary, the metrics and one scan of the event log.

For a complete run the summary is the authority on every figure. For an incomplete one, the
summary may still hold what was written at the start, so figures the event log or the metrics can
give are taken from there ("report what exists"); :meth:`Run.pick` makes that choice in one place.
"""

from __future__ import annotations

import json
from pathlib import Path

from attrs import define

from sim.report.inputs import Metrics, Summary, read_metrics, read_summary
from sim.report.scan import EventScan, violation_key


@define
class Run:
    dir: Path
    summary: Summary
    metrics: Metrics
    events: EventScan
    reproduce: str | None

    @property
    def complete(self) -> bool:
        return self.summary.complete

    @property
    def duration_s(self) -> int | None:
        value = self.summary.get("duration_s")
        if value is None and self.events.world_start:
            value = self.events.world_start.get("duration_s")
        return int(value) if value is not None else None

    @property
    def end_t(self) -> int:
        """The last simulated second the run folder shows."""
        candidates = [self.events.last_t, self.metrics.last("t"), self.summary.get("simulated_s")]
        if self.complete:
            candidates.append(self.duration_s)
        return max([int(c) for c in candidates if c is not None], default=0)

    @property
    def plot_end_t(self) -> int:
        """The x range of the plots: the whole configured duration, or what exists of it."""
        return max(self.end_t, self.duration_s or 0) if self.complete else max(self.end_t, 1)

    def pick(self, keys: tuple[str, ...], fallback=None):
        """The summary's value at ``keys`` for a complete run; else ``fallback`` (counted from the
        event log or the metrics) when there is one, else whatever the summary says."""
        stated = self.summary.get(*keys)
        if self.complete and stated is not None:
            return stated
        if fallback is not None:
            return fallback
        return stated


def bin_width(duration_s: int | None) -> int:
    """Time bins of the event series: the metrics interval of docs/run-folder.md."""
    return max(60, int(duration_s) // 500) if duration_s else 3_600


def _peek_duration(events_path: Path) -> int | None:
    """``duration_s`` from the log's first record (``world_start``) without reading further."""
    if not events_path.exists():
        return None
    with open(events_path, "rb") as handle:
        first = handle.readline()
    try:
        record = json.loads(first)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("kind") == "world_start" and record.get("duration_s"):
        return int(record["duration_s"])
    return None


def load_run(run_dir: Path, reproduce: str | None = None) -> Run:
    """Read ``run_dir``; ``reproduce`` defaults to the summary's own ``reproduce`` command, if any."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    summary = read_summary(run_dir)
    metrics = read_metrics(run_dir)
    events_path = run_dir / "events.jsonl"
    duration = summary.get("duration_s") or _peek_duration(events_path)
    listed = summary.get("invariant_violations", default=[])
    known = frozenset(violation_key(v) for v in listed if isinstance(v, dict))
    scan = EventScan(bin_width(duration), known).read(events_path)
    if reproduce is None and isinstance(summary.get("reproduce"), str):
        reproduce = summary.get("reproduce")
    return Run(run_dir, summary, metrics, scan, reproduce)
