"""A worked example of the research toolkit from Python: the figures in the README come from here.

    .venv/bin/python docs/research_example.py          # about 2 minutes on two cores; writes docs/figures/*.png

1. A sweep from a dict: the YieldScales base rate against how often holders receive BTC, three seeds
   each, keeping every run's time series. Figure: the pool's debt to holders over time, mean and
   5th–95th percentile band across seeds (``research_bands.png``), and the liability ratio at the
   end against the base rate (``research_liability.png``).
2. A Sobol' sweep from a dict over four parameters. Figure: first-order and total indices of the
   liability ratio (``research_sobol.png``).

Everything below is what a notebook cell would hold; the ``__main__`` guard is only needed because
the worker processes re-import a script (a notebook does not need it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import research  # noqa: E402

FIGURES = Path(__file__).resolve().parent / "figures"
OUT = Path(__file__).resolve().parents[1] / "reports"
COLOURS = ("#2f4b9a", "#f2920f", "#178f7f", "#c8283a")
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
         "axes.grid": True, "grid.color": "#e3e6eb", "axes.titlesize": 9.5, "axes.titleweight": "bold",
         "axes.titlelocation": "left"}

BASE = {"scenario": "yield_season", "override": {"world": {"users": 30, "duration": "120d"}, "yield": {"traders": 0}}}

RATES = {
    "sweep": {"name": "example_rates", "scenario": BASE["scenario"], "seeds": 3,
              "metrics": ["liability_ratio", "holder_apy_mean", "reserves_sats"]},
    "override": BASE["override"],
    "vary": {"protocol.yield.base_rate": [300, 600, 900], "agents.receive_per_day": [0.02, 0.2]},
    "series": {"columns": ["yield_owed_total", "btc_reserves"], "bands": ["yield_owed_total"]},
    "objective": {"metric": "liability_ratio", "goal": "minimize"},
}

SOBOL = {
    "sweep": {"name": "example_sobol", "scenario": BASE["scenario"], "seeds": 1, "metrics": ["liability_ratio"]},
    "override": {"world": {"users": 20, "duration": "45d"}, "yield": {"traders": 0}},
    "vary": {"protocol.yield.base_rate": {"min": 200, "max": 1000},
             "protocol.yield.bronze_multiplier": {"min": 100, "max": 150},
             "yield.claim_per_day": {"min": 0.0, "max": 0.1},
             "agents.receive_per_day": {"min": 0.01, "max": 0.2}},
    "design": {"kind": "sobol", "samples": 16, "seed": 1},
    "objective": {"metric": "liability_ratio"},
}


def figure(width: float = 6.0, height: float = 3.4) -> Figure:
    fig = Figure(figsize=(width, height), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, name: str) -> Path:
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / name
    fig.savefig(path, dpi=80, metadata={"Software": None})
    return path


def rates_figures(data: research.SweepData) -> list[Path]:
    # Bands: the debt to holders over time, one colour per base rate (receive rate 0.02 per day).
    bands = data.bands("yield_owed_total")
    points = data.points.set_index("point")
    fig = figure()
    ax = fig.add_subplot()
    for colour, rate in zip(COLOURS, (300, 600, 900)):
        point = points[(points.base_rate == rate) & (points["agents.receive_per_day"] == 0.02)].index[0]
        band = bands[bands.point == point]
        days = band.t / 86_400
        ax.plot(days, band["mean"] / 1e6, color=colour, label=f"base_rate {rate} bps")
        ax.fill_between(days, band.p5 / 1e6, band.p95 / 1e6, color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel("simulated days")
    ax.set_ylabel("yield owed to holders (M sats)")
    ax.set_title("Debt to holders over time: mean of 3 seeds, band 5th–95th percentile")
    ax.legend(loc="upper left")
    paths = [save(fig, "research_bands.png")]

    # End state: the liability ratio against the base rate, a line per receive rate, 95 % CI bars.
    fig = figure()
    ax = fig.add_subplot()
    for colour, (receive, rows) in zip(COLOURS, data.points.groupby("agents.receive_per_day")):
        rows = rows.sort_values("base_rate")
        err = [rows.liability_ratio_mean - rows.liability_ratio_ci95_low,
               rows.liability_ratio_ci95_high - rows.liability_ratio_mean]
        ax.errorbar(rows.base_rate, rows.liability_ratio_mean * 100, yerr=[e * 100 for e in err], color=colour,
                    marker="o", capsize=3, label=f"receive {receive:g} / holder / day")
    ax.set_xlabel("base_rate (bps at full scale)")
    ax.set_ylabel("liability ratio after 120 days (%)")
    ax.set_title("Holders' accrued yield / confirmed BTC reserves")
    ax.legend(loc="upper left")
    paths.append(save(fig, "research_liability.png"))
    return paths


def sobol_figure(data: research.SweepData) -> Path:
    rows = data.indices[data.indices.metric == "liability_ratio"].sort_values("ST")
    fig = figure(6.0, 2.8)
    ax = fig.add_subplot()
    y = range(len(rows))
    ax.barh([i + 0.2 for i in y], rows.ST, height=0.38, xerr=rows.ST_conf, capsize=3, color=COLOURS[0],
            label="total (ST)")
    ax.barh([i - 0.2 for i in y], rows.S1, height=0.38, xerr=rows.S1_conf, capsize=3, color=COLOURS[1],
            label="first-order (S1)")
    ax.set_yticks(list(y), rows.parameter)
    ax.set_xlabel("share of the liability ratio's variance (95 % bootstrap interval)")
    ax.set_title(f"Sobol' indices: {len(data.runs)} runs, 45-day worlds")
    ax.legend(loc="lower right")
    return save(fig, "research_sobol.png")


def main() -> None:
    with matplotlib.rc_context(STYLE):
        rates = research.run(RATES, OUT / "sweep-example_rates", workers=2)
        print(rates.points[["point", "rank", "liability_ratio_mean", "holder_apy_mean_mean"]].to_string(index=False))
        written = rates_figures(rates)
        sobol = research.run(SOBOL, OUT / "sweep-example_sobol", workers=2)
        print(sobol.indices[sobol.indices.metric == "liability_ratio"].to_string(index=False))
        written.append(sobol_figure(sobol))
    for path in written:
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
