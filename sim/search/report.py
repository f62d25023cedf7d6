"""A search's outputs: the trials table, the progress plot, the worst case as a scenario file with its
own run folder and report, the manifest and the summary (Markdown and one self-contained HTML file)."""

from __future__ import annotations

import base64
import html
import io
import json
import math

import attrs
import matplotlib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.scenario import dump
from sim.sweep.metrics import info
from sim.sweep.plots import RC, SERIES, _figure, _png
from sim.sweep.spec import format_value, scenario_name
from sim.sweep.store import write_atomic, write_bytes_atomic
from sim.sweep.summary import STYLE, _num
from sim.sweep.tables import to_csv, write_tables

TOP = 10


def trial_rows(result) -> list[dict]:
    search = result.search
    rows = []
    for t in result.trials:
        row = {"trial": t.number, "batch": t.batch}
        row.update({p.name: format_value(p.name, t.values[p.name]) if p.kind == "any" else t.values[p.name]
                    for p in search.params})
        row.update({"value": t.value, "feasible": t.feasible, "breaks": t.breaks})
        row.update({m: (t.metrics or {}).get(m) for m in search.head.metrics})
        rows.append(row)
    return rows


def write_trials(result) -> None:
    rows = trial_rows(result)
    columns = list(rows[0]) if rows else ["trial"]
    write_atomic(result.out / "trials.csv", to_csv(rows, columns))
    table = pa.Table.from_pylist([{c: (None if isinstance(r[c], float) and math.isnan(r[c]) else r[c])
                                   for c in columns} for r in rows]) if rows else pa.table({"trial": []})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    write_bytes_atomic(result.out / "trials.parquet", sink.getvalue())


def progress_plot(result) -> bytes:
    search = result.search
    metric = search.objective.metric
    fig = _figure(7.5, 4.4)
    ax = fig.add_subplot()
    x = np.array([t.number for t in result.trials], dtype=float)
    y = np.array([np.nan if t.value is None else t.value for t in result.trials], dtype=float)
    feasible = np.array([t.feasible for t in result.trials])
    ax.scatter(x[feasible], y[feasible], s=22, color=SERIES[0], label="trial", zorder=3)
    if (~feasible).any():
        ax.scatter(x[~feasible], y[~feasible], s=22, facecolors="white", edgecolors=SERIES[0], zorder=3,
                   label="trial missing a constraint")
    running, line = None, []
    for t in result.trials:
        if t.ok and (running is None or search.objective.better(t.value, running)):
            running = t.value
        line.append(np.nan if running is None else running)
    ax.step(x, line, where="post", color=SERIES[1], linewidth=1.8, label="worst so far")
    if search.objective.bound is not None:
        ax.axhline(search.objective.bound, color=SERIES[3], linestyle="--", linewidth=1.2,
                   label=f"bound {search.objective.bound:g}")
    for b in range(1, max((t.batch for t in result.trials), default=0) + 1):
        ax.axvline(b * search.batch - 0.5, color="#e3e6eb", linewidth=0.8, zorder=0)
    ax.set_xlabel(f"trial (batches of {search.batch}, {search.sampler.upper()} sampler, seed {search.seed})")
    unit = info(metric)[0]
    ax.set_ylabel(metric if unit in ("count", "ratio", "value") else f"{metric} ({unit})")
    goal = "maximise" if search.objective.goal == "maximize" else "minimise"
    ax.set_title(f"search {search.name}: {goal} {metric}\nmean over {len(search.seeds)} seed"
                 f"{'s' if len(search.seeds) != 1 else ''} per trial")
    ax.legend(loc="best", fontsize=8.5)
    return _png(fig)


def write_worst(result, points: dict) -> None:
    """``worst.toml`` (the worst point with its worst seed, ready for ``rbtc-sim run``) and its run folder."""
    from sim.run import execute

    search, worst = result.search, result.worst
    point = points[search.head.space.point(0, worst.values).id]
    metric = search.objective.metric
    value = result.worst_run["metrics"][metric]
    scenario = attrs.evolve(
        point.scenario, name=scenario_name(f"{search.name}-worst"),
        description=f"the worst case rbtc-sim search {search.name} found: {metric} = {value:.6g}",
        expected=f"{metric} = {value:.6g} (trial {worst.number}, seed {result.worst_seed})",
        config=attrs.evolve(point.scenario.config, seed=result.worst_seed))
    write_atomic(result.out / "worst.toml", dump(scenario))
    summary, _ = execute(scenario, result.out / "worst", overwrite=True)  # the search's own folder, rewritten
    result.replay = {"digest": summary["digest"], "matches": summary["digest"] == result.worst_run["digest"],
                     "report": str(result.out / "worst" / "report.html"),
                     "invariant_violations": len(summary.get("invariant_violations", []))}


def write_report(result, points: dict, command: str) -> None:
    out = result.out
    search = result.search
    records = result.records
    sweep = search.sweep(tuple(points.values()))
    write_tables(sweep, out, records)
    write_trials(result)
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    with matplotlib.rc_context(RC):
        write_bytes_atomic(plots / "progress.png", progress_plot(result))
    result.plots = [plots / "progress.png"]
    if result.worst is not None and result.worst_run is not None:
        write_worst(result, points)
    write_manifest(result)
    write_atomic(out / "summary.md", markdown(result, command))
    write_atomic(out / "summary.html", html_page(result, command))


def write_manifest(result) -> None:
    s, w = result.search, result.worst
    manifest = {
        "name": s.name, "search_file": str(s.path), "search_hash": s.search_hash, "base_hash": s.base_hash,
        "budget": s.budget, "batch": s.batch, "sampler": s.sampler, "seed": s.seed, "startup": s.startup,
        "seeds": list(s.seeds), "objective": attrs.asdict(s.objective), "trials": len(result.trials),
        "failed_trials": sum(t.value is None for t in result.trials),
        "worst": None if w is None else {"trial": w.number, "values": w.values, "value": w.value,
                                          "seed": result.worst_seed, "breaks_bound": w.breaks},
        "replay": result.replay, "violating_runs": result.violating_runs,
    }
    write_atomic(result.out / "search.json", json.dumps(manifest, indent=2, default=str) + "\n")


def _facts(result) -> list[tuple[str, str]]:
    s = result.search
    h = s.head
    sc = h.space.scenario.config
    bound = "none" if s.objective.bound is None else (
        f"{s.objective.metric} {'<=' if s.objective.goal == 'maximize' else '>='} {s.objective.bound:g}")
    return [
        ("base scenario", f"{h.scenario_source} ({h.space.scenario.path})"),
        ("world", f"{sc.users:,} users, {sc.duration_s / 86_400:g} days, backend {h.backend}, {h.engine} engine"),
        ("searched", "; ".join(f"{p.name} ∈ {p.describe()}" for p in s.params)),
        ("optimiser", f"{s.sampler} (Optuna), seed {s.seed}, {s.startup} random start-up trials, "
                      f"{s.budget} trials in batches of {s.batch}, {len(s.seeds)} seed(s) per trial"),
        ("objective", f"{s.objective.goal} {s.objective.metric} (mean over seeds)"),
        ("constraints", "; ".join(map(str, s.objective.constraints)) or "none"),
        ("bound under test", bound),
        ("this invocation", f"{result.executed} runs executed, {result.reused} read back; {result.executor}"),
    ]


def _verdict(result) -> list[str]:
    s, w = result.search, result.worst
    if w is None:
        return ["No trial was measured and feasible: nothing to report."]
    values = ", ".join(f"{name} = {format_value(name, v)}" for name, v in w.values.items())
    lines = [f"Worst case: trial {w.number}: {values}: {s.objective.metric} = {_num(w.value, 6)} (mean over seeds); "
             f"its worst seed is {result.worst_seed}."]
    if s.objective.bound is not None:
        lines.append(f"The bound ({s.objective.metric} {'<=' if s.objective.goal == 'maximize' else '>='} "
                     f"{s.objective.bound:g}) is {'BROKEN' if w.breaks else 'held by every trial'}.")
    if result.replay:
        r = result.replay
        lines.append(f"`worst.toml` replayed into `worst/`: digest {r['digest'][:16]} "
                     f"({'matches the search run' if r['matches'] else 'DIFFERS from the search run'}), "
                     f"{r['invariant_violations']} invariant violations; report: `{r['report']}`.")
    return lines


def _top(result) -> tuple[list[str], list[list[str]]]:
    s = result.search
    header = ["trial", *(p.name for p in s.params), s.objective.metric, "feasible"]
    ordered = sorted((t for t in result.trials if t.value is not None),
                     key=lambda t: (not t.feasible, -t.value if s.objective.goal == "maximize" else t.value, t.number))
    body = [[str(t.number), *(format_value(p.name, t.values[p.name]) for p in s.params), _num(t.value, 6),
             "yes" if t.feasible else "no"] for t in ordered[:TOP]]
    return header, body


def markdown(result, command: str) -> str:
    s = result.search
    lines = [f"# Search `{s.name}`", ""] + ([s.description, ""] if s.description else [])
    lines += [f"- **{k}**: {v}" for k, v in _facts(result)] + ["", "## Result", ""]
    lines += _verdict(result) + ["", "```", f"rbtc-sim run {result.out}/worst.toml", "```", "",
                                 f"## The {TOP} worst trials", ""]
    header, body = _top(result)
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c) + " |" for c in body]
    lines += ["", "Every trial: `trials.csv` / `trials.parquet`; every run: `runs.csv`, `runs/`.", "",
              "## Progress", ""] + [f"![{p.stem}](plots/{p.name})" for p in result.plots]
    lines += ["", "## Invariant violations and failures", ""]
    problems = _problems(result)
    lines += [f"- {p}" for p in problems] if problems else ["None: every run kept every invariant."]
    lines += ["", "## Reproduce", "", "```", command, "```"]
    return "\n".join(lines) + "\n"


def _problems(result) -> list[str]:
    lines = []
    for r in result.records:
        if r["metrics"]["violations"]:
            first = (r["first_violations"] or [{}])[0]
            lines.append(f"{r['point']} seed {r['seed']}: {r['metrics']['violations']} invariant violations (first: "
                         f"{first.get('invariant')} — {first.get('message')}); reproduce with `rbtc-sim run "
                         f"{result.out}/points/{r['point']}.toml --seed {r['seed']}`")
    lines += [f"{a['point']} seed {a['seed']}: the run failed: {a['error']}" for a in result.failed]
    return lines


def html_page(result, command: str) -> str:
    e = html.escape
    s = result.search
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Search {e(s.name)}</title>"
             f"<style>{STYLE}</style></head><body><h1>Search <code>{e(s.name)}</code></h1>"]
    if s.description:
        parts.append(f"<p>{e(s.description)}</p>")
    parts.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _facts(result)) + "</dl>")
    parts.append("<h2>Result</h2>" + "".join(f"<p class='{'bad' if 'BROKEN' in v else ''}'>{e(v)}</p>"
                                             for v in _verdict(result)))
    parts.append(f"<pre>rbtc-sim run {e(str(result.out))}/worst.toml</pre>")
    header, body = _top(result)
    parts.append(f"<h2>The {TOP} worst trials</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header)
                 + "</tr>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body)
                 + "</table>")
    parts.append("<h2>Progress</h2>")
    for path in result.plots:
        parts.append(f"<img alt='{e(path.stem)}' src='data:image/png;base64,"
                     f"{base64.b64encode(path.read_bytes()).decode()}'>")
    problems = _problems(result)
    parts.append("<h2>Invariant violations and failures</h2>" + (
        "<ul>" + "".join(f"<li class='bad'>{e(p)}</li>" for p in problems) + "</ul>" if problems
        else "<p class='good'>None: every run kept every invariant.</p>"))
    parts.append(f"<h2>Reproduce</h2><pre>{e(command)}</pre></body></html>\n")
    return "\n".join(parts)



