"""``make bench`` section ``sweep``: sweep throughput with 1 and with 2 local worker processes.

    python bench/bench.py --only sweep                  # the section on its own
    python bench/bench.py --only sweep --sweep-days 60  # shorter worlds

The same small sweep (yield_season shortened: 200 holders, 10 traders, 120 days; 4 points x 2 seeds
= 8 runs of about 2 s each) runs twice in this process, each time into a fresh temporary folder:
once on 1 worker, once on 2. Each executor is started and warmed before its clock starts and is
reused for every run, so the figure is runs per second of simulation work, not process start-up.
Prints runs/s for each and the ratio (target >= 1.7x on two cores), and checks that both produced
the same result tables.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 1.7

SWEEP = """
[sweep]
name = "bench"
scenario = "yield_season"
seeds = {seeds}

[override.world]
users = {users}
duration = "{days}d"

[override.yield]
traders = 10

[vary]
base_rate = [400, 600]
max_rate = [500, 2000]

[objective]
metric = "holder_apy_mean"
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sweep-users", type=int, default=200)
    parser.add_argument("--sweep-days", type=int, default=120)
    parser.add_argument("--sweep-seeds", type=int, default=2, help="seeds per point (4 points)")


def _arg(args, name: str, default):
    return getattr(args, name, default) if args is not None else default


def _time(path: Path, out: Path, workers: int):
    from sim.sweep.driver import execute_sweep
    from sim.sweep.spec import load_sweep
    from sim.sweep.tables import run_rows

    sweep = load_sweep(str(path))
    result = execute_sweep(sweep, out, workers=workers, report=False, stream=io.StringIO())
    rows = run_rows(sweep, result.records)
    print(f"  {workers} worker{'s' if workers > 1 else ' '}  {result.executed:>3} runs  {result.exec_s:>7.2f} s  "
          f"{result.runs_per_s:>6.2f} runs/s  ({sum(r['wall_s'] for r in result.records) / result.executed:.2f} s "
          f"per run inside the worker)")
    return result.runs_per_s, rows


def bench_sweep(args=None) -> bool:
    """The section: see the module docstring. True when 2 workers reach TARGET x the runs/s of 1."""
    users = _arg(args, "sweep_users", 200)
    days = _arg(args, "sweep_days", 120)
    seeds = _arg(args, "sweep_seeds", 2)
    print(f"sweep: 4 points x {seeds} seeds of yield_season ({users} holders, 10 traders, {days} days), "
          "the sweep default (fast engine, model backend), local worker processes")
    with tempfile.TemporaryDirectory(prefix="rbtc-bench-sweep-") as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(SWEEP.format(users=users, days=days, seeds=seeds), encoding="utf-8")
        one, rows_one = _time(path, Path(tmp) / "one", 1)
        two, rows_two = _time(path, Path(tmp) / "two", 2)
    ratio = two / one if one else 0.0
    same = rows_one == rows_two
    ok = ratio >= TARGET and same
    print(f"  2 workers / 1 worker = {ratio:.2f}x   (target >= {TARGET}x)  {'ok' if ratio >= TARGET else 'MISSED'}")
    print(f"  identical result tables: {'yes' if same else 'NO'}")
    return ok
