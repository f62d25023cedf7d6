"""The sweep's plots: heatmaps (two varied parameters against the objective) and sensitivity plots
(each varied parameter against the objective, with 95 % confidence intervals as error bars).

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

from sim.sweep.metrics import info
from sim.sweep.spec import Sweep, format_value
from sim.sweep.store import write_bytes_atomic

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


def write_plots(sweep: Sweep, out: Path, points: list[dict]) -> list[Path]:
    """Every plot as ``plots/*.png``; returns their paths in the order the summary shows them."""
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    for old in plots.glob("*.png"):
        old.unlink()
    if not any(r["runs"] for r in points):
        return []
    written = []
    names = [p.name for p in sweep.params]
    with matplotlib.rc_context(RC):
        for a, b in list(itertools.combinations(names, 2))[:MAX_PAIRS]:
            path = plots / f"heatmap-{a}-{b}.png"
            write_bytes_atomic(path, heatmap(sweep, points, a, b))
            written.append(path)
        for name in names:
            path = plots / f"sensitivity-{name}.png"
            write_bytes_atomic(path, sensitivity(sweep, points, name))
            written.append(path)
    return written
