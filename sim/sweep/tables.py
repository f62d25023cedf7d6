"""The sweep's result tables: one row per run, one row per point (aggregated over seeds, ranked).

Rows come in design order (points in the order the design lists them, seeds as the sweep lists
them), never in completion order, so the tables are the same bytes whatever ran them. Both tables
are written as CSV (empty cell: the metric does not apply) and as Parquet (null).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sim.sweep.metrics import aggregate, info
from sim.sweep.spec import Sweep, format_value
from sim.sweep.store import write_atomic, write_bytes_atomic

STATS = ("mean", "std", "ci95_low", "ci95_high")


def run_rows(sweep: Sweep, records: list[dict]) -> list[dict]:
    rows = []
    for record in records:
        row = {"point": record["point"], "seed": record["seed"]}
        row.update(record["values"])
        row.update({m: record["metrics"].get(m) for m in sweep.metrics})
        row.update({"digest": record["digest"], "events": record["events"]})
        rows.append(row)
    return rows


def point_rows(sweep: Sweep, records: list[dict]) -> list[dict]:
    """Per point: its values, how many runs, mean/std/95 % CI of every tabulated metric, feasibility and rank."""
    by_point: dict[str, list[dict]] = {}
    for record in records:
        by_point.setdefault(record["point"], []).append(record)
    rows = []
    for point in sweep.points:
        runs = by_point.get(point.id, [])
        row = {"point": point.id, "rank": None, "feasible": None, "runs": len(runs)}
        row.update(point.values)
        for metric in sweep.metrics:
            stats = aggregate([r["metrics"].get(metric) for r in runs])
            for stat in STATS:
                row[f"{metric}_{stat}"] = stats[stat]
        if runs:
            row["feasible"] = all(c.holds(row[f"{c.metric}_mean"]) for c in sweep.objective.constraints)
        rows.append(row)
    _rank(sweep, rows)
    return rows


def _rank(sweep: Sweep, rows: list[dict]) -> None:
    """Feasible points first, then by the objective's mean (best first); ties keep design order."""
    column = f"{sweep.objective.metric}_mean"
    sign = -1.0 if sweep.objective.goal == "maximize" else 1.0

    def key(item):
        index, row = item
        value = row[column]
        missing = value is None or math.isnan(value)
        return (not row["feasible"], missing, 0.0 if missing else sign * value, index)

    ranked = sorted(((i, r) for i, r in enumerate(rows) if r["runs"]), key=key)
    for rank, (_, row) in enumerate(ranked, start=1):
        row["rank"] = rank


def ranked(rows: list[dict]) -> list[dict]:
    return sorted((r for r in rows if r["rank"] is not None), key=lambda r: r["rank"])


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def to_csv(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def _arrow_type(sweep: Sweep, column: str):
    if column in ("point", "digest"):
        return pa.string()
    if column == "feasible":
        return pa.bool_()
    kinds = {p.name: p.kind for p in sweep.params}
    if column in kinds:
        return {"int": pa.int64(), "float": pa.float64()}.get(kinds[column], pa.string())
    if column in ("seed", "rank", "runs", "events"):
        return pa.int64()
    if column in sweep.metrics and info(column)[1]:
        return pa.int64()
    return pa.float64()


def to_parquet(sweep: Sweep, rows: list[dict], columns: list[str]) -> bytes:
    arrays = {}
    for column in columns:
        kind = _arrow_type(sweep, column)
        values = [row.get(column) for row in rows]
        values = [None if (v is None or (isinstance(v, float) and math.isnan(v))) else v for v in values]
        if kind == pa.string() and column not in ("point", "digest"):
            values = [None if v is None else format_value(column, v) for v in values]
        if kind == pa.int64():
            values = [None if v is None else int(v) for v in values]
        arrays[column] = pa.array(values, type=kind)
    table = pa.table(arrays)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def write_sensitivity(sweep: Sweep, out: Path, rows: list[dict]) -> None:
    """``sensitivity.csv`` / ``.parquet``: one row per (metric, parameter) with the design's indices."""
    from sim.sweep.sensitivity import columns as index_columns

    columns = ["metric", "parameter", *index_columns(sweep.design)]
    write_atomic(out / "sensitivity.csv", to_csv(rows, columns))
    table = pa.table({c: pa.array([r[c] for r in rows], type=pa.string() if c in ("metric", "parameter")
                                   else pa.float64()) for c in columns})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    write_bytes_atomic(out / "sensitivity.parquet", sink.getvalue())


def write_tables(sweep: Sweep, out: Path, records: list[dict]) -> tuple[list[dict], list[dict]]:
    names = [p.name for p in sweep.params]
    runs = run_rows(sweep, records)
    run_columns = ["point", "seed", *names, *sweep.metrics, "digest", "events"]
    points = point_rows(sweep, records)
    point_columns = ["point", "rank", "feasible", "runs", *names,
                     *(f"{m}_{s}" for m in sweep.metrics for s in STATS)]
    write_atomic(out / "runs.csv", to_csv(runs, run_columns))
    write_atomic(out / "points.csv", to_csv(points, point_columns))
    write_bytes_atomic(out / "runs.parquet", to_parquet(sweep, runs, run_columns))
    write_bytes_atomic(out / "points.parquet", to_parquet(sweep, points, point_columns))
    return runs, points
