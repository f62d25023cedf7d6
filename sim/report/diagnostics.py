"""Diagnostics beside the verdict: reverted transactions by cause, and the protocol paths the run reached."""

from __future__ import annotations

from sim.report import fmt
from sim.report.document import Code, Paragraph, Section, Table
from sim.report.run import Run


def reverts_section(run: Run) -> Section | None:
    """Reverted transactions by contract, function and error (with the error's arguments when the
    summary has them), or None when nothing reverted."""
    listed = [r for r in run.summary.get("reverts", default=[]) if isinstance(r, dict)]
    if listed:
        rows = [(r.get("contract"), r.get("function"), r.get("error"), r.get("count")) for r in listed]
    else:
        rows = [(c, f, e, n) for (c, f, e), n in sorted(run.events.reverts.items(), key=lambda i: (-i[1], i[0]))]
    if not rows:
        return None
    total = sum(int(n or 0) for *_, n in rows)
    table = Table(("Contract", "Function", "Error", "Reverted transactions"),
                  tuple((str(c), Code(str(f)), Code(str(e) or "(no reason)"), fmt.integer(n)) for c, f, e, n in rows),
                  numeric=(3,))
    note = Paragraph(f"{total:,} transactions reverted. Probes of calls the rules forbid (soulbound transfers, "
                     "restricted functions) are expected to revert; anything else is a cause to look at.")
    return Section("reverts", "Reverted transactions", (note, table))


def paths_section(run: Run) -> Section | None:
    """How often the run reached each protocol path (sync outcomes, deposits, withdrawals, pool joins,
    claims and tier changes, disputes, probes), so a reader sees what the verdict covers."""
    paths = run.summary.get("paths", default={})
    if not isinstance(paths, dict) or not paths:
        return None
    rows = tuple((Code(str(name)), fmt.integer(count)) for name, count in sorted(paths.items())
                 if not str(name).startswith("revert:"))
    note = Paragraph("Paths the invariant monitors saw taken; reverts are in the table above.", muted=True)
    return Section("paths", "Protocol paths reached", (note, Table(("Path", "Times"), rows, numeric=(1,))))
