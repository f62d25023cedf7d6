"""Section 3: the key figures of the run, grouped by area.

Each value is the summary's for a complete run; for an incomplete run it is counted from the event
log or read from the metrics where those can give it (see :meth:`sim.report.run.Run.pick`). The
summary keys are those of docs/run-folder.md and of what ``sim/run.py`` writes beside them
(``oracle_rounds``, ``fees_collected_wei``, ``disputes.open``, ``backing.open_windows``, …);
a key the summary lacks is simply not shown unless the log or the metrics can give it.
"""

from __future__ import annotations

from sim.report import fmt
from sim.report.document import Paragraph, Section, Table
from sim.report.run import Run

CAUSES = ("reorg", "outage", "latency", "unexplained")


def _seconds(value) -> str:
    if value is None:
        return fmt.DASH
    text = fmt.duration(value)
    return f"{text} ({int(value):,} s)" if value >= 60 else text


def _oracle(run: Run, ev, add) -> None:
    pick, m = run.pick, run.metrics
    add("Oracle", "Syncs", fmt.integer(pick(("syncs",), ev and ev.ops["sync"])))
    add("Oracle", "Emergency burns", fmt.integer(pick(("emergency_burns",), ev and ev.ops["emergency_burn"])))
    if ev and ev.burned_sats.total:
        add("Oracle", "Burned by emergency burns", fmt.sats(ev.burned_sats.total))
    add("Oracle", "Needs top-up", fmt.integer(pick(("needs_topup",), ev and ev.ops["needs_topup"])))
    if ev and ev.ops["error"]:
        add("Oracle", "Sync errors (reverted)", fmt.integer(ev.ops["error"]))
    if run.summary.get("oracle_rounds") is not None:
        add("Oracle", "Oracle rounds", fmt.integer(run.summary.get("oracle_rounds")))
    collected = pick(("fees_collected_wei",), m.last("fees_collected_wei"))
    if collected is not None:
        add("Oracle", "Fees collected", fmt.eth(collected))
    if m.last("vault_total_wei") is not None:
        add("Oracle", "Prepaid in the fee vault (end)", fmt.eth(m.last("vault_total_wei")))


def _bitcoin(run: Run, ev, add) -> None:
    height = (run.events.world_end or {}).get("btc_height") or run.metrics.last("btc_height")
    add("Bitcoin", "Blocks", fmt.integer(run.pick(("btc_blocks",), height)))
    text = fmt.integer(run.pick(("reorgs",), ev and ev.reorgs.count))
    if ev and ev.reorgs.kept:
        deepest = max(int(r.get("depth") or 0) for r in ev.reorgs.kept)
        text += f" (deepest {fmt.plural(deepest, 'block')})"
    add("Bitcoin", "Reorgs", text)


def _disputes(run: Run, ev, add) -> None:
    pick = run.pick
    filed = pick(("disputes", "filed"), ev and ev.disputes_filed.total)
    add("Disputes", "Filed", fmt.integer(filed))
    add("Disputes", "Accepted", fmt.integer(pick(("disputes", "accepted"), ev and ev.disputes_accepted.total)))
    add("Disputes", "Rejected", fmt.integer(pick(("disputes", "rejected"), ev and ev.disputes_rejected.total)))
    still_open = pick(("disputes", "open"), ev and ev.disputes_filed.total - ev.disputes_resolved)
    if still_open is not None:
        add("Disputes", "Open at the end", fmt.integer(still_open))
    if run.summary.get("disputes", "onchain") is not None:
        add("Disputes", "Filed on chain", fmt.integer(run.summary.get("disputes", "onchain")))
    add("Disputes", "Longest resolution", _seconds(pick(("disputes", "max_resolution_s"), ev and ev.resolution.max)))


def _backing(run: Run, ev, add) -> None:
    pick = run.pick
    ratios = [v for v in run.metrics.column("backing_ratio") if v is not None]
    add("Backing", "Minimum backing ratio",
        fmt.ratio(pick(("backing", "min_ratio"), min(ratios) if ratios else None)))
    add("Backing", "Windows (all causes)", fmt.integer(pick(("backing", "violations"), ev and ev.windows)))
    for cause in CAUSES:
        counted = ev.window_opens[cause] if ev else None
        add("Backing", f"{cause.capitalize()} windows",
            fmt.integer(pick(("backing", "windows_by_cause", cause), counted)))
    still_open = pick(("backing", "open_windows"), ev and len(ev.open_windows))
    if still_open is not None:
        add("Backing", "Open at the end", fmt.integer(still_open))
    longest = ev.longest_window if ev else None
    length = pick(("backing", "max_violation_window_s"), longest["duration_s"] if longest else None)
    add("Backing", "Longest window", _seconds(length))
    if longest and length and length == longest["duration_s"]:
        still = ", still open at the end" if longest["open"] else ""
        add("Backing", "Longest window opened", f"{fmt.sim_time(longest['start'])} ({longest['cause']}{still})")
    add("Backing", "Largest excess (rBTC over BTC)",
        fmt.sats(pick(("backing", "max_excess_sats"), ev and ev.max_excess)))


def _sync_delay(run: Run, ev, add) -> None:
    delay = ev.sync_delay if ev else None
    for label, q in (("p50", 0.5), ("p95", 0.95)):
        add("Sync delay", label, _seconds(run.pick(("sync_delay_s", label), delay and delay.percentile(q))))
    add("Sync delay", "max", _seconds(run.pick(("sync_delay_s", "max"), delay and delay.max)))


def _yield(run: Run, add) -> None:
    pick, m, s = run.pick, run.metrics, run.summary
    add("Yield", "Participants", fmt.integer(pick(("yield", "participants"), m.last("pool_participants"))))
    if s.get("yield", "traders") is not None:
        add("Yield", "Traders among them", fmt.integer(s.get("yield", "traders")))
    add("Yield", "Rate", fmt.bps(pick(("yield", "rate_bps"), m.last("yield_rate_bps"))))
    if s.get("yield", "claims") is not None:
        add("Yield", "Claims", fmt.integer(s.get("yield", "claims")))
    add("Yield", "Claimed", fmt.integer(pick(("yield", "claimed"), m.last("yield_claimed_total"))))
    if m.has("yield_owed_total"):
        add("Yield", "Owed, not yet claimed (end)", fmt.integer(m.last("yield_owed_total")))
    tiers = s.get("yield", "tiers", default={})
    if tiers:
        add("Yield", "Tiers", " · ".join(f"{name} {fmt.integer(n)}" for name, n in tiers.items()))


def _reserves(run: Run, ev, add) -> None:
    pick, s = run.pick, run.summary
    last = ev.por_last if ev else None
    add("Proof of reserves", "Rounds", fmt.integer(pick(("proof_of_reserves", "rounds"), ev and ev.por_rounds)))
    total = pick(("proof_of_reserves", "last_total_sats"), last and last.get("total_sats"))
    add("Proof of reserves", "Last published total", fmt.btc(total))
    height = pick(("proof_of_reserves", "last_height"), last and last.get("height"))
    if height is not None:
        add("Proof of reserves", "Last snapshot height", fmt.integer(height))
    verified = s.get("proof_of_reserves", "verified_proofs")
    if verified is None:
        verified = s.get("proof_of_reserves", "onchain_verified_proofs")
    add("Proof of reserves", "Verified proofs", fmt.integer(verified))


def rows(run: Run) -> list[tuple[str, str, str]]:
    """(area, figure, value) rows, grouped by area in report order."""
    ev = run.events if run.events.present else None
    out: list[tuple[str, str, str]] = []

    def add(area: str, label: str, value: str) -> None:
        out.append((area, label, value))

    _oracle(run, ev, add)
    _bitcoin(run, ev, add)
    _disputes(run, ev, add)
    _backing(run, ev, add)
    _sync_delay(run, ev, add)
    _yield(run, add)
    _reserves(run, ev, add)
    return out


def section(run: Run) -> Section:
    blocks = []
    if not run.complete:
        blocks.append(Paragraph(f"The run is incomplete: figures are counted from the event log and the metrics up "
                                f"to {fmt.sim_time(run.end_t)} where they can be; the rest are as summary.json "
                                "states them.", muted=True))
    blocks.append(Table(("Area", "Figure", "Value"), tuple(rows(run)), numeric=(2,), css="figures",
                        group_first=True))
    return Section("figures", "Key figures", tuple(blocks))
