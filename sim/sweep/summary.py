"""The sweep's summary: what was swept, the points ranked against the objective (top 10, constraints
marked), units, violations, plots and the command that reproduces it — as Markdown (``summary.md``,
plots linked) and as one self-contained HTML file (``summary.html``, plots embedded)."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from sim.sweep.metrics import info
from sim.sweep.spec import Sweep, format_value
from sim.sweep.store import write_atomic
from sim.sweep.tables import ranked

TOP = 10
#: Extra columns shown beside the objective in the ranking, when tabulated.
CONTEXT = ("holder_apy_mean", "trader_apy_mean", "liability_ratio", "tier_silver", "violations")


def _num(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


def _with_ci(row: dict, metric: str) -> str:
    mean, low, high = row[f"{metric}_mean"], row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"]
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return _num(mean)
    return f"{_num(mean)} ± {_num((high - low) / 2, 2)}"


def _flatten(table: dict, prefix: str = "") -> list[str]:
    items = []
    for key, value in table.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append(f"{prefix}{key} = {value!r}")
    return items


def _constraint_marks(sweep: Sweep, row: dict) -> str:
    if not sweep.objective.constraints:
        return "–"
    marks = []
    for c in sweep.objective.constraints:
        value = row[f"{c.metric}_mean"]
        marks.append(("✓ " if c.holds(value) else "✗ ") + f"{c} ({_num(value)})")
    return "; ".join(marks)


def _facts(sweep: Sweep, result) -> list[tuple[str, str]]:
    s = sweep
    if s.design == "grid":
        design = s.design
    elif s.design == "sobol":
        design = (f"sobol (Saltelli's scheme, N = {s.options['samples']}"
                  f"{', second order' if s.options['second_order'] else ''}: {len(s.samples)} sample rows, "
                  f"design seed {s.design_seed})")
    elif s.design == "morris":
        design = (f"morris ({s.options['trajectories']} trajectories on {s.options['levels']} levels: "
                  f"{len(s.samples)} sample rows, design seed {s.design_seed})")
    else:
        design = f"{s.design} ({s.count} points drawn, design seed {s.design_seed})"
    facts = [
        ("base scenario", f"{s.scenario_source} ({s.scenario.path})"),
        ("overrides", ", ".join(_flatten(s.overrides)) or "none"),
        ("backend", f"{s.backend} ({s.engine} engine)"),
        ("world", f"{s.scenario.config.users:,} users, {s.scenario.config.duration_s / 86_400:g} days, "
                  f"{s.scenario.config.yields.traders} traders"),
        ("varied", "; ".join(f"{p.name} ∈ {p.describe()}" for p in s.params)),
        ("design", f"{design}: {len(s.points)} points × {len(s.seeds)} seeds ({', '.join(map(str, s.seeds))}) "
                   f"= {len(s.points) * len(s.seeds)} runs"),
        ("this invocation", f"{result.executed} runs executed, {result.reused} reused from earlier, "
                            f"{len(result.failed)} failed; {result.executor}"
                            + (f"; {result.runs_per_s:.2f} runs/s" if result.executed else "")),
        ("objective", f"{s.objective.goal} {s.objective.metric} (mean over seeds)"),
        ("constraints", "; ".join(map(str, s.objective.constraints)) + " (on the mean over seeds)"
         if s.objective.constraints else "none"),
        ("design hash", s.design_hash[:16]),
    ]
    if s.series:
        facts.insert(-1, ("time series", f"{', '.join(s.series.columns)} per run in series/ (Parquet, "
                                          "partitioned by point and seed)"))
    if s.modules:
        facts.insert(-1, ("user modules", ", ".join(name for name, _ in s.modules)))
    if s.notes:
        facts.insert(-1, ("notes", "; ".join(s.notes)))
    return facts


UNITS = ("Units: holders' yield is in sats (their base is rBTC-SYNTH), traders' in whole USDT (virtual USDT "
         "with 6 decimals); the pool is unit-agnostic, so the two are reported apart and never added. "
         "`liability_ratio` = holders' accrued yield (claimed + unclaimed, sats) ÷ confirmed BTC reserves (sats) "
         "at the end of the world; traders' USDT liability is not in it. APYs are in percent, per participant "
         "(accrual ÷ time-weighted base). Intervals are 95 % Student-t over seeds.")


def _top(sweep: Sweep, points: list[dict]) -> tuple[list[str], list[list[str]]]:
    names = [p.name for p in sweep.params]
    extra = [m for m in CONTEXT if m in sweep.metrics and m != sweep.objective.metric]
    header = ["rank", *names, f"{sweep.objective.metric} (95 % CI)", *extra, "constraints", "runs"]
    body = []
    for row in ranked(points)[:TOP]:
        body.append([str(row["rank"]), *(format_value(n, row[n]) for n in names),
                     _with_ci(row, sweep.objective.metric), *(_num(row[f"{m}_mean"]) for m in extra),
                     _constraint_marks(sweep, row), str(row["runs"])])
    return header, body


def _problems(sweep: Sweep, result, out: Path) -> list[str]:
    lines = []
    for record in result.records:
        count = record["metrics"]["violations"]
        if count:
            first = record["first_violations"][0] if record["first_violations"] else {}
            lines.append(f"{record['point']} seed {record['seed']}: {count} invariant violations "
                         f"(first: {first.get('invariant')} — {first.get('message')}); reproduce with "
                         f"`rbtc-sim run {out}/points/{record['point']}.toml --seed {record['seed']}`")
    for answer in result.failed:
        lines.append(f"{answer['point']} seed {answer['seed']}: the run failed: {answer['error']}")
    missing = len(sweep.runs) - len(result.records) - len(result.failed)
    if missing > 0:
        lines.append(f"{missing} runs have not run yet (the sweep was interrupted); rerun the command to finish")
    return lines


def _indices(sweep: Sweep, result) -> tuple[str, list[tuple[str, list[str], list[list[str]]]], list[str]]:
    """The global-sensitivity section: an explanation, one table per metric, notes on metrics left out."""
    from sim.sweep.plots import index_metrics
    from sim.sweep.sensitivity import ranked_parameters

    if sweep.design == "sobol":
        intro = ("Sobol' indices of each metric's mean over seeds. S1: the share of the variance a parameter "
                 "explains alone; ST: alone and through every interaction (ST − S1 is the interactions' "
                 "part). ± is the 95 % bootstrap half-width. Every metric: `sensitivity.csv`.")
        header = ["parameter", "S1 (95 % CI)", "ST (95 % CI)"]
        cells = lambda r: [f"{_num(r['S1'], 3)} ± {_num(r['S1_conf'], 2)}",  # noqa: E731
                           f"{_num(r['ST'], 3)} ± {_num(r['ST_conf'], 2)}"]
    else:
        intro = ("Morris screening of each metric's mean over seeds. mu*: the mean absolute elementary effect (the "
                 "metric's change per whole range of the parameter); sigma: their spread (interactions or "
                 "non-linearity); mu: the mean signed effect. ± is the 95 % bootstrap half-width. Every metric: "
                 "`sensitivity.csv`.")
        header = ["parameter", "mu* (95 % CI)", "mu", "sigma"]
        cells = lambda r: [f"{_num(r['mu_star'])} ± {_num(r['mu_star_conf'], 2)}", _num(r["mu"]),  # noqa: E731
                           _num(r["sigma"])]
    tables = []
    for metric in index_metrics(sweep, result.indices):
        body = [[r["parameter"], *cells(r)] for r in ranked_parameters(result.indices, metric, sweep.design)]
        tables.append((metric, header, body))
    notes = [f"`{m}`: {reason}" for m, reason in result.skipped.items() if m in sweep.metrics and m != "violations"]
    return intro, tables, notes


def markdown(sweep: Sweep, result, points: list[dict], plots: list[Path], command: str, out: Path) -> str:
    lines = [f"# Sweep `{sweep.name}`", ""]
    if sweep.description:
        lines += [sweep.description, ""]
    lines += [f"- **{k}**: {v}" for k, v in _facts(sweep, result)] + [""]
    lines += [f"## Top {TOP} points", ""]
    header, body = _top(sweep, points)
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    lines += ["", "Feasible points (every constraint met) rank first; ✗ marks a missed constraint. "
              "All points: `points.csv` / `points.parquet`; every run: `runs.csv` / `runs.parquet`.", "",
              UNITS, "", "## Invariant violations and failures", ""]
    problems = _problems(sweep, result, out)
    lines += [f"- {p}" for p in problems] if problems else ["None: every run kept every invariant."]
    if getattr(result, "indices", None) or getattr(result, "skipped", None):
        intro, tables, notes = _indices(sweep, result)
        lines += ["", "## Global sensitivity", "", intro, ""]
        for metric, header, body in tables:
            lines += [f"**{metric}**", "", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
            lines += ["| " + " | ".join(c) + " |" for c in body] + [""]
        lines += [f"- no indices for {n}" for n in notes]
    lines += ["", "## Plots", ""]
    lines += [f"![{p.stem}](plots/{p.name})" for p in plots] or ["No plots (no finished runs)."]
    lines += ["", "## Reproduce", "", "```", command, "```", "",
              f"One run of one point: `rbtc-sim run {out}/points/<point>.toml --seed <seed>`.", "",
              "## Metrics", ""]
    lines += [f"- `{name}` ({info(name)[0]}): {info(name)[2]}" for name in sweep.metrics]
    return "\n".join(lines) + "\n"


STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1f2633; max-width: 1320px;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #e3e6eb; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.6em 0; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e3e6eb; text-align: right; }
th { background: #f3f5f8; } td.text, th.text { text-align: left; }
tr.infeasible td { color: #8a909b; } td.text span { white-space: nowrap; }
.bad { color: #c8283a; } .good { color: #178f7f; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; } dt { font-weight: bold; }
code, pre { background: #f3f5f8; padding: 1px 4px; border-radius: 3px; } pre { padding: 8px; overflow-x: auto; }
img { max-width: 100%; display: block; margin: 1em 0; } .note { color: #5d6573; font-size: 0.92em; }
"""


def html_page(sweep: Sweep, result, points: list[dict], plots: list[Path], command: str, out: Path) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Sweep {e(sweep.name)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>Sweep <code>{e(sweep.name)}</code></h1>"]
    if sweep.description:
        parts.append(f"<p>{e(sweep.description)}</p>")
    parts.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _facts(sweep, result)) + "</dl>")
    parts.append(f"<h2>Top {TOP} points</h2>")
    header, body = _top(sweep, points)
    text_columns = {len(header) - 2}
    parts.append("<table><tr>" + "".join(f"<th class='{'text' if i in text_columns else ''}'>{e(h)}</th>"
                                          for i, h in enumerate(header)) + "</tr>")
    for cells, row in zip(body, ranked(points)):
        css = "" if row["feasible"] else " class='infeasible'"
        tds = []
        for i, cell in enumerate(cells):
            if i in text_columns:
                marks = "<br>".join(f"<span class='{'good' if m.startswith('✓') else 'bad'}'>{e(m)}</span>"
                                    for m in cell.split("; ")) if cell != "–" else "–"
                tds.append(f"<td class='text'>{marks}</td>")
            else:
                tds.append(f"<td>{e(cell)}</td>")
        parts.append(f"<tr{css}>" + "".join(tds) + "</tr>")
    parts.append("</table><p class='note'>Feasible points (every constraint met) rank first; ✗ marks a missed "
                 "constraint. All points: <code>points.csv</code> / <code>points.parquet</code>; every run: "
                 "<code>runs.csv</code> / <code>runs.parquet</code>.</p>")
    parts.append(f"<p class='note'>{e(UNITS)}</p>")
    parts.append("<h2>Invariant violations and failures</h2>")
    problems = _problems(sweep, result, out)
    parts.append("<ul>" + "".join(f"<li class='bad'>{e(p)}</li>" for p in problems) + "</ul>" if problems
                 else "<p class='good'>None: every run kept every invariant.</p>")
    if getattr(result, "indices", None) or getattr(result, "skipped", None):
        intro, tables, notes = _indices(sweep, result)
        parts.append(f"<h2>Global sensitivity</h2><p class='note'>{e(intro)}</p>")
        for metric, header, body in tables:
            parts.append(f"<p><b>{e(metric)}</b></p><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header)
                         + "</tr>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body)
                         + "</table>")
        if notes:
            parts.append("<ul>" + "".join(f"<li class='note'>no indices for {e(n)}</li>" for n in notes) + "</ul>")
    parts.append("<h2>Plots</h2>")
    for path in plots:
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f"<img alt='{e(path.stem)}' src='data:image/png;base64,{data}'>")
    parts.append(f"<h2>Reproduce</h2><pre>{e(command)}</pre><p>One run of one point: "
                 f"<code>rbtc-sim run {e(str(out))}/points/&lt;point&gt;.toml --seed &lt;seed&gt;</code></p>")
    parts.append("<h2>Metrics</h2><ul>" + "".join(
        f"<li><code>{e(name)}</code> ({e(info(name)[0])}): {e(info(name)[2])}</li>" for name in sweep.metrics)
        + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_summary(sweep: Sweep, result, points: list[dict], plots: list[Path], command: str, out: Path) -> None:
    write_atomic(out / "summary.md", markdown(sweep, result, points, plots, command, out))
    write_atomic(out / "summary.html", html_page(sweep, result, points, plots, command, out))
