"""``make bench``: throughput figures, each printed as a ratio against a baseline run in the same process.

    python bench/bench.py                 every section
    python bench/bench.py --only syncs    one section (see --help for the list)

Each section prints a small table and whether its target was met; ``--strict`` exits 1 when one
was not. Timing is wall-clock, so run on an otherwise idle machine for figures worth quoting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts_model.params import PRESETS  # noqa: E402
from sim.protocol.deployment import Accounts  # noqa: E402
from sim.protocol.evm_backend import GENESIS_TIMESTAMP, EvmBackend  # noqa: E402
from sim.protocol.model_backend import ModelBackend  # noqa: E402

SECTIONS = {}


def section(name: str):
    def register(fn):
        SECTIONS[name] = fn
        return fn

    return register


def _users(n: int) -> list[str]:
    return ["0x" + (0x1000 + i).to_bytes(20, "big").hex() for i in range(n)]


def _targets(count: int, users: list[str]):
    """A deterministic sync-heavy workload: every user goes up, up, down, up, to zero, ... in turn."""
    pattern = (150_000, 260_000, 90_000, 400_000, 0, 75_000)
    for i in range(count):
        user = users[i % len(users)]
        yield user, pattern[(i // len(users)) % len(pattern)] + (i % 7) * 1_000


def _time_port(backend, users: list[str], count: int) -> float:
    committee = Accounts().committee
    for user in users:
        backend.deposit(committee, user, 10**17)
    start = time.perf_counter()
    for user, balance in _targets(count, users):
        backend.sync(user, balance)
    return time.perf_counter() - start


def _time_naive(users: list[str], count: int) -> float:
    from bench.naive_web3 import NaiveWeb3System

    system = NaiveWeb3System(PRESETS["testnet"], GENESIS_TIMESTAMP)
    for user in users:
        system.deposit(user, 10**17)
    start = time.perf_counter()
    for user, balance in _targets(count, users):
        system.sync(user, balance)
    return time.perf_counter() - start


def _row(label: str, count: int, seconds: float) -> float:
    rate = count / seconds
    print(f"  {label:<34} {count:>8} syncs {seconds:>8.2f} s {rate:>12,.0f} syncs/s")
    return rate


@section("syncs")
def bench_syncs(args) -> bool:
    """Syncs per second: model backend, the EVM backends (py-evm, revm), and the naive web3 + eth-tester loop."""
    users = _users(50)
    print("syncs: one sync-heavy workload (50 users, testnet preset), same process")
    naive = _row("naive web3 + eth-tester transact", args.naive_syncs, _time_naive(users, args.naive_syncs))
    evm_backend = EvmBackend(PRESETS["testnet"])
    evm = _row("evm backend (py-evm messages)", args.evm_syncs, _time_port(evm_backend, users, args.evm_syncs))
    revm_backend = EvmBackend(PRESETS["testnet"], engine="revm")
    revm = _row("revm backend (pyrevm messages)", args.revm_syncs, _time_port(revm_backend, users, args.revm_syncs))
    model_backend = ModelBackend(PRESETS["testnet"])
    model = _row("model backend (contracts_model)", args.model_syncs, _time_port(model_backend, users, args.model_syncs))
    ok_evm, ok_revm, ok_model = evm / naive >= 5, revm / evm >= 30, model / evm >= 100
    print(f"  evm / naive   = {evm / naive:8.1f}x   (target >= 5x)   {'ok' if ok_evm else 'MISSED'}")
    print(f"  revm / evm    = {revm / evm:8.1f}x   (target >= 30x)  {'ok' if ok_revm else 'MISSED'}")
    print(f"  model / evm   = {model / evm:8.1f}x   (target >= 100x) {'ok' if ok_model else 'MISSED'}")
    print(f"  model / revm  = {model / revm:8.1f}x")
    print(f"  model / naive = {model / naive:8.1f}x")
    return ok_evm and ok_revm and ok_model


def _time_world(backend: str, users: int, days: int):
    from sim.config import DAY, WorldConfig
    from sim.world import World

    start = time.perf_counter()
    world = World(WorldConfig(seed=1, users=users, duration_s=days * DAY, backend=backend))
    world.run()
    world.finish()
    seconds = time.perf_counter() - start
    print(f"  {backend:<6} {users:>6} users x {days} days  {seconds:>7.1f} s  {days / seconds:>7.2f} sim days/s"
          f"  {world.log.count / seconds:>9,.0f} events/s  ({world.log.count:,} events, "
          f"{world.metrics.ops['sync']:,} syncs, {world.violations.count} violations)")
    return seconds, world.log.count


@section("world")
def bench_world(args) -> bool:
    """Whole worlds: 10,000 users for 7 days on the model backend and on revm, 1,000 users for 7 days
    on py-evm and on revm."""
    print("world: simulated weeks end to end (agents, Bitcoin chain, oracle, invariant monitors)")
    model_s, model_events = _time_world("model", args.world_model_users, 7)
    revm_big_s, _ = _time_world("revm", args.world_revm_users, 7)
    evm_s, evm_events = _time_world("evm", args.world_evm_users, 7)
    revm_s, _ = _time_world("revm", args.world_evm_users, 7)
    ok_model, ok_revm_big, ok_evm, ok_revm = model_s < 60, revm_big_s < 60, evm_s < 120, evm_s / revm_s >= 5
    print(f"  model world: {model_s:.1f} s (target < 60 s)  {'ok' if ok_model else 'MISSED'}")
    print(f"  revm world:  {revm_big_s:.1f} s (target < 60 s)  {'ok' if ok_revm_big else 'MISSED'}")
    print(f"  evm world:   {evm_s:.1f} s (target < 120 s) {'ok' if ok_evm else 'MISSED'}")
    print(f"  same world evm / revm = {evm_s / revm_s:.1f}x (target >= 5x) {'ok' if ok_revm else 'MISSED'}")
    print(f"  events/s model / evm = {(model_events / model_s) / (evm_events / evm_s):.1f}x")
    return ok_model and ok_revm_big and ok_evm and ok_revm


def _register_optional_sections() -> None:
    from bench.bench_api import add_arguments as api_arguments
    from bench.bench_api import bench_api

    from bench.bench_sweep import add_arguments as sweep_arguments
    from bench.bench_sweep import bench_sweep

    from bench.bench_scale import add_arguments as scale_arguments
    from bench.bench_scale import bench_scale

    from bench.bench_estimate import add_arguments as estimate_arguments
    from bench.bench_estimate import bench_estimate

    SECTIONS["api"] = bench_api
    SECTIONS["sweep"] = bench_sweep
    SECTIONS["scale"] = bench_scale
    SECTIONS["estimate"] = bench_estimate
    OPTIONS.extend((api_arguments, sweep_arguments, scale_arguments, estimate_arguments))


OPTIONS: list = []


def main(argv=None) -> int:
    _register_optional_sections()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--naive-syncs", type=int, default=300)
    parser.add_argument("--evm-syncs", type=int, default=2_000)
    parser.add_argument("--revm-syncs", type=int, default=40_000)
    parser.add_argument("--model-syncs", type=int, default=200_000)
    parser.add_argument("--world-model-users", type=int, default=10_000)
    parser.add_argument("--world-evm-users", type=int, default=1_000)
    parser.add_argument("--world-revm-users", type=int, default=10_000)
    for add in OPTIONS:
        add(parser)
    args = parser.parse_args(argv)
    results = {}
    for name in args.only or list(SECTIONS):
        results[name] = SECTIONS[name](args)
        print()
    missed = [name for name, ok in results.items() if not ok]
    print("all targets met" if not missed else f"targets missed in: {', '.join(missed)}")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
