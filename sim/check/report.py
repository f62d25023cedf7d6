"""The check's report: ``check.md`` and ``check.html`` (one self-contained page), from a :class:`CheckResult`.

Order: the verdict per invariant, every failure with its minimized counterexample or its first
occurrence and replay command, the property suites, the worlds, the deployment, the waived
deviations, and which protocol paths the run reached (and never reached).
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.check.runner import CheckResult
from sim.report import fmt, html, markdown
from sim.report.document import Banner, Code, Command, Document, Listing, Paragraph, Section, Table
from sim.testing.machine import REQUIRED_PATHS


def _verdicts(result: CheckResult) -> Section:
    rows = []
    for name, v in result.invariants().items():
        rows.append((name, v["status"], fmt.integer(v["count"]) if v["count"] else fmt.DASH,
                     "; ".join(v["where"][:4]) + (" …" if len(v["where"]) > 4 else "") or fmt.DASH,
                     ", ".join(v["not_exercised"]) or fmt.DASH))
    table = Table(("Invariant", "Verdict", "Violations", "Where", "Exercising paths never reached"), tuple(rows),
                  numeric=(2,))
    return Section("invariants", "Verdict per invariant", (table,))


def _failures(result: CheckResult) -> Section | None:
    blocks = []
    for suite in result.suites:
        if suite.get("status") != "violated":
            continue
        failure = suite["failure"]
        blocks.append(Banner("bad", f"[{failure['invariant']}] property suite {suite['name']}", failure["message"]))
        blocks.append(Listing("Minimal counterexample (Hypothesis shrank it to these steps)",
                              "\n".join(suite.get("readable", []))))
        blocks.append(Command("Replay it", suite["replay"]))
        blocks.append(Paragraph(f"Saved as {suite['counterexample']}; as a pytest file for your own suite: "
                                f"{suite['pytest_file']}.", muted=True))
    for world in result.worlds:
        for group in world.get("groups", []):
            causes = "; ".join(f"{c.get('call')} {('reverted ' + c['error']) if c.get('error') else c.get('event', '')}"
                               f" (record {c.get('seq')})" for c in group.get("causes", [])) or "none recorded"
            blocks.append(Banner("bad", f"[{group['invariant']}] world {world['name']}: {group['count']:,}×",
                                 group["message"] + (f" — broken by {group['function']}" if group.get("function") else "")
                                 + f"; caused by: {causes}"))
            if group.get("reproduce"):
                blocks.append(Command("Reproduce the world", group["reproduce"]))
    for item in result.deployment:
        if not item["ok"]:
            blocks.append(Banner("bad", "[wiring] deployment", f"{item['check']}: expected {item['expected']}, "
                                                               f"the contract says {item['actual']}"))
    return Section("failures", "Failures", tuple(blocks)) if blocks else None


def _suites(result: CheckResult) -> Section:
    rows = []
    for s in result.suites:
        if s["status"] == "skipped":
            rows.append((s["name"], "skipped", fmt.DASH, fmt.DASH, s["reason"]))
        else:
            rows.append((s["name"], s["status"], f"{s['examples']} × {s['steps']}", f"{s['seconds']} s",
                         Code(s["counterexample"]) if s.get("counterexample") else fmt.DASH))
    note = Paragraph("Each suite drives the build on the EVM with the reference models beside it, checking "
                     "PROTOCOL.md's invariants on the build's own state after every step.", muted=True)
    return Section("suites", "Property suites", (note, Table(("Suite", "Verdict", "Examples × steps", "Time",
                                                              "Counterexample"), tuple(rows))))


def _worlds(result: CheckResult) -> Section:
    rows = tuple((w["name"], w["why"], fmt.integer(w["users"]), f"{w['days']:g}", fmt.integer(w["violation_count"]),
                  f"{w['seconds']} s", Code(os.path.relpath(w["report"], result.out))) for w in result.worlds)
    return Section("worlds", "Worlds", (Table(("World", "Why", "Users", "Days", "Violations", "Time", "Report"), rows,
                                              numeric=(2, 4)),))


def _deployment(result: CheckResult) -> Section:
    rows = tuple((c["check"], Code(str(c["expected"])), Code(str(c["actual"])), "yes" if c["ok"] else "NO")
                 for c in result.deployment)
    holders = ", ".join(f"{role} = {holder}" for role, holder in result.build.deployment.holders)
    return Section("deployment", "Deployment", (Paragraph(f"Roles: {holders}."),
                                                Table(("Check", "Expected", "On chain", "Holds"), rows)))


def _waived(result: CheckResult) -> Section | None:
    if not result.waived:
        return None
    rows = tuple((Code(k), v["reason"] or fmt.DASH, fmt.integer(v["applied"])) for k, v in sorted(result.waived.items()))
    return Section("waived", "Declared deviations (waived)", (Table(("Waiver", "Reason", "Times applied"), rows,
                                                                    numeric=(2,)),))


def _coverage(result: CheckResult) -> Section:
    paths = result.paths()
    rows = tuple((Code(p), fmt.integer(paths.get(p, 0)) if paths.get(p) else "never") for p in REQUIRED_PATHS)
    missing = [p for p in REQUIRED_PATHS if not paths.get(p)]
    note = Paragraph("Every rule the check exercised, across the suites and the worlds. "
                     + (f"Never exercised: {', '.join(missing)}." if missing else "Every listed path was reached."))
    return Section("coverage", "Protocol paths", (note, Table(("Path", "Times reached"), rows, numeric=(1,))))


def document(result: CheckResult) -> Document:
    failed = result.verdict == "fail"
    broken = [name for name, v in result.invariants().items() if v["status"] == "violated"]
    state = "" if result.complete else f" (incomplete: {result.interrupted})"
    top = (Banner("bad" if failed else "ok", "FAIL" if failed else "PASS",
                  (f"broken: {', '.join(broken)}" if failed else "every invariant held") + state),)
    subtitle = (f"budget {result.budget.name} · seed {result.seed} · {result.seconds:.0f} s · "
                f"{len(result.suites)} property suites, {len(result.worlds)} worlds")
    sections = (_verdicts(result), _failures(result), _suites(result), _worlds(result), _deployment(result),
                _waived(result), _coverage(result))
    return Document(f"Check of {result.build.label}", subtitle, top, tuple(s for s in sections if s is not None))


def write(result: CheckResult) -> tuple[Path, Path]:
    doc = document(result)
    md, page = result.out / "check.md", result.out / "check.html"
    for path, text in ((md, markdown.render(doc)), (page, html.render(doc, source=str(result.out), kind="check"))):
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    return md, page
