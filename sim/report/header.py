"""Section 1: what ran — scenario, seed, backend, size, duration, digest, wall clock — and its parameters."""

from __future__ import annotations

from sim.report import fmt
from sim.report.document import Banner, Code, Command, Facts, Paragraph, Section, Table
from sim.report.run import Run


def title(run: Run) -> tuple[str, str]:
    scenario = run.summary.get("scenario", default=run.dir.name)
    seed = run.summary.get("seed")
    if seed is None and run.events.world_start:
        seed = run.events.world_start.get("seed")
    backend = run.summary.get("backend", default="?")
    seed_text = seed if seed is not None else "?"
    return f"ReserveBTC run report — {scenario}", f"scenario {scenario} · seed {seed_text} · backend {backend}"


def top(run: Run) -> tuple:
    """Blocks above everything: the incomplete-run banner and the reproduction command."""
    blocks = []
    if not run.complete:
        reason = run.summary.get("interrupted")
        detail = f"The run stopped at {fmt.sim_time(run.end_t)}"
        if run.duration_s:
            detail += f" of {fmt.duration(run.duration_s)} planned ({run.end_t / run.duration_s:.0%})"
        if reason == "running":  # the summary written at the start was never replaced
            detail += ("; its summary was never finalised (the process was killed, or the run is still going).")
        else:
            detail += f"; reason: {reason}." if reason else "."
        detail += " Everything below covers only what was written before it stopped."
        blocks.append(Banner("warn", "INCOMPLETE RUN", detail))
    problems = [p for p in (run.summary.problem, run.metrics.problem) if p]
    if not run.events.present and run.summary.get("log") != "summary":
        problems.append("events.jsonl is missing")
    if run.events.unreadable:
        problems.append(f"{fmt.plural(run.events.unreadable, 'line')} of events.jsonl could not be parsed "
                        "and were skipped")
    if problems:
        blocks.append(Banner("warn", "MISSING INPUT", "; ".join(problems) + "."))
    if run.reproduce:
        blocks.append(Command("Reproduce this run", run.reproduce))
    return tuple(blocks)


def _users(run: Run):
    users = run.summary.get("users")
    if users is None and run.events.world_start:
        users = run.events.world_start.get("users")
    return users


def section(run: Run) -> Section:
    s = run.summary
    digest = s.get("digest")
    status = "complete" if run.complete else "INCOMPLETE"
    if not run.complete and s.get("interrupted"):
        status += f" ({s.get('interrupted')})"
    preset = s.get("preset")
    duration = run.duration_s
    simulated = fmt.duration(duration)
    if not run.complete:
        simulated = f"{fmt.duration(run.end_t)} of {simulated}" if duration else f"{fmt.duration(run.end_t)} (so far)"
    events = run.pick(("events",), run.events.lines if run.events.present else None)
    wall = s.get("wall_clock_s")
    facts = Facts((
        ("Scenario", str(s.get("scenario", default=run.dir.name))),
        ("Seed", fmt.integer(s.get("seed", default=(run.events.world_start or {}).get("seed")))),
        ("Backend", str(s.get("backend", default="?")) + (" (fast engine)" if s.get("engine") == "fast" else "")),
        ("Users", fmt.integer(_users(run))),
        ("Simulated", simulated),
        ("Wall clock", fmt.duration(wall) if wall is not None and wall >= 60 else
         (f"{float(wall):.1f} s" if wall is not None else fmt.DASH)),
        ("Events", fmt.integer(events)),
        ("Status", status),
        ("Digest", Code(fmt.short_hex(digest), digest) if digest else fmt.DASH),
        *((("Preset", Code(str(preset))),) if preset else ()),
    ))
    blocks = [facts]
    if digest and s.get("engine") == "fast":
        blocks.append(Paragraph(f"Full digest (SHA-256 of the fast engine's canonical record batches): {digest}",
                                muted=True))
    elif digest:
        blocks.append(Paragraph(f"Full digest (SHA-256 of events.jsonl): {digest}", muted=True))
    if s.get("log") == "summary":
        blocks.append(Paragraph("No event log was written (log = summary): the timeline and event plots are "
                                "left out; the metrics and the summary are complete.", muted=True))
    blocks.append(params_table(s.get("params", default={})))
    return Section("run", "The run", tuple(blocks))


def _flatten(params: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key in sorted(params):
        value = params[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(_flatten(value, name + "."))
        else:
            out.append((name, value))
    return out


def _meaning(name: str, value) -> str:
    if value is None:
        return "not set: the defaults apply"
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    if "wei_per_" in name:
        return f"{fmt.gwei(value)} per {name.split('wei_per_')[1]}"
    if name.endswith("_wei") or name.endswith("Wei"):
        return fmt.eth(value)
    if name.endswith("_bps") or name.endswith("Bps") or name.endswith("_rate"):
        return f"{value / 100:.2f} %"
    if name.endswith("_s") or name.endswith("_after"):
        return fmt.duration(value)
    if name.endswith("_multiplier"):
        return f"× {value / 100:.2f}"
    if name.endswith("_sats"):
        return fmt.btc(value)
    return ""


def params_table(params: dict):
    if not params:
        return Paragraph("No protocol parameters were recorded in summary.json.", muted=True)
    rows = tuple((Code(name), fmt.DASH if value is None else fmt.value(value), _meaning(name, value))
                 for name, value in _flatten(params))
    return Table(("Protocol parameter", "Value", "Meaning"), rows, numeric=(1,), css="params")
