"""How the plots look, in one place: palette, fonts, axis formatting, and byte-stable PNG output.

Plots are drawn on ``matplotlib.figure.Figure`` with the Agg canvas directly (no pyplot, no global
backend switch), under :func:`theme` (an ``rc_context``), so the rest of the process is untouched.
Every figure is ``WIDTH_IN`` × height inches at ``DPI``: 1000 px wide. PNGs are written without
the ``Software`` chunk and carry no date, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import matplotlib
from matplotlib import cycler, ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WIDTH_IN = 10.0
DPI = 100

#: One colour per meaning, used the same way in every plot.
COLORS = {
    "rbtc": "#2f4b9a",      # rBTC-SYNTH, and anything the protocol records
    "btc": "#f2920f",       # Bitcoin: confirmed reserves
    "ratio": "#178f7f",     # backing ratio, good outcomes
    "bad": "#c8283a",       # reorgs, emergency burns, rejections, p95
    "window": "#f6b26b",    # backing windows (shaded)
    "fees": "#7a3fb8",      # fees collected
    "vault": "#3a86d6",     # prepaid fee vault
    "neutral": "#7b8494",   # needs-top-up and other waiting states
    "ink": "#1f2633",
    "muted": "#5d6573",
    "grid": "#e3e6eb",
    "bronze": "#b87333",
    "silver": "#9aa1a9",
    "gold": "#d4a017",
}

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10.5,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 8,
    "axes.labelsize": 10.5,
    "axes.labelcolor": COLORS["ink"],
    "axes.edgecolor": "#aab1bc",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.formatter.useoffset": False,
    "axes.prop_cycle": cycler(color=[COLORS["rbtc"], COLORS["btc"], COLORS["ratio"], COLORS["bad"], COLORS["fees"]]),
    "grid.color": COLORS["grid"],
    "grid.linewidth": 0.8,
    "xtick.color": COLORS["muted"],
    "ytick.color": COLORS["muted"],
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.frameon": True,
    "legend.framealpha": 0.92,
    "legend.edgecolor": "none",
    "legend.facecolor": "white",
    "legend.fontsize": 9.5,
    "lines.linewidth": 1.8,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.hashsalt": "rbtc-sim-report",
    "path.simplify": True,
}


@contextmanager
def theme():
    with matplotlib.rc_context(RC):
        yield


def new_figure(height_in: float) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=0.12, w_pad=0.12, hspace=0.08, wspace=0.06)
    return fig


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


class Plain(ticker.Formatter):
    """Tick labels with thousands separators and just the decimals the ticks need (``1,500``, ``0.25``)."""

    def __init__(self, scale: float = 1.0, suffix: str = ""):
        self.scale, self.suffix = scale, suffix
        self.decimals = 0

    def set_locs(self, locs) -> None:
        values = [float(x) / self.scale for x in locs]
        self.decimals = 8
        for decimals in range(0, 9):
            if all(abs(round(x, decimals) - x) < 1e-9 * max(1.0, abs(x)) for x in values):
                self.decimals = decimals
                break

    def __call__(self, x, pos=None) -> str:
        text = f"{x / self.scale:,.{self.decimals}f}"
        if text.lstrip("-").strip("0.,") == "":
            text = text.lstrip("-")
        return text + self.suffix


def day_axis(ax, end_day: float, *, label: bool = True, ticks: int = 12) -> None:
    """Simulated days on x, from 0 to the end of the run (``ticks``: at most that many labels)."""
    ax.set_xlim(0, max(end_day, 1e-3))
    ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=ticks, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(Plain())
    if label:
        ax.set_xlabel("simulated time (days since genesis)")


def y_plain(ax, label: str, *, scale: float = 1.0, integer: bool = False) -> None:
    ax.set_ylabel(label)
    if integer:
        ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_formatter(Plain(scale))


def y_compact(ax, label: str, largest: float) -> None:
    """Like :func:`y_plain`, with ticks in thousands, millions or billions when the values are that large."""
    for scale, word in ((10**9, "billions"), (10**6, "millions"), (10**3, "thousands")):
        if largest >= 10 * scale:
            y_plain(ax, f"{label} ({word})", scale=scale)
            return
    y_plain(ax, label)


def note(ax, text: str) -> None:
    """A one-line remark inside an axes (top left), for what a panel does not show."""
    ax.text(0.01, 0.97, text, transform=ax.transAxes, ha="left", va="top", fontsize=9, color=COLORS["muted"])


def log_counts(ax, label: str) -> None:
    """A log-scaled count axis with plain labels (``1``, ``10``, ``1,000``)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:,.0f}" if x >= 1 else f"{x:g}"))
    ax.set_ylabel(label)


def needs_log(counts) -> bool:
    """Whether counts span so much that the small ones vanish on a linear axis."""
    values = [c for c in counts if c > 0]
    return bool(values) and max(values) / min(values) > 50
