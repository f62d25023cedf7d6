"""The verdict: every invariant violation of the run, each with the command that reproduces it.

Counts come from the event log (every ``invariant_violation`` record), so they are exact however many
there were; the summary's counts stand in when the log is missing. Violations are grouped by
invariant and message, each group with its full count and its first occurrence (step, time, actor,
the function whose call broke it, its causes and the reproduction command). The first
:data:`LISTED` are then listed one by one. An interrupted run's summary may list none of those
already in the event log, so records of the log that the summary lacks are added (matched on
invariant and step). Reverted transactions are broken down by contract, function and error.
"""

from __future__ import annotations

from attrs import frozen

from sim.report import fmt
from sim.report.document import Banner, Code, Section, Table
from sim.report.run import Run

#: At most this many violations are listed one by one; the verdict counts them all.
LISTED = 200


@frozen
class Violation:
    invariant: str
    step: object
    t: int | None
    actor: str
    values: dict
    message: str
    reproduce: str | None
    function: str | None = None
    causes: tuple = ()


def _violation(raw: dict, reproduce: str | None) -> Violation:
    values = raw.get("values")
    return Violation(
        invariant=str(raw.get("invariant", "?")),
        step=raw.get("step"),
        t=int(raw["t"]) if raw.get("t") is not None else None,
        actor=str(raw.get("actor", "")),
        values=values if isinstance(values, dict) else ({} if values is None else {"value": values}),
        message=str(raw.get("message", "")),
        reproduce=raw.get("reproduce") or reproduce,
        function=raw.get("function") if isinstance(raw.get("function"), str) else None,
        causes=tuple(c for c in raw.get("causes") or () if isinstance(c, dict)),
    )


def _causes(causes: tuple) -> str:
    """``OracleAggregator.sync reverted Panic(17) (record 1,234)``, most recent last."""
    shown = []
    for cause in causes:
        what = cause.get("error") and f"reverted {cause['error']}" or cause.get("event") or cause.get("status", "")
        shown.append(f"{cause.get('call', '?')} {what} (event-log record {fmt.integer(cause.get('seq'))})")
    return "; ".join(shown) or fmt.DASH


def collect(run: Run) -> tuple[list[Violation], int]:
    """(the violations to list, in the order they happened; how many there were in all)."""
    listed = [v for v in run.summary.get("invariant_violations", default=[]) if isinstance(v, dict)]
    extra = run.events.new_violations
    rows = [_violation(v, run.reproduce) for v in listed] + [_violation(v, run.reproduce) for v in extra.kept]
    rows.sort(key=lambda v: (v.t if v.t is not None else -1, v.step if isinstance(v.step, int) else -1))
    counted = run.summary.get("violation_count")
    total = max(run.events.violations, len(listed) + extra.count, counted if isinstance(counted, int) else 0)
    return rows[:LISTED], total


def by_invariant(run: Run) -> dict[str, int]:
    """Full counts per invariant: from the event log, else from the summary."""
    if run.events.violations_by_invariant:
        return dict(run.events.violations_by_invariant)
    counted = run.summary.get("violations_by_invariant", default={})
    return dict(counted) if isinstance(counted, dict) else {}


def groups(run: Run) -> list[dict]:
    """Violations grouped by invariant and message, most frequent first, each with its first occurrence."""
    if run.events.violation_groups:
        found = [{"invariant": inv, "message": msg, "count": g["count"], "first": g["first"]}
                 for (inv, msg), g in run.events.violation_groups.items()]
    else:
        found = [g for g in run.summary.get("violation_groups", default=[]) if isinstance(g, dict)]
    return sorted(found, key=lambda g: (-int(g.get("count") or 0), str(g.get("invariant")), str(g.get("message"))))


def _values(values: dict) -> str:
    return " · ".join(f"{k} = {fmt.value(v)}" for k, v in values.items()) or fmt.DASH


def section(run: Run) -> Section:
    rows, total = collect(run)
    so_far = "" if run.complete else " (so far: the run is incomplete)"
    if total == 0 and not run.complete and not run.events.present:
        blocks = [Banner("warn", "VERDICT UNKNOWN", "The run is incomplete and has no event log: nothing says "
                                                    "whether its invariants held.")]
        return Section("verdict", "Verdict", tuple(blocks))
    if total == 0:
        blocks = [Banner("ok", "ALL INVARIANTS HELD", f"No invariant violation was recorded{so_far}.")]
        return Section("verdict", "Verdict", tuple(blocks))
    counts = by_invariant(run) or {v.invariant: 0 for v in rows}
    kinds = ", ".join(f"{name} × {count:,}" for name, count in sorted(counts.items()))
    title = f"{total:,} INVARIANT VIOLATION{'S' if total != 1 else ''}"
    blocks = [Banner("bad", title, f"Broken: {kinds}{so_far}.")]
    group_rows = []
    for group in groups(run):
        first = _violation(group.get("first") or {}, run.reproduce)
        group_rows.append((
            first.invariant,
            fmt.integer(group.get("count")),
            group.get("message", ""),
            Code(first.function) if first.function else fmt.DASH,
            (f"step {fmt.integer(first.step)}, " if isinstance(first.step, int) else "")
            + fmt.sim_time(first.t, seconds=True) + f", {first.actor}",
            _causes(first.causes),
            Code(first.reproduce) if first.reproduce else fmt.DASH,
        ))
    blocks.append(Table(("Invariant", "Count", "Message", "Broken by", "First occurrence", "Caused by", "Reproduce"),
                        tuple(group_rows), numeric=(1,), css="violations", detail_last=True))
    table_rows = tuple(
        (
            v.invariant,
            fmt.integer(v.step) if isinstance(v.step, int) else fmt.value(v.step),
            fmt.sim_time(v.t, seconds=True) + (f" (t = {v.t:,})" if v.t is not None else ""),
            Code(v.actor),
            _values(v.values),
            v.message + (f" [{v.function}]" if v.function else ""),
            Code(v.reproduce) if v.reproduce else fmt.DASH,
        )
        for v in rows
    )
    footnote = ""
    if total > len(rows):
        footnote = (f"The first {len(rows):,} of {total:,} violations are listed; "
                    "every one is an invariant_violation record in events.jsonl.")
    blocks.append(Table(("Invariant", "Step", "Simulated time", "Actor", "Values that disagree", "Message",
                         "Reproduce"), table_rows, numeric=(1,), css="violations", footnote=footnote,
                        detail_last=True))
    return Section("verdict", "Verdict", tuple(blocks))

