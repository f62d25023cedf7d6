"""``rbtc-sim search SEARCH.toml [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT] [--restart]``.

Exit status (:mod:`sim.exits`): 0 the search ran and the worst case it found keeps the bound (or
there is none) and every invariant; 1 the worst case breaks the objective's bound, or a run reported
invariant violations (or failed); 2 bad input (one line on stderr); 3 the harness failed (a crash
report); 130 interrupted (finished runs are kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.exits import OK, VIOLATION, sigterm_as_interrupt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("search", help="a search file, or a built-in name (scenarios/sweeps/*.toml)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default reports/search-<name>/); "
                        "rerunning into the same folder replays the search and runs only what is missing")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="local worker processes (default: CPU count, at most a batch of runs)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="evaluate on a Dask distributed cluster")
    parser.add_argument("--restart", action="store_true", help="discard the runs already in the output folder")
    parser.set_defaults(func=cmd_search)


def cmd_search(args) -> int:
    return run_search(args.search, args.out, args.workers, args.scheduler, restart=args.restart)


def run_search(path: str, out: str | None = None, workers: int | None = None, scheduler: str | None = None, *,
               restart: bool = False) -> int:
    """Load, validate and run a search; print what it found. Returns the exit status (module docstring)."""
    from sim.run import REPORTS_DIR
    from sim.search.driver import execute_search
    from sim.search.spec import load_search
    from sim.sweep.execute import check_workers
    from sim.sweep.spec import format_value

    check_workers(workers)
    search = load_search(path)
    out_dir = Path(out) if out else REPORTS_DIR / f"search-{search.name}"
    if workers is not None and scheduler:
        print("note: --workers is ignored with --scheduler (the cluster's workers run the search)", file=sys.stderr)
    with sigterm_as_interrupt():
        result = execute_search(search, out_dir, workers=workers, scheduler=scheduler, restart=restart,
                                command=f"rbtc-sim search {path} --out {out_dir}")
    print(f"search {search.name}: {len(result.trials)} trials ({result.executed} runs executed, "
          f"{result.reused} read back, {len(result.failed)} failed) on {result.executor}"
          + (f" in {result.exec_s:.1f} s" if result.executed else ""))
    worst = result.worst
    if worst is None:
        print("no trial was measured and feasible")
    else:
        values = ", ".join(f"{name}={format_value(name, v)}" for name, v in worst.values.items())
        print(f"worst: trial {worst.number}: {values}: {search.objective.metric} = {worst.value:.6g} "
              f"(seed {result.worst_seed} is the worst seed)")
        if search.objective.bound is not None:
            print(f"bound {search.objective.bound:g}: {'BROKEN' if worst.breaks else 'held'}")
        print(f"worst scenario: {out_dir / 'worst.toml'} (rbtc-sim run {out_dir / 'worst.toml'})")
        if result.replay:
            print(f"its report: {result.replay['report']}")
    print(f"{result.violating_runs} runs with invariant violations, {len(result.failed)} failed")
    print(f"summary: {out_dir / 'summary.html'}")
    for answer in result.failed:
        print(f"rbtc-sim: run {answer['run']} failed: {answer['error']}", file=sys.stderr)
    return VIOLATION if (result.broken or result.violating_runs or result.failed) else OK

