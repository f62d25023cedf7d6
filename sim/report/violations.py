"""The verdict: every invariant violation of the run, each with the command that reproduces it.

The summary lists the violations of a finished run. An interrupted run's summary may list none of
those already in the event log, so records of the log that the summary lacks are added (matched on
invariant and step).
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
    )


def collect(run: Run) -> tuple[list[Violation], int]:
    """(the violations to list, in the order they happened; how many there were in all)."""
    listed = [v for v in run.summary.get("invariant_violations", default=[]) if isinstance(v, dict)]
    extra = run.events.new_violations
    rows = [_violation(v, run.reproduce) for v in listed] + [_violation(v, run.reproduce) for v in extra.kept]
    rows.sort(key=lambda v: (v.t if v.t is not None else -1, v.step if isinstance(v.step, int) else -1))
    return rows[:LISTED], len(listed) + extra.count


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
    by_kind: dict[str, int] = {}
    for v in rows:
        by_kind[v.invariant] = by_kind.get(v.invariant, 0) + 1
    kinds = ", ".join(f"{name} × {count}" for name, count in sorted(by_kind.items()))
    title = f"{total:,} INVARIANT VIOLATION{'S' if total != 1 else ''}"
    among = f" among the first {len(rows):,}" if total > len(rows) else ""
    blocks = [Banner("bad", title, f"Broken: {kinds}{among}{so_far}.")]
    table_rows = tuple(
        (
            v.invariant,
            fmt.integer(v.step) if isinstance(v.step, int) else fmt.value(v.step),
            fmt.sim_time(v.t, seconds=True) + (f" (t = {v.t:,})" if v.t is not None else ""),
            Code(v.actor),
            _values(v.values),
            v.message,
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
