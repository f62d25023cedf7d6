#!/usr/bin/env python3
"""Mutation testing of ``rbtc-sim check``: plant each defect of the catalogue, compile it, check it, score.

The catalogue (``tools/mutants.toml``) lists single defects of the project's own Solidity and of its
deployment, each with the invariant the check should name when it kills it. For every mutant this tool

1. copies ``contracts_model/solidity`` to ``reports/mutants/<id>/src`` and applies the edit (its
   ``find`` text must occur exactly once), or, for a role swap, writes ``deployment.toml``;
2. copies the committed artifacts to ``reports/mutants/<id>/build`` and recompiles only the contracts
   whose sources changed (``node tools/compile.js --changed``, the pinned solc). A mutant that does not
   compile is *stillborn*; one whose code comes out identical (metadata aside) is *identical*; neither
   is scored;
3. runs the checker: ``rbtc-sim check BUILD --budget ci --seed 1 --out reports/mutants/<id>/check
   --fail-fast [--deployment FILE]``. Exit 0 means the build passed (the mutant *survived*), 1 that it
   was *killed* (``check.json`` says by which invariants), anything else is an *error* (not scored).

Each mutant's result is written as soon as it is known (``reports/mutants/<id>/result.json``); a
finished result (killed, survived, stillborn, identical) made from the same mutant, sources, budget,
seed and checker is reused unless ``--force``. At the end the whole catalogue's results go to
``reports/mutants/results.json`` and ``reports/mutants/README.md``: the score, a table per operator,
every survivor with its ``why``, and the mutants killed by another invariant than expected.
``--update-readme`` puts the score and the operator table into the project README, between
``<!-- mutants:begin -->`` and ``<!-- mutants:end -->``.

    .venv/bin/python tools/mutants.py                    # every mutant (make mutants)
    .venv/bin/python tools/mutants.py --workers 2 --only fee-pct-divisor-1000,oracle-no-burn-counter
    .venv/bin/python tools/mutants.py --ci               # the fixed CI subset
    .venv/bin/python tools/mutants.py --list             # the catalogue, one line each
    RBTC_MUTANT_CHECKER="python my_checker.py" .venv/bin/python tools/mutants.py   # another checker

Exit status: 0 done, 1 the score is below ``--min-score``, 2 bad input (catalogue, options), 3 a
mutant could not be checked (the checker itself failed; see its ``check.log``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from attrs import asdict, field, frozen

from contracts_model.deployment import Deployment, DeploymentError
from sim.exits import HARNESS_FAILURE, OK, VIOLATION, BadInput, guarded
from sim.invariants.sink import INVARIANTS as SINK_INVARIANTS
from sim.protocol.artifacts import DEFAULT_ARTIFACT_DIR, SOURCE_DIR

ROOT = Path(__file__).resolve().parents[1]

CATALOGUE = ROOT / "tools" / "mutants.toml"
OUT_DIR = ROOT / "reports" / "mutants"
README = ROOT / "README.md"
CHECKER_ENV = "RBTC_MUTANT_CHECKER"
README_BEGIN, README_END = "<!-- mutants:begin -->", "<!-- mutants:end -->"

#: Operator -> what it plants, in catalogue order.
OPERATORS = {
    "arithmetic": "an arithmetic or comparison operator or a constant replaced (powers of ten too)",
    "guard": "a require/revert (or an if-guard) added or removed",
    "assignment": "an assignment or accumulator update deleted, or reset",
    "reorder": "a state write moved across an external call",
    "event": "an event moved onto a path that reverts",
    "role": "a role or address swapped in the deployment",
}
#: The invariants ``rbtc-sim check`` reports, which ``expect`` names.
INVARIANTS = SINK_INVARIANTS
#: ``expect`` for a mutant argued (in its ``why``) to behave exactly like the original.
EQUIVALENT = "equivalent"

KILLED, SURVIVED, STILLBORN, IDENTICAL, ERROR, NOT_RUN = "killed", "survived", "stillborn", "identical", "error", "not run"
#: Outcomes that are final for a given mutant and settings (an error is retried on the next run).
FINISHED = (KILLED, SURVIVED, STILLBORN, IDENTICAL)

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SOLIDITY_KEYS = {"id", "operator", "file", "find", "replace", "expect", "why", "ci"}
_ROLE_KEYS = {"id", "operator", "roles", "expect", "why", "ci"}


class CatalogueError(BadInput):
    """A catalogue that cannot be used; the message names the mutant and what is wrong."""


@frozen
class Mutant:
    id: str
    operator: str
    expect: str
    why: str
    ci: bool = False
    file: str | None = None  # Solidity mutants: the file, the text to find (exactly once) and its replacement
    find: str | None = None
    replace: str | None = None
    roles: tuple[tuple[str, str], ...] = ()  # role swaps: (role, holder) pairs written to deployment.toml

    @property
    def is_role(self) -> bool:
        return self.operator == "role"

    def apply(self, source_dir: Path = SOURCE_DIR) -> str:
        """The mutated text of ``self.file``; raises CatalogueError unless ``find`` occurs exactly once."""
        text = (source_dir / self.file).read_text(encoding="utf-8")
        count = text.count(self.find)
        if count != 1:
            raise CatalogueError(f"mutant {self.id}: its find text occurs {count} times in {self.file} "
                                 f"(it must occur exactly once): {self.find.strip()[:80]!r}")
        return text.replace(self.find, self.replace)

    def deployment_toml(self) -> str:
        return "[roles]\n" + "".join(f"{role} = {json.dumps(holder)}\n" for role, holder in self.roles)


def _mutant(entry, position: int, source_dir: Path) -> Mutant:
    if not isinstance(entry, dict):
        raise CatalogueError(f"mutant #{position}: expected a [[mutant]] table")
    ident = entry.get("id")
    where = f"mutant {ident!r}" if isinstance(ident, str) else f"mutant #{position}"
    if not isinstance(ident, str) or not _ID.match(ident):
        raise CatalogueError(f"{where}: id must be lowercase letters, digits and dashes")
    operator = entry.get("operator")
    if operator not in OPERATORS:
        raise CatalogueError(f"{where}: operator {operator!r} is not one of {', '.join(OPERATORS)}")
    allowed = _ROLE_KEYS if operator == "role" else _SOLIDITY_KEYS
    unknown = sorted(set(entry) - allowed)
    missing = sorted((allowed - {"ci"}) - set(entry))
    if unknown or missing:
        problem = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
        raise CatalogueError(f"{where}: {problem} (a {operator} mutant has {', '.join(sorted(allowed))})")
    for key in allowed - {"ci", "roles"}:
        if not isinstance(entry[key], str):
            raise CatalogueError(f"{where}: {key} must be a string")
    if not isinstance(entry.get("ci", False), bool):
        raise CatalogueError(f"{where}: ci must be true or false")
    if entry["expect"] not in INVARIANTS + (EQUIVALENT,):
        raise CatalogueError(f"{where}: expect {entry['expect']!r} is not an invariant the check reports "
                             f"({', '.join(INVARIANTS)}) nor {EQUIVALENT!r}")
    if not entry["why"].strip():
        raise CatalogueError(f"{where}: why must say what defect the mutant models")
    common = dict(id=ident, operator=operator, expect=entry["expect"], why=" ".join(entry["why"].split()),
                  ci=entry.get("ci", False))
    if operator == "role":
        roles = entry["roles"]
        if not isinstance(roles, dict) or not roles:
            raise CatalogueError(f"{where}: roles must be a non-empty table of role = holder")
        try:
            deployment = Deployment.of(**roles)
        except DeploymentError as exc:
            raise CatalogueError(f"{where}: {exc}") from None
        if deployment.is_default:
            raise CatalogueError(f"{where}: its roles are the default wiring; it swaps nothing")
        return Mutant(**common, roles=tuple(sorted(roles.items())))
    if "/" in entry["file"] or "\\" in entry["file"] or not (source_dir / entry["file"]).is_file():
        raise CatalogueError(f"{where}: no Solidity file {entry['file']!r} in {source_dir}")
    if entry["find"] == entry["replace"]:
        raise CatalogueError(f"{where}: replace equals find; it changes nothing")
    mutant = Mutant(**common, file=entry["file"], find=entry["find"], replace=entry["replace"])
    mutant.apply(source_dir)
    return mutant


def load_catalogue(path: Path = CATALOGUE, source_dir: Path = SOURCE_DIR) -> tuple[Mutant, ...]:
    """Read and check the catalogue: every entry well formed and applying cleanly, ids unique."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"mutant"})
    if unknown:
        raise CatalogueError(f"{path}: unknown top-level key {unknown[0]!r} (the catalogue is [[mutant]] tables)")
    entries = data.get("mutant", [])
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{path}: no [[mutant]] tables")
    mutants = tuple(_mutant(entry, i + 1, source_dir) for i, entry in enumerate(entries))
    seen: set[str] = set()
    for mutant in mutants:
        if mutant.id in seen:
            raise CatalogueError(f"{path}: mutant id {mutant.id!r} is used twice")
        seen.add(mutant.id)
    return mutants


# ----------------------------------------------------------------------------------------- one mutant


@frozen
class Settings:
    """How mutants are checked; part of every result's fingerprint."""

    checker: tuple[str, ...]
    budget: str = "ci"
    seed: int = 1
    fail_fast: bool = True
    timeout_s: int = 3600
    out: Path = field(default=OUT_DIR, converter=Path)


def default_checker() -> tuple[str, ...]:
    """``$RBTC_MUTANT_CHECKER`` (a command line), else the ``rbtc-sim`` beside this Python, ``check``."""
    chosen = os.environ.get(CHECKER_ENV)
    if chosen:
        return tuple(shlex.split(chosen))
    return (str(Path(sys.executable).parent / "rbtc-sim"), "check")


def _tree_digest(*directories: Path) -> str:
    digest = hashlib.sha256()
    for directory in directories:
        for path in sorted(directory.iterdir()):
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(mutant: Mutant, settings: Settings, base: str) -> str:
    """What a result was made from: the mutant, the unmutated sources and artifacts, and how it was checked."""
    made_of = {"mutant": asdict(mutant), "base": base, "checker": list(settings.checker), "budget": settings.budget,
               "seed": settings.seed, "fail_fast": settings.fail_fast}
    return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()


def code_without_metadata(hex_code: str) -> bytes:
    """Bytecode without solc's trailing CBOR metadata (its length is the last two bytes), which hashes the
    source text and so differs for any edit, even one that changes no instruction."""
    code = bytes.fromhex(hex_code.removeprefix("0x"))
    if len(code) < 2:
        return code
    length = int.from_bytes(code[-2:], "big")
    return code[: -(length + 2)] if length + 2 <= len(code) else code


def changed_contracts(build: Path, base: Path = DEFAULT_ARTIFACT_DIR) -> list[str]:
    """Contracts of ``build`` whose creation or runtime code differs from ``base``'s, metadata aside."""
    changed = []
    for path in sorted(build.glob("*.json")):
        ours = json.loads((base / path.name).read_text())
        theirs = json.loads(path.read_text())
        if any(code_without_metadata(ours[key]) != code_without_metadata(theirs[key])
               for key in ("bytecode", "deployedBytecode")):
            changed.append(path.stem)
    return changed


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def prepare(mutant: Mutant, work: Path) -> dict:
    """Build the mutant in ``work``: ``src`` (mutated sources), ``build`` (artifacts), ``deployment.toml``.

    Returns ``{"status": None | STILLBORN | IDENTICAL, "message", "changed"}``."""
    if work.exists():
        shutil.rmtree(work)
    build = work / "build"
    shutil.copytree(DEFAULT_ARTIFACT_DIR, build)
    if mutant.is_role:
        (work / "deployment.toml").write_text(mutant.deployment_toml(), encoding="utf-8")
        return {"status": None, "message": "", "changed": []}
    src = work / "src"
    shutil.copytree(SOURCE_DIR, src)
    (src / mutant.file).write_text(mutant.apply(), encoding="utf-8")
    done = subprocess.run(["node", str(ROOT / "tools" / "compile.js"), "--src", str(src), "--out", str(build),
                           "--changed"], cwd=ROOT, capture_output=True, text=True)
    (work / "compile.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "Error" in line]
        return {"status": STILLBORN, "message": (errors[0] if errors else _last_line(done.stderr))[:300],
                "changed": []}
    changed = changed_contracts(build)
    if not changed:
        return {"status": IDENTICAL, "message": "the compiled code equals the original's (metadata aside)",
                "changed": []}
    return {"status": None, "message": "", "changed": changed}


def check_command(settings: Settings, build: Path, out: Path, deployment: Path | None) -> list[str]:
    command = [*settings.checker, str(build), "--budget", settings.budget, "--seed", str(settings.seed),
               "--out", str(out)]
    if settings.fail_fast:
        command.append("--fail-fast")
    if deployment is not None:
        command += ["--deployment", str(deployment)]
    return command


def _read_check(out: Path) -> tuple[dict | None, str]:
    path = out / "check.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return None, f"{path}: unreadable ({exc})"
    if not isinstance(report, dict) or not isinstance(report.get("invariants"), dict):
        return None, f"{path}: no 'invariants' table"
    return report, ""


def run_check(mutant: Mutant, settings: Settings, work: Path) -> dict:
    """Run the checker on the prepared mutant; the outcome by its exit status, the invariants by check.json."""
    out = work / "check"
    deployment = work / "deployment.toml" if mutant.is_role else None
    command = check_command(settings, work / "build", out, deployment)
    log = work / "check.log"
    try:
        with log.open("w", encoding="utf-8") as sink:
            done = subprocess.run(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                  timeout=settings.timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": ERROR, "message": f"the checker ran longer than {settings.timeout_s} s", "exit": None}
    except OSError as exc:
        return {"status": ERROR, "message": f"cannot run the checker {command[0]!r}: {exc.strerror}", "exit": None}
    result = {"exit": done.returncode, "command": shlex.join(command)}
    if done.returncode not in (OK, VIOLATION):
        return {**result, "status": ERROR,
                "message": f"checker exit {done.returncode}: {_last_line(log.read_text(encoding='utf-8'))}"}
    report, problem = _read_check(out)
    if report is None:
        return {**result, "status": ERROR, "message": problem}
    statuses = {name: (entry or {}).get("status") for name, entry in report["invariants"].items()}
    violated = sorted(name for name, status in statuses.items() if status == "violated")
    verdict = report.get("verdict")
    if (done.returncode == VIOLATION) != (verdict == "fail") or (done.returncode == VIOLATION) != bool(violated):
        return {**result, "status": ERROR, "message": f"checker exit {done.returncode} disagrees with check.json "
                                                      f"(verdict {verdict!r}, violated {violated})"}
    failures = report.get("failures") or []
    first = next((f for f in failures if isinstance(f, dict) and f.get("invariant") in violated), None)
    return {**result, "status": KILLED if violated else SURVIVED, "violated": violated,
            "not_exercised": sorted(name for name, status in statuses.items() if status == "not exercised"),
            "message": str(first.get("message", ""))[:300] if first else ""}


def evaluate(mutant: Mutant, settings: Settings, base: str, force: bool = False) -> dict:
    """The mutant's result, reusing a finished one made from the same inputs unless ``force``."""
    work = settings.out / mutant.id
    stamp = fingerprint(mutant, settings, base)
    saved = work / "result.json"
    if not force and saved.is_file():
        try:
            previous = json.loads(saved.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            previous = {}
        if previous.get("fingerprint") == stamp and previous.get("status") in FINISHED:
            return {**previous, "reused": True}
    started = time.monotonic()
    built = prepare(mutant, work)
    outcome = {"status": built["status"], "message": built["message"]} if built["status"] else \
        run_check(mutant, settings, work)
    result = {"id": mutant.id, "fingerprint": stamp, "changed": built["changed"], "violated": [],
              "not_exercised": [], **outcome, "seconds": round(time.monotonic() - started, 1)}
    _atomic_write(saved, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return {**result, "reused": False}


# ----------------------------------------------------------------------------------------- the whole run


def summarise(catalogue: tuple[Mutant, ...], results: dict[str, dict], settings: Settings | None = None) -> dict:
    """Score and tables over the whole catalogue; a mutant without a result counts as not run."""
    rows = []
    for mutant in catalogue:
        result = results.get(mutant.id) or {"status": NOT_RUN}
        status = result["status"]
        violated = result.get("violated", [])
        rows.append({"id": mutant.id, "operator": mutant.operator, "expect": mutant.expect, "ci": mutant.ci,
                     "status": status, "violated": violated, "not_exercised": result.get("not_exercised", []),
                     "as_expected": status == KILLED and mutant.expect in violated,
                     "message": result.get("message", ""), "seconds": result.get("seconds"), "why": mutant.why})

    def tally(selected: list[dict]) -> dict:
        counts = {s: sum(r["status"] == s for r in selected) for s in (KILLED, SURVIVED, STILLBORN, IDENTICAL,
                                                                        ERROR, NOT_RUN)}
        scored = counts[KILLED] + counts[SURVIVED]
        argued = sum(r["status"] == SURVIVED and r["expect"] == EQUIVALENT for r in selected)
        return {"mutants": len(selected), **counts, "scored": scored,
                "score": counts[KILLED] / scored if scored else None,
                "survived_equivalent": argued,
                "score_without_equivalent": counts[KILLED] / (scored - argued) if scored > argued else None}

    return {
        "settings": None if settings is None else {"budget": settings.budget, "seed": settings.seed,
                                                   "checker": list(settings.checker),
                                                   "fail_fast": settings.fail_fast},
        "total": tally(rows),
        "operators": {op: tally([r for r in rows if r["operator"] == op]) for op in OPERATORS},
        "survivors": [r for r in rows if r["status"] == SURVIVED],
        "unexpected": [r for r in rows if r["status"] == KILLED and not r["as_expected"]],
        "unscored": [r for r in rows if r["status"] in (STILLBORN, IDENTICAL, ERROR, NOT_RUN)],
        "mutants": rows,
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_score(summary: dict) -> str:
    """The score, the table per operator and the survivors (what the project README carries)."""
    t = summary["total"]
    lines = [f"**Mutation score: {t[KILLED]} of {t['scored']} mutants killed ({_pct(t['score'])})**"
             + (f"; {_pct(t['score_without_equivalent'])} without the {t['survived_equivalent']} surviving "
                f"mutant(s) argued equivalent" if t["survived_equivalent"] else "") + "."]
    settings = summary.get("settings")
    unscored = ", ".join(f"{t[s]} {s}" for s in (STILLBORN, IDENTICAL, ERROR, NOT_RUN) if t[s])
    lines.append(f"{t['mutants']} mutants in the catalogue"
                 + (f" (not scored: {unscored})" if unscored else "")
                 + (f"; `check --budget {settings['budget']} --seed {settings['seed']}`" if settings else "") + ".")
    lines += ["", "| operator | mutants | killed | survived | not scored | score |", "|---|---:|---:|---:|---:|---:|"]
    for op, c in summary["operators"].items():
        lines.append(f"| {op}: {OPERATORS[op]} | {c['mutants']} | {c[KILLED]} | {c[SURVIVED]} | "
                     f"{c['mutants'] - c['scored']} | {_pct(c['score'])} |")
    lines.append(f"| **all** | {t['mutants']} | {t[KILLED]} | {t[SURVIVED]} | {t['mutants'] - t['scored']} | "
                 f"{_pct(t['score'])} |")
    lines += ["", "Survivors (each equivalent, or naming the property the check is missing):", ""]
    if summary["survivors"]:
        lines += ["| mutant | operator | expected | not exercised by the check | why |", "|---|---|---|---|---|"]
        lines += [f"| `{r['id']}` | {r['operator']} | {r['expect']} | {', '.join(r['not_exercised']) or '—'} | "
                  f"{_cell(r['why'])} |" for r in summary["survivors"]]
    else:
        lines.append("none.")
    return "\n".join(lines)


def render_report(summary: dict) -> str:
    """The full Markdown report: the score, then every mutant, operator by operator."""
    lines = ["# Mutation testing of `rbtc-sim check`", "",
             "Written by `tools/mutants.py` (`make mutants`); the catalogue is `tools/mutants.toml`.", "",
             render_score(summary), ""]
    lines += ["## Killed by another invariant than expected", ""]
    if summary["unexpected"]:
        lines += ["| mutant | expected | violated |", "|---|---|---|"]
        lines += [f"| `{r['id']}` | {r['expect']} | {', '.join(r['violated'])} |" for r in summary["unexpected"]]
    else:
        lines.append("none.")
    if summary["unscored"]:
        lines += ["", "## Not scored", "", "| mutant | status | message |", "|---|---|---|"]
        lines += [f"| `{r['id']}` | {r['status']} | {_cell(r['message'])} |" for r in summary["unscored"]]
    for op, description in OPERATORS.items():
        rows = [r for r in summary["mutants"] if r["operator"] == op]
        lines += ["", f"## {op}: {description}", "",
                  "| mutant | CI | expected | outcome | violated | seconds | why |", "|---|---|---|---|---|---:|---|"]
        lines += [f"| `{r['id']}` | {'yes' if r['ci'] else ''} | {r['expect']} | {r['status']} | "
                  f"{', '.join(r['violated']) or '—'} | {r['seconds'] if r['seconds'] is not None else ''} | "
                  f"{_cell(r['why'])} |" for r in rows]
    return "\n".join(lines) + "\n"


def update_readme(summary: dict, readme: Path = README) -> None:
    """Replace the block between the README's mutants markers with the score and the operator table."""
    text = readme.read_text(encoding="utf-8")
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise BadInput(f"{readme}: no {README_BEGIN} ... {README_END} block to update")
    block = f"{README_BEGIN}\n{render_score(summary)}\n{README_END}"
    readme.write_text(text[:begin] + block + text[end + len(README_END):], encoding="utf-8")


def run(catalogue: tuple[Mutant, ...], selected: tuple[Mutant, ...], settings: Settings, workers: int = 1,
        force: bool = False, report=print) -> dict:
    """Evaluate ``selected`` (``workers`` at a time), then summarise the whole catalogue and write the reports."""
    settings.out.mkdir(parents=True, exist_ok=True)
    base = _tree_digest(SOURCE_DIR, DEFAULT_ARTIFACT_DIR)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(evaluate, mutant, settings, base, force): mutant for mutant in selected}
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            detail = f" by {', '.join(result['violated'])}" if result.get("violated") else ""
            if result["status"] in (ERROR, STILLBORN, IDENTICAL):
                detail = f": {result['message']}"
            when = "earlier result" if result["reused"] else f"{result['seconds']} s"
            report(f"[{done}/{len(futures)}] {result['id']}: {result['status']}{detail} ({when})")
    results = {}
    for mutant in catalogue:
        saved = settings.out / mutant.id / "result.json"
        if saved.is_file():
            result = json.loads(saved.read_text(encoding="utf-8"))
            if result.get("fingerprint") == fingerprint(mutant, settings, base):
                results[mutant.id] = result
    summary = summarise(catalogue, results, settings)
    _atomic_write(settings.out / "results.json", json.dumps(summary, indent=2) + "\n")
    _atomic_write(settings.out / "README.md", render_report(summary))
    return summary


def _select(catalogue: tuple[Mutant, ...], only: str | None, ci: bool) -> tuple[Mutant, ...]:
    if not only:
        return tuple(m for m in catalogue if m.ci) if ci else catalogue
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {m.id for m in catalogue}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise BadInput(f"--only: no mutant {unknown[0]!r} in the catalogue (see --list)")
    return tuple(m for m in catalogue if m.id in wanted and (m.ci or not ci))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="mutants checked at once (default 1)")
    parser.add_argument("--only", metavar="ID,ID", help="only these mutants (the summary still covers all)")
    parser.add_argument("--ci", action="store_true", help="only the CI subset (ci = true)")
    parser.add_argument("--force", action="store_true", help="re-run mutants that have a finished result")
    parser.add_argument("--budget", default="ci", help="the checker's --budget (default ci)")
    parser.add_argument("--seed", type=int, default=1, help="the checker's --seed (default 1)")
    parser.add_argument("--no-fail-fast", action="store_true", help="let the checker evaluate every invariant")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one check may take (default 3600)")
    parser.add_argument("--checker", help=f"the checker command line (default ${CHECKER_ENV}, else `rbtc-sim check`)")
    parser.add_argument("--catalogue", default=str(CATALOGUE), help="the catalogue (default tools/mutants.toml)")
    parser.add_argument("--out", default=str(OUT_DIR), help="where mutants are built and checked")
    parser.add_argument("--update-readme", action="store_true", help="write the score into README.md's block")
    parser.add_argument("--min-score", type=float, metavar="PCT", help="exit 1 when the score is below PCT")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    args = parser.parse_args(argv)

    def body() -> int:
        catalogue = load_catalogue(Path(args.catalogue))
        if args.list:
            for m in catalogue:
                print(f"{m.id:<40} {m.operator:<10} {m.expect:<13} {'ci' if m.ci else ''}")
            return OK
        if args.workers < 1:
            raise BadInput(f"--workers {args.workers}: expected at least 1")
        settings = Settings(checker=tuple(shlex.split(args.checker)) if args.checker else default_checker(),
                            budget=args.budget, seed=args.seed, fail_fast=not args.no_fail_fast,
                            timeout_s=args.timeout, out=Path(args.out))
        summary = run(catalogue, _select(catalogue, args.only, args.ci), settings, args.workers, args.force)
        total = summary["total"]
        print(f"score: {total[KILLED]} of {total['scored']} killed ({_pct(total['score'])}); "
              f"report: {settings.out / 'README.md'}")
        if args.update_readme:
            missing = [r["id"] for r in summary["mutants"] if r["status"] in (ERROR, NOT_RUN)]
            if missing:
                raise BadInput(f"--update-readme: {len(missing)} mutants have no result (e.g. {missing[0]}); "
                               "the README carries only a whole catalogue's score")
            update_readme(summary)
        errors = [r for r in summary["mutants"] if r["status"] == ERROR]
        if errors:
            print(f"mutants: {len(errors)} mutants could not be checked, e.g. {errors[0]['id']}: "
                  f"{errors[0]['message']} (log: {settings.out / errors[0]['id'] / 'check.log'})", file=sys.stderr)
            return HARNESS_FAILURE
        if args.min_score is not None and (total["score"] is None or 100 * total["score"] < args.min_score):
            return VIOLATION
        return OK

    return guarded(body, prog="mutants", argv=argv)


if __name__ == "__main__":
    sys.exit(main())
