"""``rbtc-sim``: run scenarios, check them, replay runs, serve and inspect their data.

Exit status (one contract for every command, see :mod:`sim.exits`): 0 all held, 1 an invariant was
violated (or a replay did not match), 2 bad input (one line on stderr says what and where), 3 the
harness itself failed (one line names a crash-report file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from sim.config import BACKENDS
from sim.exits import OK, VIOLATION, BadInput, guarded
from sim.scenario import builtins, load


def _scenario(args):
    from sim.run import with_overrides

    scenario = load(args.scenario)
    resolved = {name: str(Path(value).resolve()) if value else None
                for name, value in (("contracts_dir", args.contracts), ("deployment_file", args.deployment),
                                    ("deviations_file", args.deviations))}
    return with_overrides(scenario, seed=args.seed, backend=args.backend, **resolved)


def cmd_run(args) -> int:
    from sim.progress import ProgressBar
    from sim.run import default_out_dir, execute

    scenario = _scenario(args)
    if scenario.config.contracts_dir:
        from sim.protocol.artifacts import load_artifacts

        load_artifacts(scenario.config.contracts_dir)  # fail fast, before anything is written
    if scenario.config.deployment_file:
        from sim.protocol.deployment import load_deployment

        load_deployment(scenario.config.deployment_file)
    if scenario.config.deviations_file:
        from sim.protocol.deviations import load_deviations

        load_deviations(scenario.config.deviations_file)
    run_dir = Path(args.out) if args.out else default_out_dir(scenario)
    bar = ProgressBar(f"{scenario.name} (seed {scenario.config.seed}, {scenario.config.backend})")
    server = None

    def attach(world):
        nonlocal server
        if args.serve:
            from sim.api import serve_world

            server = serve_world(world, run_dir, host=args.host, port=args.port)
            print(f"serving the realtime API at http://{args.host}:{args.port}/api/realtime/ while the world runs",
                  file=sys.stderr)

    try:
        summary, run_dir = execute(scenario, run_dir, on_progress=bar, on_world=attach)
    finally:
        bar.close()
        if server is not None and not args.keep_serving:
            server.stop()
    violations = summary.get("violation_count", 0)
    print(f"{scenario.name}: {summary['events']:,} events, {summary.get('syncs', 0):,} syncs, "
          f"{summary.get('emergency_burns', 0):,} emergency burns, {violations:,} invariant violations, "
          f"digest {summary['digest'][:16]}")
    print(f"report: {run_dir / 'report.html'}")
    if server is not None and args.keep_serving:
        print("the API keeps serving the finished run; Ctrl-C to stop", file=sys.stderr)
        try:
            server.wait()
        except KeyboardInterrupt:
            server.stop()
    return VIOLATION if violations else OK


def cmd_validate(args) -> int:
    scenario = load(args.scenario)
    c = scenario.config
    print(f"{scenario.path}: ok — {scenario.name}: {c.users:,} users, {c.duration_s / 86400:g} days, "
          f"backend {c.backend}, seed {c.seed}, {len(c.schedule)} scheduled events")
    return OK


def cmd_list(args) -> int:
    scenarios = builtins()
    width = max(len(s.name) for s in scenarios)
    for s in scenarios:
        c = s.config
        print(f"{s.name:<{width}}  {c.users:>6,} users {c.duration_s / 86400:>5g} d  {c.backend:<8} {s.description}")
    return OK


def cmd_replay(args) -> int:
    from sim.run import execute

    run_dir = Path(args.run_dir)
    summary_path, scenario_path = run_dir / "summary.json", run_dir / "scenario.toml"
    for path in (summary_path, scenario_path):
        if not path.is_file():
            raise BadInput(f"{run_dir}: not a run folder (missing {path.name})")
    recorded = json.loads(summary_path.read_text())
    if not recorded.get("complete"):
        raise BadInput(f"{summary_path}: the recorded run is incomplete ({recorded.get('interrupted')}); "
                       "there is no final digest to confirm")
    scenario = load(str(scenario_path))
    with tempfile.TemporaryDirectory(prefix="rbtc-replay-") as tmp:
        summary, _ = execute(scenario, Path(tmp), report=False)
    same = summary["digest"] == recorded["digest"]
    print(f"recorded digest {recorded['digest']}")
    print(f"replayed digest {summary['digest']}  {'MATCH' if same else 'MISMATCH'}")
    return OK if same else VIOLATION


def _evm_address(text: str) -> str:
    value = text.strip()
    if not (value.startswith(("0x", "0X")) and len(value) == 42):
        raise BadInput(f"{text!r}: not an EVM address (expected 0x followed by 40 hex digits)")
    try:
        int(value[2:], 16)
    except ValueError:
        raise BadInput(f"{text!r}: not an EVM address (non-hex characters)") from None
    return "0x" + value[2:].lower()


def cmd_proof(args) -> int:
    from sim.reserves_proof import proofs_for_user

    user = _evm_address(args.user)
    path = Path(args.run_dir) / "proof_of_reserves.json"
    if not path.is_file():
        raise BadInput(f"{args.run_dir}: no proof_of_reserves.json (was proof of reserves on in this run?)")
    document = proofs_for_user(json.loads(path.read_text()), user)
    if not document["leaves"]:
        raise BadInput(f"{user}: no leaf for this user in the snapshot of round {document['round']}")
    print(json.dumps(document, indent=2))
    return OK


def cmd_verify_proof(args) -> int:
    from sim.reserves_proof import verify_document

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{args.file}: not JSON ({exc.msg} at line {exc.lineno})") from None
    results = verify_document(document)
    for leaf_hash, ok, reason in results:
        print(f"{leaf_hash}  {'VALID' if ok else 'INVALID'}  {reason}")
    return OK if results and all(ok for _, ok, _ in results) else VIOLATION


def cmd_serve(args) -> int:
    from sim.api import serve

    serve(args.target, host=args.host, port=args.port)
    return OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rbtc-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario to a report")
    run.add_argument("scenario", help="a scenario file or a built-in name (see `rbtc-sim list`)")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--backend", choices=BACKENDS, help="override the scenario's backend")
    run.add_argument("--contracts", metavar="DIR", help="compiled artifacts to run instead of the project's own")
    run.add_argument("--deployment", metavar="FILE",
                     help="who holds each role: a TOML [roles] file or a Foundry broadcast run-latest.json")
    run.add_argument("--deviations", metavar="FILE", help="declared differences of the build that lockstep waives")
    run.add_argument("--out", metavar="DIR", help="run folder (default reports/<scenario>-<seed>/)")
    run.add_argument("--serve", action="store_true", help="serve the realtime API while the world runs")
    run.add_argument("--keep-serving", action="store_true", help="with --serve: keep serving after the run")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario")
    validate.set_defaults(func=cmd_validate)

    lister = sub.add_parser("list", help="the built-in scenarios, one line each")
    lister.set_defaults(func=cmd_list)

    replay = sub.add_parser("replay", help="re-run a recorded run and confirm its digest")
    replay.add_argument("run_dir")
    replay.set_defaults(func=cmd_replay)

    proof = sub.add_parser("proof", help="print a user's proof-of-reserves leaves and Merkle proofs")
    proof.add_argument("run_dir")
    proof.add_argument("--user", required=True, metavar="ADDRESS", help="the user's EVM address")
    proof.set_defaults(func=cmd_proof)

    verify = sub.add_parser("verify-proof", help="check the output of `rbtc-sim proof` offline")
    verify.add_argument("file", help="a file written by `rbtc-sim proof`, or - for standard input")
    verify.set_defaults(func=cmd_verify_proof)

    serve = sub.add_parser("serve", help="serve the realtime API over a run folder or a database URL")
    serve.add_argument("target", metavar="RUN_DIR|DB_URL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)
    from sim.sweep import add_arguments as add_sweep_arguments

    sweep = sub.add_parser("sweep", help="a parameter sweep: many seeded worlds per parameter set")
    add_sweep_arguments(sweep)
    from sim.search.cli import add_arguments as add_search_arguments

    search = sub.add_parser("search", help="an adversarial search for the parameters that make a metric worst")
    add_search_arguments(search)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return guarded(lambda: args.func(args), argv=argv)


if __name__ == "__main__":
    sys.exit(main())
