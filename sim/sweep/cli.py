"""``rbtc-sim sweep SWEEP.toml [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT] [--backend B] [--restart]``.

Exit status (:mod:`sim.exits`): 0 every run finished clean, 1 a run reported invariant violations (or
failed), 2 bad input (the sweep file, its base scenario, the output folder or the scheduler address;
one line on stderr says what and where), 3 the harness failed (a crash report), 130 interrupted
(finished runs are kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.config import BACKENDS

from sim.exits import BAD_INPUT as EXIT_BAD_INPUT
from sim.exits import INTERRUPTED as EXIT_INTERRUPTED
from sim.exits import OK as EXIT_CLEAN
from sim.exits import VIOLATION as EXIT_VIOLATION
from sim.exits import bad_input_errors, guarded, one_line, sigterm_as_interrupt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep subcommand's arguments (``parser`` is the subparser); sets ``func`` to :func:`cmd_sweep`."""
    parser.add_argument("sweep", help="a sweep file, or a built-in sweep name (scenarios/sweeps/*.toml)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default reports/sweep-<name>/); "
                        "rerunning into the same folder executes only the missing runs")
    parser.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: CPU count)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run on a Dask distributed cluster instead of local processes")
    parser.add_argument("--backend", choices=BACKENDS,
                        help="override the sweep file's backend (a different backend is a different sweep)")
    parser.add_argument("--restart", action="store_true",
                        help="discard the runs already in the output folder and start clean")
    parser.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    return run_sweep(args.sweep, args.out, args.workers, args.scheduler, restart=getattr(args, "restart", False),
                     backend=getattr(args, "backend", None))


def run_sweep(path: str, out: str | None = None, workers: int | None = None, scheduler: str | None = None, *,
              restart: bool = False, backend: str | None = None) -> int:
    """Load, validate and run a sweep; print where the results are. Returns the exit status (module docstring)."""
    from sim.run import REPORTS_DIR
    from sim.sweep.driver import execute_sweep
    from sim.sweep.execute import check_workers
    from sim.sweep.spec import format_value, load_sweep
    from sim.world import require_backend

    out_dir = None
    try:
        check_workers(workers)
        sweep = load_sweep(path, backend)
        require_backend(sweep.backend)  # exit 2 now, not in every worker, if revm cannot load here
        out_dir = Path(out) if out else REPORTS_DIR / f"sweep-{sweep.name}"
        if workers is not None and scheduler:
            print("note: --workers is ignored with --scheduler (the cluster's workers run the sweep)", file=sys.stderr)
        command = f"rbtc-sim sweep {path} --out {out_dir}" + (f" --backend {backend}" if backend else "")
        with sigterm_as_interrupt():
            result = execute_sweep(sweep, out_dir, workers=workers, scheduler=scheduler, restart=restart,
                                   command=command)
    except bad_input_errors() as exc:
        print(f"rbtc-sim: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        where = f" in {out_dir / 'runs'}" if out_dir is not None else ""
        print(f"rbtc-sim: sweep interrupted; finished runs are kept{where}; run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    total = len(sweep.runs)
    speed = f" in {result.exec_s:.1f} s ({result.runs_per_s:.2f} runs/s)" if result.executed else ""
    print(f"sweep {sweep.name}: {total} runs ({result.executed} executed, {result.reused} reused, "
          f"{len(result.failed)} failed) on {result.executor}{speed}")
    best = next((r for r in result.points if r["rank"] == 1), None)
    if best is not None:
        metric = sweep.objective.metric
        values = ", ".join(f"{p.name}={format_value(p.name, best[p.name])}" for p in sweep.params)
        status = "" if not sweep.objective.constraints else (
            " (constraints met)" if best["feasible"] else " (no point meets the constraints)")
        print(f"best: {values}: {metric} = {best[metric + '_mean']:.6g}{status}")
    print(f"{result.violating_runs} runs with invariant violations, {len(result.failed)} failed")
    print(f"summary: {out_dir / 'summary.html'}")
    for answer in result.failed:
        print(f"rbtc-sim: run {answer['run']} failed: {answer['error']}", file=sys.stderr)
    return EXIT_VIOLATION if (result.violating_runs or result.failed) else EXIT_CLEAN


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m sim.sweep``) until the subcommand is wired into ``rbtc-sim``."""
    parser = argparse.ArgumentParser(prog="rbtc-sim sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return guarded(lambda: args.func(args), prog="rbtc-sim sweep", argv=argv)
