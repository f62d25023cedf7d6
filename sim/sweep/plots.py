"""The sweep's plots: heatmaps (two varied parameters against the objective), sensitivity plots
(each varied parameter against the objective, with 95 % confidence intervals as error bars), bands
of kept time series (mean over seeds with the 5th–95th percentile band, over simulated time) and the
global sensitivity indices of Sobol' and Morris designs (horizontal bars with 95 % intervals).

Drawn on ``matplotlib.figure.Figure`` with the Agg canvas directly (no pyplot, no global backend),
under a local ``rc_context``; PNGs carry no ``Software`` chunk and no date, so the same results give
the same bytes. Points that miss a constraint are drawn hollow (sensitivity) or crossed (heatmap).
"""

from __future__ import annotations

import io
import itertools
import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import pyarrow.parquet as pq

from sim.sweep import sensitivity as gsa
from sim.sweep.metrics import info
from sim.sweep.spec import Sweep, format_value
from sim.sweep.store import series_path, write_bytes_atomic
from sim.sweep.tables import ranked

DPI = 100
RC = {"font.family": "DejaVu Sans", "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold",
      "axes.titlelocation": "left", "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
      "grid.color": "#e3e6eb", "axes.axisbelow": True, "figure.facecolor": "white", "savefig.facecolor": "white",
      "axes.formatter.useoffset": False, "svg.hashsalt": "rbtc-sim-sweep"}
SERIES = ("#2f4b9a", "#f2920f", "#178f7f", "#c8283a", "#7a3fb8", "#3a86d6", "#b87333", "#5d6573")
#: Most heatmap pairs drawn (parameters taken in [vary] order).
MAX_PAIRS = 6
#: Most lines in one sensitivity plot before it falls back to one marker per point.
MAX_SERIES = 8
#: Points drawn in a band plot (the best-ranked ones).
MAX_BANDS = 5
#: Metrics with an index plot (the objective, the constraints' metrics, then the others in table order).
MAX_INDEX_PLOTS = 6


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _label(metric: str) -> str:
    unit = info(metric)[0]
    return f"{metric} ({unit})" if unit not in ("count", "ratio") else metric


def _ok(row: dict) -> bool:
    return bool(row["feasible"])


def heatmap(sweep: Sweep, points: list[dict], a: str, b: str) -> bytes:
    metric = sweep.objective.metric
    column = f"{metric}_mean"
    rows = [r for r in points if r["runs"] and r[column] is not None and not math.isnan(r[column])]
    xs = sorted({r[a] for r in rows})
    ys = sorted({r[b] for r in rows})
    combos = {(r[a], r[b]) for r in rows}
    others = [p.name for p in sweep.params if p.name not in (a, b)]
    fig = _figure(7.5, 5.6)
    ax = fig.add_subplot()
    title = f"{metric} ({sweep.objective.goal}) over {a} × {b}"
    gridded = len(xs) <= 20 and len(ys) <= 20 and len(combos) == len(xs) * len(ys)
    if gridded:
        grid = np.full((len(ys), len(xs)), np.nan)
        bad = np.zeros((len(ys), len(xs)), dtype=bool)
        for j, y in enumerate(ys):
            for i, x in enumerate(xs):
                cell = [r for r in rows if r[a] == x and r[b] == y]
                grid[j, i] = float(np.mean([r[column] for r in cell]))
                bad[j, i] = not any(_ok(r) for r in cell)
        mesh = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_xticks(range(len(xs)), [format_value(a, v) for v in xs])
        ax.set_yticks(range(len(ys)), [format_value(b, v) for v in ys])
        ax.grid(False)
        finite = grid[np.isfinite(grid)]
        middle = float(finite.mean()) if finite.size else 0.0
        for j, i in itertools.product(range(len(ys)), range(len(xs))):
            value = grid[j, i]
            colour = "black" if value >= middle else "white"
            text = f"{value:.4g}" + ("\n✗ constraint" if bad[j, i] else "")
            ax.text(i, j, text, ha="center", va="center", fontsize=8.5, color=colour)
        if others:
            title += f"\n(mean over {', '.join(others)})"
    else:
        values = np.array([r[column] for r in rows], dtype=float)
        good = np.array([_ok(r) for r in rows])
        x = np.array([r[a] for r in rows], dtype=float)
        y = np.array([r[b] for r in rows], dtype=float)
        mesh = ax.scatter(x, y, c=values, cmap="viridis", s=90, edgecolors="black", linewidths=0.5)
        if (~good).any():
            ax.scatter(x[~good], y[~good], color="black", s=40, marker="x", label="misses a constraint")
            ax.legend(loc="best")
        if others:
            title += f"\n(each point also varies {', '.join(others)})"
    fig.colorbar(mesh, ax=ax, label=_label(metric))
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    ax.set_title(title)
    return _png(fig)


def sensitivity(sweep: Sweep, points: list[dict], name: str) -> bytes:
    metric = sweep.objective.metric
    column = f"{metric}_mean"
    rows = [r for r in points if r["runs"] and r[column] is not None and not math.isnan(r[column])]
    others = [p.name for p in sweep.params if p.name != name]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[o] for o in others), []).append(row)
    fig = _figure(7.5, 4.6)
    ax = fig.add_subplot()
    lines = len(groups) <= MAX_SERIES and all(len(g) >= 2 for g in groups.values())
    series = sorted(groups.items()) if lines else [((), rows)]
    for k, (key, members) in enumerate(series):
        members = sorted(members, key=lambda r: r[name])
        colour = SERIES[k % len(SERIES)]
        x = np.array([r[name] for r in members], dtype=float)
        y = np.array([r[column] for r in members], dtype=float)
        low = np.array([r[f"{metric}_ci95_low"] for r in members], dtype=float)
        high = np.array([r[f"{metric}_ci95_high"] for r in members], dtype=float)
        err = np.vstack([np.nan_to_num(y - low), np.nan_to_num(high - y)])
        label = ", ".join(f"{o}={format_value(o, v)}" for o, v in zip(others, key)) if lines and others else None
        ax.errorbar(x, y, yerr=err, color=colour, linestyle="-" if lines else "none", marker="none", capsize=3,
                    linewidth=1.4 if lines else 0.9, label=label)
        good = np.array([_ok(r) for r in members])
        ax.scatter(x[good], y[good], color=colour, s=36, zorder=3)
        ax.scatter(x[~good], y[~good], facecolors="white", edgecolors=colour, s=36, zorder=3, linewidths=1.4)
    if lines and others:
        ax.legend(loc="best", fontsize=8.5)
    ax.set_xlabel(name)
    ax.set_ylabel(_label(metric))
    subtitle = "mean over seeds, 95 % CI; hollow: misses a constraint" if sweep.objective.constraints else \
        "mean over seeds, 95 % CI"
    if not lines and others:
        subtitle += f"\neach point also varies {', '.join(others)}"
    ax.set_title(f"{metric} vs {name}\n{subtitle}")
    return _png(fig)


def band_stats(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """Mean, 5th and 95th percentile across seeds at each time of the first run's grid; the other
    runs are interpolated onto it (runs of one point share their sampling times, so this only matters
    when the duration is varied within a point, which it is not)."""
    t = runs[0][0]
    stack = np.vstack([values if len(times) == len(t) and np.array_equal(times, t)
                       else np.interp(t, times, values) for times, values in runs])
    with np.errstate(all="ignore"):
        return t, np.nanmean(stack, axis=0), np.nanpercentile(stack, 5, axis=0), np.nanpercentile(stack, 95, axis=0)


def _time_axis(ax, t_max: float) -> tuple[float, str]:
    for unit, seconds in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if t_max >= 2 * seconds:
            ax.set_xlabel(f"simulated time ({unit})")
            return seconds, unit
    ax.set_xlabel("simulated time (s)")
    return 1, "s"


def bands(sweep: Sweep, out: Path, points: list[dict], column: str) -> bytes | None:
    chosen = ranked(points)[:MAX_BANDS]
    fig = _figure(7.5, 4.6)
    ax = fig.add_subplot()
    drawn = 0
    scale = None
    for k, row in enumerate(chosen):
        runs = []
        for seed in sweep.seeds:
            path = series_path(out, row["point"], seed)
            if path.is_file():
                table = pq.read_table(path, columns=["t", column])
                t = np.array(table.column("t").to_pylist(), dtype=float)
                y = np.array([np.nan if v is None else v for v in table.column(column).to_pylist()], dtype=float)
                runs.append((t, y))
        if not runs:
            continue
        t, mean, low, high = band_stats(runs)
        if scale is None:
            scale, _ = _time_axis(ax, float(t.max()))
        colour = SERIES[k % len(SERIES)]
        label = f"#{row['rank']} " + ", ".join(f"{p.name}={format_value(p.name, row[p.name])}" for p in sweep.params)
        ax.plot(t / scale, mean, color=colour, linewidth=1.5, label=label)
        ax.fill_between(t / scale, low, high, color=colour, alpha=0.18, linewidth=0)
        drawn += 1
    if not drawn:
        return None
    ax.set_ylabel(column)
    ax.set_title(f"{column} over time\nmean over {len(sweep.seeds)} seeds, band: 5th–95th percentile; "
                 f"the {drawn} best-ranked points")
    ax.legend(loc="best", fontsize=7.5)
    return _png(fig)


def index_plot(sweep: Sweep, rows: list[dict], metric: str) -> bytes | None:
    """Sobol': S1 and ST per parameter with 95 % intervals; Morris: mu* with its interval and sigma.
    Parameters sorted by influence, the most influential on top (a tornado)."""
    chosen = gsa.ranked_parameters(rows, metric, sweep.design)[::-1]
    if not chosen:
        return None
    names = [r["parameter"] for r in chosen]
    y = np.arange(len(names), dtype=float)
    fig = _figure(7.5, 1.6 + 0.42 * len(names))
    ax = fig.add_subplot()
    value = lambda key: np.array([np.nan if r[key] is None else r[key] for r in chosen])  # noqa: E731
    if sweep.design == "sobol":
        pairs = (("ST", "ST_conf", "total (ST)", SERIES[0], 0.2), ("S1", "S1_conf", "first-order (S1)", SERIES[1], -0.2))
        ax.set_xlabel("share of the variance (95 % bootstrap interval)")
        ax.axvline(0, color="#5d6573", linewidth=0.8)
    else:
        pairs = (("mu_star", "mu_star_conf", "mu* (mean |effect|)", SERIES[0], 0.2),
                 ("sigma", None, "sigma (interactions, non-linearity)", SERIES[1], -0.2))
        ax.set_xlabel(f"elementary effect on {metric} per whole range of the parameter")
    for key, conf, label, colour, offset in pairs:
        err = np.nan_to_num(value(conf)) if conf else None
        ax.barh(y + offset, np.nan_to_num(value(key)), height=0.38, color=colour, xerr=err, capsize=3, label=label)
    ax.set_yticks(y, names)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right", fontsize=8.5)
    what = "Sobol' indices" if sweep.design == "sobol" else "Morris screening"
    ax.set_title(f"{what}: {_label(metric)}\n{len(sweep.samples)} sample rows x {len(sweep.seeds)} seeds")
    return _png(fig)


def index_metrics(sweep: Sweep, rows: list[dict]) -> list[str]:
    """Metrics that get an index plot and a summary table: the objective and constraint metrics first."""
    analysed = {r["metric"] for r in rows}
    order = [sweep.objective.metric, *(c.metric for c in sweep.objective.constraints), *sweep.metrics]
    chosen = [m for m in dict.fromkeys(order) if m in analysed and m != "violations"]
    return chosen[:MAX_INDEX_PLOTS]


def write_plots(sweep: Sweep, out: Path, points: list[dict], indices: list[dict] | None = None) -> list[Path]:
    """Every plot as ``plots/*.png``; returns their paths in the order the summary shows them."""
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    for old in plots.glob("*.png"):
        old.unlink()
    if not any(r["runs"] for r in points):
        return []
    written = []
    names = [p.name for p in sweep.params]

    def save(name: str, data: bytes | None) -> None:
        if data is not None:
            path = plots / f"{name}.png"
            write_bytes_atomic(path, data)
            written.append(path)

    with matplotlib.rc_context(RC):
        if indices:
            for metric in index_metrics(sweep, indices):
                save(f"{sweep.design}-{metric}", index_plot(sweep, indices, metric))
        for a, b in list(itertools.combinations(names, 2))[:MAX_PAIRS]:
            save(f"heatmap-{_file(a)}-{_file(b)}", heatmap(sweep, points, a, b))
        for name in names:
            save(f"sensitivity-{_file(name)}", sensitivity(sweep, points, name))
        for column in (sweep.series.bands if sweep.series else ()):
            save(f"bands-{column}", bands(sweep, out, points, column))
    return written


def _file(name: str) -> str:
    """A parameter name as part of a file name (``events[0].depth`` -> ``events.0.depth``)."""
    return name.replace("[", ".").replace("]", "")
