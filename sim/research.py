"""The research toolkit from Python (a notebook, a script): sweeps and searches in, pandas DataFrames out.

    from sim import research

    data = research.run({                       # a sweep file's tables as a dict; runs it, loads it
        "sweep": {"name": "nb", "scenario": "yield_season", "seeds": 3},
        "override": {"world": {"users": 40, "duration": "60d"}},
        "vary": {"protocol.yield.base_rate": [300, 600], "agents.spend_per_day": [0.02, 0.2]},
        "series": {"bands": ["yield_owed_total"]},
        "objective": {"metric": "liability_ratio", "goal": "minimize"},
    }, workers=2)
    data.points                                 # one row per point: values, mean/std/CI of every metric, rank
    data.runs                                   # one row per run (point x seed)
    data.series                                 # every kept time series: point, seed, t, columns (long format)
    data.bands("yield_owed_total")              # mean and 5th/95th percentile across seeds per point and t
    data.indices                                # Sobol'/Morris designs: one row per (metric, parameter)

    data = research.load("reports/sweep-yield_example")      # any sweep (or search) folder
    found = research.search("scenarios/sweeps/search_backing_window.toml")   # .trials, .worst

    @research.metric(unit="count", integer=True)             # a metric of your own (see sim.sweep.metrics)
    def waiting_for_topup(world):
        return len(world.oracle.needs_topup)

Worker processes import the modules a sweep names in ``[sweep] modules``; a metric defined in a
notebook cell is not importable there, so put it in a ``.py`` file and name that file.
"""

from __future__ import annotations

import io
from pathlib import Path

import attrs
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import tomli_w

from sim.exits import BadInput
from sim.input_files import MAX_SUMMARY_BYTES, parse_toml, read_json_object
from sim.sweep.metrics import metric

__all__ = ["SweepData", "bands", "load", "metric", "run", "search", "to_toml"]


@attrs.define
class SweepData:
    """A sweep's (or search's) folder as DataFrames. ``series`` is read on first use."""

    path: Path
    manifest: dict
    points: pd.DataFrame
    runs: pd.DataFrame
    indices: pd.DataFrame | None = None  # sensitivity designs
    trials: pd.DataFrame | None = None  # searches
    search: dict | None = None  # searches: search.json
    _series: pd.DataFrame | None = attrs.field(default=None, repr=False)

    @property
    def parameters(self) -> list[str]:
        return [p["name"] for p in self.manifest["design"]["parameters"]]

    @property
    def series(self) -> pd.DataFrame:
        """Every kept time series of the design's runs, long format: point, seed, t, then the columns."""
        if self._series is None:
            self._series = read_series(self.path, [p["id"] for p in self.manifest["points"]])
        return self._series

    def bands(self, column: str) -> pd.DataFrame:
        return bands(self.series, column)

    @property
    def worst(self) -> dict | None:
        """Searches: the worst trial found (trial, values, value, seed, breaks_bound)."""
        return self.search.get("worst") if self.search else None


def load(folder: str | Path) -> SweepData:
    """Load a sweep's (or a search's) output folder."""
    path = Path(folder)
    manifest_path = path / "sweep.json"
    if not manifest_path.is_file():
        raise BadInput(f"{path}: not a sweep or search folder (no sweep.json)")
    manifest = read_json_object(manifest_path, "sweep manifest", MAX_SUMMARY_BYTES)

    def table(name: str) -> pd.DataFrame | None:
        file = path / name
        return pd.read_parquet(file) if file.is_file() else None

    search_file = path / "search.json"
    return SweepData(path, manifest, table("points.parquet"), table("runs.parquet"), table("sensitivity.parquet"),
                     table("trials.parquet"),
                     read_json_object(search_file, "search record", MAX_SUMMARY_BYTES) if search_file.is_file()
                     else None)


def read_series(folder: str | Path, points: list[str] | None = None) -> pd.DataFrame:
    """The ``series/`` Parquet dataset of a sweep folder as one DataFrame (empty when none was kept);
    ``points`` keeps those points only, in that order."""
    root = Path(folder) / "series"
    if not root.is_dir():
        return pd.DataFrame(columns=["point", "seed", "t"])
    partitioning = ds.partitioning(pa.schema([("point", pa.string()), ("seed", pa.int64())]), flavor="hive")
    frame = ds.dataset(root, format="parquet", partitioning=partitioning).to_table().to_pandas()
    if points is not None:
        frame = frame[frame["point"].isin(points)]
        order = {p: i for i, p in enumerate(points)}
        frame = frame.assign(_order=frame["point"].map(order))
        frame = frame.sort_values(["_order", "seed", "t"]).drop(columns="_order")
    columns = ["point", "seed", "t", *(c for c in frame.columns if c not in ("point", "seed", "t"))]
    return frame[columns].reset_index(drop=True)


def bands(series: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per point and time: the mean of ``column`` across seeds and its 5th and 95th percentiles (linear
    interpolation, as the summary's band plots draw them)."""
    grouped = series.groupby(["point", "t"], sort=False)[column]
    out = grouped.agg(mean="mean", p5=lambda v: v.quantile(0.05), p95=lambda v: v.quantile(0.95), seeds="count")
    return out.reset_index()


# ---------------------------------------------------------------------------------------- running


def run(spec: dict | str | Path, out: str | Path | None = None, *, workers: int | None = None,
        scheduler: str | None = None, restart: bool = False, quiet: bool = True) -> SweepData:
    """Run a sweep (a dict with a sweep file's tables, or a sweep file) into ``out`` (default
    reports/sweep-<name>/) and load it. Finished runs in ``out`` are reused, as with ``rbtc-sim sweep``."""
    from sim.sweep.driver import execute_sweep
    from sim.sweep.spec import load_sweep, parse_sweep

    sweep, target = _prepare(spec, "sweep", parse_sweep, load_sweep, out)
    command = f"rbtc-sim sweep {target}/sweep.toml --out {target}" if isinstance(spec, dict) else None
    execute_sweep(sweep, target, workers=workers, scheduler=scheduler, restart=restart, command=command,
                  stream=io.StringIO() if quiet else None)
    return load(target)


def search(spec: dict | str | Path, out: str | Path | None = None, *, workers: int | None = None,
           scheduler: str | None = None, restart: bool = False, quiet: bool = True) -> SweepData:
    """Run a search (a dict with a search file's tables, or a search file) and load its folder: ``trials``
    holds every trial, ``worst`` the worst case found (``worst.toml`` in the folder runs it)."""
    from sim.search.driver import execute_search
    from sim.search.spec import load_search, parse_search

    found, target = _prepare(spec, "search", parse_search, load_search, out)
    execute_search(found, target, workers=workers, scheduler=scheduler, restart=restart,
                   stream=io.StringIO() if quiet else None)
    return load(target)


def _prepare(spec, kind: str, parse, load_file, out):
    """The parsed sweep or search (from a dict, through its TOML text, or from a file) and its folder."""
    from sim.run import REPORTS_DIR

    if isinstance(spec, dict):
        text = to_toml(_absolute(spec, kind))
        parsed = parse(parse_toml(text, "<dict>", BadInput), "<dict>", Path.cwd() / f"{_name(spec, kind)}.toml", text)
    else:
        parsed = load_file(str(spec))
    return parsed, Path(out) if out is not None else REPORTS_DIR / f"{kind}-{parsed.name}"


def _name(spec: dict, table: str) -> str:
    header = spec.get(table, {})
    return header.get("name", "notebook") if isinstance(header, dict) else "notebook"


def _absolute(spec: dict, table: str) -> dict:
    """Paths in the dict made absolute, so the stored copy (``sweep.toml`` in the output folder) runs
    from anywhere: a scenario given as a path, and modules given as files."""
    header = spec.get(table)
    if not isinstance(header, dict):
        return spec
    header = dict(header)
    scenario = header.get("scenario")
    if isinstance(scenario, str) and (scenario.endswith(".toml") or "/" in scenario) and Path(scenario).is_file():
        header["scenario"] = str(Path(scenario).resolve())
    modules = header.get("modules")
    if isinstance(modules, list):
        header["modules"] = [str(Path(m).resolve()) if isinstance(m, str) and m.endswith(".py") else m
                             for m in modules]
    return dict(spec, **{table: header})


def to_toml(data: dict) -> str:
    """A sweep or search dict as a TOML file (tomli-w, the scenario files' writer: nested tables as
    [tables], a [vary] spec such as { min, max } as its own [vary.<key>] table, which reads back the same)."""
    return tomli_w.dumps(data)
