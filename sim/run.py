"""Running a scenario into a run folder (layout: docs/run-folder.md).

The folder is written as the run goes: ``summary.json`` first (``complete: false``), then the event
log and the metrics line by line, and at the end the final summary and the report. Whatever stops
the run (an invariant is not a reason to stop; Ctrl-C, SIGTERM or a crash is) leaves the summary
marked incomplete, with the reason, and every whole line written so far.

A run never lands on top of another one: a folder that already holds a run is refused unless the
caller asks to ``overwrite`` it (``rbtc-sim run --overwrite``), which removes the old run's files
first; a folder holding anything else is always refused, and so is a path that is a file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import attrs

from contracts_model.validation import InvalidValue, show
from sim.config import WorldConfig
from sim.eventlog import EventLog
from sim.exits import BadInput
from sim.metrics import COLUMNS
from sim.quantiles import nearest_rank
from sim.scenario import Scenario, dump
from sim.world import World

REPORTS_DIR = Path(__file__).resolve().parents[1] / "reports"
#: Files a run writes (and its folder ``plots/``); ``overwrite`` removes exactly these.
RUN_FILES = ("summary.json", "events.jsonl", "metrics.csv", "scenario.toml", "report.md", "report.html",
             "proof_of_reserves.json", "index.sqlite", "index.sqlite-wal", "index.sqlite-shm")
RUN_DIRS = ("plots",)


def prepare_run_dir(run_dir: Path, *, overwrite: bool = False) -> None:
    """Make ``run_dir`` ready for a new run, or raise BadInput (see the module docstring)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise BadInput(f"{run_dir}: exists and is not a folder; expected a folder for the run (--out)")
    names: list[str] = []
    if run_dir.is_dir():
        try:
            names = sorted(p.name for p in run_dir.iterdir())
        except OSError as exc:
            raise BadInput(f"{run_dir}: cannot read the folder ({exc.strerror or exc})") from None
        ours = set(RUN_FILES) | set(RUN_DIRS)
        foreign = [n for n in names if n not in ours and not n.endswith(".tmp")]
        if foreign:
            raise BadInput(f"{run_dir}: holds files that are not a run's ({foreign[0]}); "
                           "expected an empty or new folder (--out)")
        if names and not overwrite:
            raise BadInput(f"{run_dir}: holds a run already; pass --overwrite to replace it, "
                           "or --out to choose another folder")
    try:
        for name in names:
            path = run_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{run_dir}: cannot prepare the run folder ({exc.strerror or exc})") from None


def default_out_dir(scenario: Scenario) -> Path:
    return REPORTS_DIR / f"{scenario.name}-{scenario.config.seed}"


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def reproduce_command(scenario: Scenario, run_dir: Path | None = None) -> str:
    c = scenario.config
    source = f"{run_dir}/scenario.toml" if run_dir is not None else (str(scenario.path) if scenario.path else scenario.name)
    command = f"rbtc-sim run {source} --seed {c.seed} --backend {c.backend}"
    if c.engine != "reference":
        command += f" --engine {c.engine}"
    if c.contracts_dir:
        command += f" --contracts {c.contracts_dir}"
    if c.deployment_file:
        command += f" --deployment {c.deployment_file}"
    if c.deviations_file:
        command += f" --deviations {c.deviations_file}"
    return command


def make_log(config: WorldConfig, path: Path | None):
    """The event log the config's engine writes (to ``path``; None keeps no file)."""
    if config.engine == "fast":
        from sim.fast.records import FastLog

        return FastLog(path)
    return EventLog(path, keep=False)


def make_world(config: WorldConfig, log):
    """The world of the config's engine: :class:`sim.world.World` or :class:`sim.fast.world.FastWorld`."""
    if config.engine == "fast":
        from sim.fast.world import FastWorld

        return FastWorld(config, log=log)
    return World(config, log=log)


class MetricsWriter:
    """Appends each metrics row to metrics.csv as it is sampled."""

    def __init__(self, path: Path):
        self.handle = open(path, "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=COLUMNS)
        self.writer.writeheader()
        self.handle.flush()

    def __call__(self, row: dict) -> None:
        self.writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def summarize(scenario: Scenario, world: World | None, log: EventLog, *, complete: bool, interrupted: str | None,
              wall_clock_s: float, run_dir: Path) -> dict:
    c = scenario.config
    summary = {
        "scenario": scenario.name,
        "seed": c.seed,
        "backend": c.backend,
        "engine": c.engine,
        "log": c.log,
        "digest": log.digest,
        "complete": complete,
        "interrupted": interrupted,
        "users": c.users,
        "duration_s": c.duration_s,
        "simulated_s": int(world.env.now) if world else 0,
        "events": log.count,
        "params": attrs.asdict(c.params),
        "preset": c.preset,
        "reproduce": reproduce_command(scenario, run_dir),
        "wall_clock_s": round(wall_clock_s, 3),
    }
    if world is None:
        return summary
    monitor, metrics = world.monitor, world.metrics
    windows = monitor.windows() if monitor else []
    by_cause = {cause: 0 for cause in ("reorg", "outage", "latency", "unexplained")}
    for window in windows:
        by_cause[window.cause] = by_cause.get(window.cause, 0) + 1
    reproduce = summary["reproduce"]
    summary.update({
        "btc_blocks": world.chain.height,
        "reorgs": metrics.kinds["btc_reorg"],
        "syncs": metrics.ops["sync"],
        "emergency_burns": metrics.ops["emergency_burn"],
        "needs_topup": metrics.ops["needs_topup"],
        "oracle_rounds": world.oracle.rounds,
        "disputes": world.dispute_summary(),
        "backing": {
            "min_ratio": monitor.min_ratio if monitor else None,
            "violations": len(windows),
            "max_violation_window_s": max((w.duration for w in windows), default=0),
            "max_excess_sats": max((w.max_excess for w in windows), default=0),
            "windows_by_cause": by_cause,
            "open_windows": len(monitor.open) if monitor else 0,
        },
        "invariant_violations": [dict(v.as_dict(), reproduce=reproduce) for v in world.violations.kept],
        "violation_count": world.violations.count,
        "violations_by_invariant": world.violations.by_invariant(),
        "violation_groups": [dict(group, first=dict(group["first"], reproduce=reproduce))
                             for group in world.violations.grouped()],
        "reverts": world.causes.breakdown(),
        "paths": world.paths(),
        "backoff": {"users": len(world.oracle.backoff),
                    "max_refusals": max((n for n, _ in world.oracle.backoff.values()), default=0)},
        "sync_delay_s": {
            "p50": nearest_rank(metrics.sync_delays, 0.5),
            "p95": nearest_rank(metrics.sync_delays, 0.95),
            "max": max(metrics.sync_delays, default=None),
        },
        "fees_collected_wei": metrics.fees,
        "gas": world.port.gas.summary(),
    })
    summary.update(world.extra_summary())
    return summary


def execute(scenario: Scenario, out_dir: Path | None = None, *,
            on_progress: Callable[[int, int, int], None] | None = None,
            on_world: Callable[[World], None] | None = None,
            report: bool = True, overwrite: bool = False) -> tuple[dict, Path]:
    """Run ``scenario`` into ``out_dir``; return the summary and the folder.

    ``on_progress(simulated_s, duration_s, events)`` is called every simulated hour; ``on_world``
    gets the world once it is built (to attach a live indexer or an API server). A folder that
    already holds a run is refused unless ``overwrite`` (see :func:`prepare_run_dir`).
    """
    run_dir = Path(out_dir) if out_dir is not None else default_out_dir(scenario)
    prepare_run_dir(run_dir, overwrite=overwrite)
    (run_dir / "scenario.toml").write_text(dump(scenario), encoding="utf-8")
    started = time.perf_counter()
    config = scenario.config
    log = make_log(config, run_dir / "events.jsonl" if config.log == "full" else None)
    summary_path = run_dir / "summary.json"
    write_json(summary_path, summarize(scenario, None, log, complete=False, interrupted="running",
                                       wall_clock_s=0.0, run_dir=run_dir))
    world = None
    metrics_out = MetricsWriter(run_dir / "metrics.csv")
    interrupted: str | None = "crashed before the world was built"
    try:
        world = make_world(config, log)
        world.metrics.on_row.append(metrics_out)
        if on_world is not None:
            on_world(world)
        duration = scenario.config.duration_s

        def progress(now: int) -> None:
            if on_progress is not None:
                on_progress(now, duration, log.count)

        interrupted = "crashed while running"
        world.run(on_progress=progress)
        world.finish()
        if world.reserves.latest is not None:
            write_json(run_dir / "proof_of_reserves.json", world.reserves.latest.as_json())
        interrupted = None
    except KeyboardInterrupt:
        interrupted = "interrupted (Ctrl-C)"
        raise
    except BaseException as exc:
        interrupted = f"{interrupted}: {type(exc).__name__}: {exc}"
        raise
    finally:
        log.close()
        metrics_out.close()
        summary = summarize(scenario, world, log, complete=interrupted is None, interrupted=interrupted,
                            wall_clock_s=time.perf_counter() - started, run_dir=run_dir)
        write_json(summary_path, summary)
        if report:
            _report(run_dir, summary)
    return summary, run_dir


def _report(run_dir: Path, summary: dict) -> None:
    from sim.report import build_report

    build_report(run_dir, reproduce=summary.get("reproduce"))


def with_overrides(scenario: Scenario, *, seed: int | None = None, backend: str | None = None,
                   contracts_dir: str | None = None, deployment_file: str | None = None,
                   deviations_file: str | None = None, engine: str | None = None, log: str | None = None) -> Scenario:
    """The scenario with command-line overrides; a value the config refuses is bad input naming the flag
    (or, when the flags make a value the scenario set unusable, naming the flags and that value)."""
    given = {"seed": seed, "backend": backend, "contracts_dir": contracts_dir, "deployment_file": deployment_file,
             "deviations_file": deviations_file, "engine": engine, "log": log}
    changes = {name: value for name, value in given.items() if value is not None}
    flags = {name: "--" + {"contracts_dir": "contracts", "deployment_file": "deployment",
                           "deviations_file": "deviations"}.get(name, name) for name in changes}
    if engine == "fast" and backend is None:
        changes["backend"] = "model"  # the fast engine runs the models' semantics
    try:
        config: WorldConfig = attrs.evolve(scenario.config, **changes)
    except InvalidValue as exc:
        if exc.field in flags:
            raise BadInput(f"{flags[exc.field]} {show(changes[exc.field])}: expected {exc.expected}") from None
        shown = " ".join(f"{flag} {changes[name]}" for name, flag in flags.items())
        raise BadInput(f"{shown}: the scenario's {exc.field} must be {exc.expected}, "
                       f"got {show(exc.value)}") from None
    return attrs.evolve(scenario, config=config)
