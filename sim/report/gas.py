"""Section 4: gas per function, from summary.json's ``gas`` (see :mod:`sim.protocol.gas`)."""

from __future__ import annotations

from sim.report import fmt
from sim.report.document import Paragraph, Section, Table
from sim.report.run import Run

_REVM = ("revm (pyrevm 0.3.7) keeps every call in one open journal, so what it measures is not a "
         "transaction's gas (see the README's revm section).")
#: Why a backend has no gas figures (summary.json's ``gas`` is null).
UNMETERED = {"model": "The models do not meter gas.", "revm": _REVM, "lockstep-revm": _REVM}


def section(run: Run) -> Section:
    gas = run.summary.get("gas")
    if not gas or not gas.get("functions"):
        if not run.complete:
            text = "Gas figures are written when the run ends."
        else:
            reason = UNMETERED.get(str(run.summary.get("backend")), "")
            text = f"No gas figures for this run. {reason} The evm (py-evm) and lockstep backends meter gas."
        return Section("gas", "Gas per function", (Paragraph(text, muted=True),))
    rows = tuple(
        (row["contract"], row["function"], fmt.integer(row["count"]), fmt.integer(row["min"]),
         fmt.integer(row["mean"]), fmt.integer(row["p50"]), fmt.integer(row["p95"]), fmt.integer(row["max"]),
         fmt.integer(row["reverted"]))
        for row in gas["functions"]
    )
    table = Table(("Contract", "Function", "Transactions", "Min", "Mean", "p50", "p95", "Max", "Reverted"), rows,
                  numeric=(2, 3, 4, 5, 6, 7, 8), css="gas", footnote=f"Unit: {gas.get('unit', 'gas')}. "
                  "Reverted transactions are counted, not measured.")
    return Section("gas", "Gas per function", (table,))
