"""``rbtc-sim check BUILD_DIR [--deployment FILE] [--deviations FILE] [--budget quick|ci|deep] [--seed N]
[--out DIR] [--fail-fast] [--replay FILE]``.

Exit status (:mod:`sim.exits`): 0 every invariant held (or a replayed counterexample no longer fails),
1 an invariant was violated (or the counterexample still fails), 2 bad input (the build, the
deployment, the deviations or the counterexample file), 3 the harness failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.exits import OK, VIOLATION, BadInput
from sim.testing.suites import BUDGETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("build", metavar="BUILD_DIR",
                        help="compiled artifacts: our layout, Foundry out/ or Hardhat artifacts/")
    parser.add_argument("--deployment", metavar="FILE",
                        help="who holds each role: a TOML [roles] file or a Foundry broadcast run-latest.json")
    parser.add_argument("--deviations", metavar="FILE", help="declared differences from the reference models")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="quick",
                        help="examples × steps and world sizes (quick < 2 min, ci < 10 min on 2 cores)")
    parser.add_argument("--seed", type=int, default=1, help="the seed of the suites and the worlds (default 1)")
    parser.add_argument("--out", metavar="DIR", help="where the report goes (default reports/check-<build>/)")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first phase that breaks an invariant")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier check in the --out folder")
    parser.add_argument("--replay", metavar="FILE", help="replay a saved counterexample against BUILD_DIR")
    parser.add_argument("--evm", choices=("pyevm", "revm"),
                        help="the EVM the build runs on (default: revm where it loads, else pyevm)")
    parser.set_defaults(func=cmd_check)


def _build(args):
    from contracts_model.deployment import Deployment
    from sim.protocol.artifacts import load_artifacts
    from sim.protocol.deployment import load_deployment
    from sim.protocol.deviations import load_deviations
    from sim.testing.build import Build

    load_artifacts(args.build)  # one clear line (exit 2) for a missing or unusable build
    deployment = load_deployment(args.deployment).deployment if args.deployment else Deployment()
    if args.deviations:
        load_deviations(args.deviations)
    if args.evm == "revm":
        from sim.evm.revm_engine import require_revm

        require_revm()
    return Build.at(args.build, deployment=deployment, deviations_file=args.deviations, evm=args.evm)


def cmd_check(args) -> int:
    if args.seed < 0:
        raise BadInput(f"--seed {args.seed}: expected a non-negative integer")
    build = _build(args)
    if args.replay:
        return _replay(build, args.replay)
    from sim.check.report import write
    from sim.check.runner import run_check
    from sim.run import REPORTS_DIR

    name = Path(args.build).resolve().name
    out = Path(args.out) if args.out else REPORTS_DIR / f"check-{name}"

    def progress(line: str) -> None:
        print(f"check: {line}", file=sys.stderr, flush=True)

    result = run_check(build, BUDGETS[args.budget], seed=args.seed, out=out,
                       deployment_file=str(Path(args.deployment).resolve()) if args.deployment else None,
                       fail_fast=args.fail_fast, overwrite=args.overwrite, progress=progress)
    md, page = write(result)
    verdicts = result.invariants()
    broken = [f"{name} ({v['count']:,})" for name, v in verdicts.items() if v["status"] == "violated"]
    print(f"{'FAIL' if broken else 'PASS'}: {', '.join(broken) if broken else 'every invariant held'} "
          f"({result.seconds:.0f} s, budget {args.budget})")
    missing = result.as_json()["not_exercised"]
    if missing:
        print(f"never exercised: {', '.join(missing)}")
    print(f"report: {page}")
    return VIOLATION if broken else OK


def _replay(build, path: str) -> int:
    from sim.testing.counterexample import load, replay

    try:
        data = load(path)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    print("\n".join(data.get("readable", [])[:-1]))
    failure = replay(data, build)
    if failure is None:
        print(f"HOLDS: the counterexample no longer breaks [{data['failure']['invariant']}] on {build.label}")
        return OK
    print(f"FAILS at step {failure['step']}: [{failure['invariant']}] {failure['message']}")
    return VIOLATION
