"""``rbtc-sim``: run scenarios, check them, replay runs, serve and inspect their data.

Exit status (one contract for every command, see :mod:`sim.exits`): 0 all held, 1 an invariant was
violated (or a replay did not match, or a proof is invalid), 2 bad input (one line on stderr says
what and where), 3 the harness itself failed (one line names a crash-report file), 4 a proof checked
without a trusted root (self-consistent only), 130 interrupted.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from sim.config import BACKENDS, ENGINES, LOGS
from sim.exits import OK, UNVERIFIED, VIOLATION, BadInput, guarded, one_line, sigterm_as_interrupt
from sim.input_files import MAX_PROOF_BYTES, MAX_SNAPSHOT_BYTES, MAX_SUMMARY_BYTES, read_json, read_json_object
from sim.scenario import builtins, load


def _scenario(args):
    from sim.run import with_overrides

    scenario = load(args.scenario)
    resolved = {name: str(Path(value).resolve()) if value else None
                for name, value in (("contracts_dir", args.contracts), ("deployment_file", args.deployment),
                                    ("deviations_file", args.deviations))}
    # with_overrides refuses, as bad input, what the config refuses (--engine fast on --backend evm, ...)
    return with_overrides(scenario, seed=args.seed, backend=args.backend, engine=args.engine, log=args.log,
                          **resolved)


def _check_build_files(scenario) -> None:
    """Fail fast, before anything is written (and in ``validate``), on a backend this machine cannot
    run and on the artifacts, deployment and deviations files the run would load."""
    from sim.exits import bad_input_errors
    from sim.protocol.artifacts import load_artifacts
    from sim.protocol.deployment import load_deployment
    from sim.protocol.deviations import load_deviations
    from sim.world import require_backend

    c = scenario.config
    require_backend(c.backend)
    for value, check in ((c.contracts_dir, load_artifacts), (c.deployment_file, load_deployment),
                         (c.deviations_file, load_deviations)):
        if not value:
            continue
        try:
            check(value)
        except bad_input_errors():
            raise
        except (OSError, ValueError) as exc:  # a NUL byte in the name, a name too long for the system, ...
            raise BadInput(f"{value!r:.200}: not a usable file or folder ({exc})") from None


def _announce_if_large(scenario) -> None:
    """Before a large run, its estimated size (on stderr: stdout keeps the run's own lines)."""
    from sim.estimate import estimate

    guess = estimate(scenario.config)
    if guess.large:
        print(f"estimate: {guess.describe()}", file=sys.stderr)


def cmd_run(args) -> int:
    from sim.progress import ProgressBar
    from sim.run import default_out_dir, execute

    scenario = _scenario(args)
    _check_build_files(scenario)
    _announce_if_large(scenario)
    run_dir = Path(args.out) if args.out else default_out_dir(scenario)
    c = scenario.config
    bar = ProgressBar(f"{scenario.name} (seed {c.seed}, {c.backend}{', fast engine' if c.engine == 'fast' else ''})")
    server = None

    def attach(world):
        nonlocal server
        if args.serve:
            from sim.api import serve_world

            server = serve_world(world, run_dir, host=args.host, port=args.port)
            print(f"serving the realtime API at http://{args.host}:{args.port}/api/realtime/ while the world runs",
                  file=sys.stderr)

    try:
        with sigterm_as_interrupt():
            summary, run_dir = execute(scenario, run_dir, on_progress=bar, on_world=attach, overwrite=args.overwrite)
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
    from sim.estimate import estimate

    scenario = load(args.scenario)
    _check_build_files(scenario)
    c = scenario.config
    print(f"{scenario.path}: ok — {scenario.name}: {c.users:,} users, {c.duration_s / 86400:g} days, "
          f"backend {c.backend}, engine {c.engine}, seed {c.seed}, {len(c.schedule)} scheduled events")
    print(f"estimate: {estimate(c).describe()}")
    return OK


def cmd_list(args) -> int:
    scenarios = builtins()
    width = max(len(s.name) for s in scenarios)
    for s in scenarios:
        c = s.config
        engine = c.backend if c.engine == "reference" else f"{c.backend}/fast"
        print(f"{s.name:<{width}}  {c.users:>7,} users {c.duration_s / 86400:>5g} d  {engine:<10} {s.description}")
    return OK


def _recorded_summary(run_dir: Path) -> dict:
    """A run folder's summary.json, checked enough to replay against (BadInput otherwise)."""
    if not run_dir.is_dir():
        raise BadInput(f"{run_dir}: not a run folder (no such folder)")
    for name in ("summary.json", "scenario.toml"):
        if not (run_dir / name).is_file():
            raise BadInput(f"{run_dir}: not a run folder (missing {name})")
    path = run_dir / "summary.json"
    recorded = read_json_object(path, "run summary", MAX_SUMMARY_BYTES)
    digest = recorded.get("digest")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise BadInput(f"{path}: digest: expected the event log's SHA-256 (64 hex digits), got {digest!r:.80}")
    if recorded.get("complete") is not True:
        raise BadInput(f"{path}: the recorded run is incomplete ({recorded.get('interrupted')!s:.200}); "
                       "there is no final digest to confirm")
    return recorded


def cmd_replay(args) -> int:
    """Check a run folder three ways: its events.jsonl against the summary's digest, a fresh run of its
    scenario.toml against that digest, and the fresh log against the recorded one line by line. A run
    with ``log = "summary"`` wrote no events.jsonl by design: only its digest is checked."""
    from sim.eventlog import digest_of_file, first_difference
    from sim.run import execute

    run_dir = Path(args.run_dir)
    recorded = _recorded_summary(run_dir)
    expected = recorded["digest"]
    scenario = load(str(run_dir / "scenario.toml"))
    events = run_dir / "events.jsonl"
    try:
        logged = digest_of_file(events) if events.is_file() else None
    except OSError as exc:
        raise BadInput(f"{events}: cannot read ({exc.strerror or exc})") from None
    with tempfile.TemporaryDirectory(prefix="rbtc-replay-") as tmp:
        summary, replay_dir = execute(scenario, Path(tmp) / "run", report=False)
        replayed = summary["digest"]
        difference = first_difference(events, replay_dir / "events.jsonl") if logged not in (None, replayed) else None
    verdict = lambda ok: "MATCH" if ok else "MISMATCH"  # noqa: E731
    print(f"recorded digest  {expected}  (summary.json)")
    unlogged = scenario.config.log == "summary" and logged is None
    if unlogged:
        print('events.jsonl     not written (log = "summary"): the digest alone is checked')
    elif logged is None:
        print("events.jsonl     MISSING: the recorded event log is gone, so it cannot be checked")
    else:
        print(f"events.jsonl     {logged}  {verdict(logged == expected)}")
    print(f"replayed digest  {replayed}  {verdict(replayed == expected)}")
    if difference is not None:
        line, old, new = difference
        print(f"first difference: events.jsonl line {line:,}")
        print(f"  recorded: {'(end of log)' if old is None else one_line(old)[:300]}")
        print(f"  replayed: {'(end of log)' if new is None else one_line(new)[:300]}")
    return OK if (unlogged or logged == expected) and replayed == expected else VIOLATION


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
    import json

    from sim.reserves_proof import proofs_for_user

    user = _evm_address(args.user)
    path = Path(args.run_dir) / "proof_of_reserves.json"
    if not path.is_file():
        raise BadInput(f"{args.run_dir}: no proof_of_reserves.json (was proof of reserves on in this run?)")
    document = proofs_for_user(read_json(path, "proof-of-reserves snapshot", MAX_SNAPSHOT_BYTES), user, str(path))
    if not document["leaves"]:
        raise BadInput(f"{user}: no leaf for this user in the snapshot of round {document['round']}")
    print(json.dumps(document, indent=2))
    return OK


def cmd_verify_proof(args) -> int:
    """Exit 0: every leaf leads to a trusted root; 1: one does not; 4 (UNVERIFIED): no trusted root
    was given and the document is merely self-consistent."""
    from sim.reserves_proof import (INVALID, SELF_CONSISTENT, UNVERIFIED_NOTE, bytes32, parse_document,
                                    published_roots, verify_document)

    document = parse_document(read_json(args.file, "proof document", MAX_PROOF_BYTES), args.file)
    trusted = None
    if args.root is not None:
        trusted = {bytes32(args.root, "--root"): "(given with --root)"}
    elif args.run is not None:
        trusted = {root: f"(published on chain in round {round_})"
                   for root, round_ in published_roots(Path(args.run)).items()}
    results = verify_document(document, trusted)
    for leaf_hash, verdict, reason in results:
        print(f"{leaf_hash}  {reason}" if verdict == SELF_CONSISTENT else f"{leaf_hash}  {verdict}  {reason}")
    if any(verdict == INVALID for _, verdict, _ in results):
        return VIOLATION
    if trusted is None:
        print(f"{UNVERIFIED_NOTE}: pass --root HEX or --run RUN_DIR to verify", file=sys.stderr)
        return UNVERIFIED
    return OK


def cmd_serve(args) -> int:
    from sim.api import serve

    serve(args.target, host=args.host, port=args.port)
    return OK


class _Parser(argparse.ArgumentParser):
    """argparse with the project's bad-input contract: one line on stderr, exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rbtc-sim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario to a report")
    run.add_argument("scenario", help="a scenario file or a built-in name (see `rbtc-sim list`)")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--backend", choices=BACKENDS, help="override the scenario's backend")
    run.add_argument("--contracts", metavar="DIR", help="compiled artifacts to run instead of the project's own")
    run.add_argument("--deployment", metavar="FILE",
                     help="who holds each role: a TOML [roles] file or a Foundry broadcast run-latest.json")
    run.add_argument("--deviations", metavar="FILE", help="declared differences of the build that lockstep waives")
    run.add_argument("--engine", choices=ENGINES, help="override the scenario's engine (fast: batched, model semantics)")
    run.add_argument("--log", choices=LOGS, help="full: write events.jsonl; summary: only summary, metrics, report")
    run.add_argument("--out", metavar="DIR", help="run folder (default reports/<scenario>-<seed>/)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the run already in the run folder (without it, such a folder is refused)")
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

    verify = sub.add_parser("verify-proof", help="check the output of `rbtc-sim proof` against a trusted root")
    verify.add_argument("file", help="a file written by `rbtc-sim proof`, or - for standard input")
    trusted = verify.add_mutually_exclusive_group()
    trusted.add_argument("--root", metavar="HEX", help="the trusted Merkle root (0x + 64 hex digits)")
    trusted.add_argument("--run", metavar="RUN_DIR",
                         help="trust the roots the run published on chain (ReservesPublished in its events.jsonl)")
    verify.set_defaults(func=cmd_verify_proof)

    serve = sub.add_parser("serve", help="serve the realtime API over a run folder or a database URL")
    serve.add_argument("target", metavar="RUN_DIR|DB_URL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)
    from sim.check.cli import add_arguments as add_check_arguments
    from sim.search.cli import add_arguments as add_search_arguments
    from sim.sweep import add_arguments as add_sweep_arguments

    check = sub.add_parser("check", help="check a compiled build against the protocol's invariants")
    add_check_arguments(check)

    sweep = sub.add_parser("sweep", help="a parameter sweep: many seeded worlds per parameter set")
    add_sweep_arguments(sweep)

    search = sub.add_parser("search", help="an adversarial search for the parameters that make a metric worst")
    add_search_arguments(search)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0), or a bad command line: one line, 2 (see _Parser)
        return exc.code if isinstance(exc.code, int) else 2
    return guarded(lambda: args.func(args), argv=argv)


if __name__ == "__main__":
    sys.exit(main())
