"""Section 6: what happened, as a short timeline of the notable records (at most :data:`LINES`).

Reorgs, oracle outages, fee droughts and invariant violations in time order, plus the first and
last emergency burn, the longest backing window and how the log ends. When there are more than fit,
the earliest are shown and the rest are counted.
"""

from __future__ import annotations

from collections import Counter

from sim.report import fmt
from sim.report.document import Paragraph, Section, Timeline
from sim.report.run import Run
from sim.report.violations import collect

LINES = 30
#: At the same instant: the start, then causes (reorgs, outages, droughts), then what they led to.
ORDER = {"start": 0, "reorg": 1, "outage": 1, "fee drought": 1, "violation": 2, "burn": 3, "backing": 3,
         "end": 9, "cut off": 9}


def _entries(run: Run) -> tuple[list[tuple], list[tuple], Counter]:
    """(entries always shown, the others, how many of each tag exist beyond those kept)."""
    ev = run.events
    pinned: list[tuple] = []
    others: list[tuple] = []
    unseen: Counter = Counter()
    if ev.world_start is not None:
        pinned.append((0, "start", f"Run starts: {fmt.plural(int(ev.world_start.get('users') or 0), 'user')}, "
                                   f"{fmt.duration(ev.world_start.get('duration_s'))} planned", ""))
    for r in ev.reorgs.kept:
        affected = fmt.plural(int(r["affected"] or 0), "address", "addresses")
        text = (f"Bitcoin reorg {r['depth']} deep at fork height {fmt.integer(r['fork_height'])}: "
                f"{fmt.plural(r['double_spent'], 'tx', 'txs')} double-spent, {r['dropped']:,} dropped, "
                f"{affected} affected")
        others.append((r["t"], "reorg", text, "warn"))
    unseen["reorg"] += ev.reorgs.count - len(ev.reorgs.kept)
    for r in ev.outages.kept:
        length = f" ({fmt.duration(r['until'] - r['t'])})" if r.get("until") is not None else ""
        others.append((r["t"], "outage", f"Oracle offline until {fmt.sim_time(r.get('until'))}{length}", "warn"))
    unseen["outage"] += ev.outages.count - len(ev.outages.kept)
    for r in ev.droughts.kept:
        length = f" ({fmt.duration(r['until'] - r['t'])})" if r.get("until") is not None else ""
        others.append((r["t"], "fee drought", f"Users stop topping up prepaid fees until "
                                              f"{fmt.sim_time(r.get('until'))}{length}", "warn"))
    unseen["fee drought"] += ev.droughts.count - len(ev.droughts.kept)
    listed, total = collect(run)
    for v in listed:
        if v.t is None:
            continue
        text = f"{v.invariant} invariant violated by {fmt.short_address(v.actor)}: {v.message}"
        others.append((v.t, "violation", text, "bad"))
    unseen["violation"] += total - len(listed)
    if ev.first_burn is not None:
        b = ev.first_burn
        pinned.append((b["t"], "burn", f"First emergency burn: {fmt.short_address(b['user'])} lost "
                                       f"{fmt.sats(b['burned'])}", "warn"))
    if ev.last_burn is not None and ev.last_burn is not ev.first_burn and ev.burn_count.total > 1:
        b = ev.last_burn
        pinned.append((b["t"], "burn", f"Last of {ev.burn_count.total:,} emergency burns: "
                                       f"{fmt.short_address(b['user'])} lost {fmt.sats(b['burned'])}", "warn"))
    w = ev.longest_window
    if w is not None and w["duration_s"] > 0:
        state = "still open at the end" if w["open"] else f"lasted {fmt.duration(w['duration_s'])}"
        pinned.append((w["start"], "backing", f"Longest backing window opens ({w['cause']}) for "
                                              f"{fmt.short_address(w['user'])}: {state}", "warn"))
    if ev.world_end is not None:
        e = ev.world_end
        pinned.append((e["t"], "end", f"Run ends: supply {fmt.btc(e.get('total_supply'))}, "
                                      f"Bitcoin height {fmt.integer(e.get('btc_height'))}", "ok"))
    elif ev.present and ev.last_t is not None:
        pinned.append((ev.last_t, "cut off", "The event log ends here: the run did not finish", "bad"))
    return pinned, others, unseen


def section(run: Run) -> Section:
    if not run.events.present:
        return Section("timeline", "What happened", (Paragraph("No event log (events.jsonl), so no timeline."),))
    pinned, others, unseen = _entries(run)
    others.sort(key=lambda e: e[0])
    room = max(0, LINES - len(pinned))
    shown, dropped = others[:room], others[room:]
    for entry in dropped:
        unseen[entry[1]] += 1
    entries = sorted(pinned + shown, key=lambda e: (e[0], ORDER.get(e[1], 2)))  # causes before effects
    footnote = ""
    if sum(unseen.values()):
        parts = ", ".join(f"{n:,} × {tag}" for tag, n in sorted(unseen.items()) if n)
        footnote = f"Not shown: {parts} (see events.jsonl)."
    blocks = []
    if not shown and not any(e[1] in ("burn", "backing") for e in pinned):
        blocks.append(Paragraph("Nothing notable: no reorgs, outages, fee droughts, emergency burns, backing windows "
                                "or invariant violations.", muted=True))
    blocks.append(Timeline(tuple((fmt.sim_time(t), tag, text, tone) for t, tag, text, tone in entries), footnote))
    return Section("timeline", "What happened", tuple(blocks))
