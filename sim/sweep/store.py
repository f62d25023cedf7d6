"""A sweep's output folder: the manifest, one file per finished run, and resuming from them.

Layout (``reports/sweep-<name>/`` by default)::

    sweep.json          manifest: hashes, design, status (running / complete / incomplete)
    sweep.toml          the sweep file as it ran
    points/<id>.toml    each point as a scenario file (``rbtc-sim run points/<id>.toml --seed S``)
    runs/<id>-s<seed>.json   one finished run each, written atomically
    series/point=<id>/seed=<seed>/part-0.parquet   its metrics time series, when the sweep keeps them
    runs.csv, runs.parquet, points.csv, points.parquet, plots/*.png, summary.md, summary.html
    sensitivity.csv, sensitivity.parquet   Sobol' or Morris indices (sensitivity designs)

A run file is written whole (to a temporary name, then renamed) as soon as its run finishes, so an
interrupted sweep loses only the runs in flight, and a rerun executes only the runs whose file is
missing. Each run file carries the base hash it was computed under and a fingerprint of the
simulator code that computed it; the manifest carries the base and design hashes. Reopening a folder:

* same design hash: resume;
* same base hash, other points or seeds (a grid extended, seeds added): reuse every run file that
  belongs to the new design, run the rest; run files outside the design stay in ``runs/`` but are
  left out of the tables;
* other base hash (base scenario, overrides, backend or the set of varied parameters changed): the
  old runs measure something else, so refuse, unless ``restart`` discards them;
* runs computed by other simulator code (see :func:`sim.sweep.runner.code_fingerprint`) are reused
  with a note saying how many: the inputs are the same, the code that measured them is not;
* a run file lacking a metric the sweep now tabulates (a metric added since, a user's metric), or
  lacking the time series the sweep now keeps, is run again.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sim.input_files import MAX_SUMMARY_BYTES, read_json
from sim.scenario import ScenarioError, dump
from sim.sweep.runner import code_fingerprint
from sim.sweep.spec import FORMAT, Sweep

#: What a sweep writes in its folder; ``restart`` removes exactly these.
OUTPUT_FILES = ("sweep.json", "sweep.toml", "runs.csv", "runs.parquet", "points.csv", "points.parquet",
                "sensitivity.csv", "sensitivity.parquet", "summary.md", "summary.html")
OUTPUT_DIRS = ("runs", "points", "plots", "series")


def series_path(out: Path, point: str, seed: int) -> Path:
    """Where one run's time series lives (Hive-style partitions: ``point=<id>/seed=<seed>``)."""
    return Path(out) / "series" / f"point={point}" / f"seed={seed}" / "part-0.parquet"


def series_table(series: dict) -> pa.Table:
    """A run's kept time series (column -> values) as an Arrow table: ``t`` first, integers as int64."""
    arrays = {}
    for column, values in series.items():
        if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
            arrays[column] = pa.array(values, type=pa.int64())
        else:
            arrays[column] = pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.table(arrays)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that a reader sees the old file or the whole new one, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_record(path: Path) -> dict:
    """A manifest or run file of the folder; ``{}`` when damaged (binary, cut short, not an object), so
    a damaged run is simply run again and a damaged manifest is treated as a foreign sweep."""
    try:
        record = read_json(path, "sweep record", MAX_SUMMARY_BYTES, ScenarioError)
    except ScenarioError:
        return {}
    return record if isinstance(record, dict) else {}


class Store:
    def __init__(self, sweep: Sweep, out: Path):
        self.sweep, self.out = sweep, Path(out)
        self.runs_dir = self.out / "runs"
        self._points = {point.id: point for point in sweep.points}
        #: Messages for the user about what was found in the folder.
        self.notes: list[str] = []

    # ------------------------------------------------------------------ opening

    def open(self, *, restart: bool = False) -> dict[str, dict]:
        """Prepare the folder and return the finished runs of this design that it already holds, by run id."""
        manifest_path = self.out / "sweep.json"
        if self.out.exists() and not self.out.is_dir():
            raise ScenarioError(f"{self.out}: exists and is not a folder")
        if (self.out.is_dir() and any(p.name != ".lock" for p in self.out.iterdir())
                and not manifest_path.is_file()):
            raise ScenarioError(f"{self.out}: exists, is not empty and holds no sweep (no sweep.json); "
                                "choose another --out")
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock()
        if manifest_path.is_file():
            old = _read_record(manifest_path)
            if restart:
                kept = len(list(self.runs_dir.glob("*.json"))) if self.runs_dir.is_dir() else 0
                self.clear()
                self.notes.append(f"--restart: discarded {kept} earlier run files in {self.out}")
            elif old.get("base_hash") != self.sweep.base_hash or old.get("format") != FORMAT:
                count = len(list(self.runs_dir.glob("*.json"))) if self.runs_dir.is_dir() else 0
                raise ScenarioError(
                    f"{self.out}: holds {count} runs of a different sweep (its base scenario, overrides, backend or "
                    f"varied parameters differ: base hash {str(old.get('base_hash'))[:12]} here, "
                    f"{self.sweep.base_hash[:12]} in {self.sweep.path}); rerun with --restart to discard them, "
                    "or choose another --out")
            elif old.get("design_hash") != self.sweep.design_hash:
                self.notes.append(f"{self.out}: the sweep's points or seeds changed since it was last run there; "
                                  "runs that belong to the new design are reused, the others are left out")
        self.runs_dir.mkdir(exist_ok=True)
        for stale in [*self.runs_dir.glob(".*.tmp"), *self.out.glob(".*.tmp"),
                      *self.out.glob("series/*/*/.*.tmp")]:  # writes cut short by a kill
            stale.unlink(missing_ok=True)
        done = self.load_runs()
        self.write_manifest("running")
        write_atomic(self.out / "sweep.toml", self.sweep.text)
        points_dir = self.out / "points"
        points_dir.mkdir(exist_ok=True)
        for point in self.sweep.points:
            target = points_dir / f"{point.id}.toml"
            text = dump(point.scenario)
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                write_atomic(target, text)
        return done

    def _lock(self) -> None:
        """One sweep at a time per folder: a second invocation on the same folder is refused while this one runs."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no guard
            return
        self._lock_handle = open(self.out / ".lock", "w")
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_handle.close()
            self._lock_handle = None
            raise ScenarioError(f"{self.out}: another sweep is running in this folder; wait for it or choose "
                                "another --out") from None

    def close(self) -> None:
        """Release the folder (the lock also goes when the process ends, however it ends)."""
        if getattr(self, "_lock_handle", None) is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def clear(self) -> None:
        for name in OUTPUT_FILES:
            (self.out / name).unlink(missing_ok=True)
        for name in OUTPUT_DIRS:
            shutil.rmtree(self.out / name, ignore_errors=True)

    def load_runs(self) -> dict[str, dict]:
        """Finished runs of the current design found in ``runs/``; unreadable or foreign files are ignored."""
        wanted = {self.sweep.run_id(point, seed): (point, seed) for point, seed in self.sweep.runs}
        done, outside, other_code = {}, 0, 0
        for path in sorted(self.runs_dir.glob("*.json")):
            run_id = path.stem
            if run_id not in wanted:
                outside += 1
                continue
            record = _read_record(path)
            point, seed = wanted[run_id]
            if (record.get("base_hash") != self.sweep.base_hash or record.get("values") != point.values
                    or record.get("seed") != seed or not isinstance(record.get("metrics"), dict)
                    or any(m not in record["metrics"] for m in self.sweep.metrics)
                    or not self._has_series(point.id, seed)):
                continue
            done[run_id] = record
            other_code += record.get("code") != code_fingerprint()
        if other_code:
            self.notes.append(f"{other_code} of the runs reused from {self.runs_dir} were computed by other "
                              "simulator code than this checkout's (their digests may differ); --restart "
                              "recomputes everything")
        if outside:
            self.notes.append(f"{outside} run files in {self.runs_dir} are not part of this design and are left out")
        return done

    def _has_series(self, point: str, seed: int) -> bool:
        if self.sweep.series is None:
            return True
        path = series_path(self.out, point, seed)
        try:
            return set(self.sweep.series.columns) <= set(pq.read_schema(path).names)
        except (OSError, pa.ArrowException):
            return False

    # ------------------------------------------------------------------ writing

    def write_run(self, answer: dict) -> dict:
        """Persist a finished run (atomically) and return the record as stored."""
        point = self._points[answer["point"]]
        record = {
            "format": FORMAT,
            "sweep": self.sweep.name,
            "base_hash": self.sweep.base_hash,
            "run": answer["run"],
            "point": point.id,
            "values": point.values,
            "seed": answer["seed"],
            "metrics": answer["metrics"],
            "digest": answer["digest"],
            "events": answer["events"],
            "first_violations": answer.get("first_violations", []),
            "code": answer.get("code"),
            "wall_s": answer.get("wall_s"),
        }
        if answer.get("series") is not None:  # before the run file: a run file means the run is whole
            path = series_path(self.out, point.id, answer["seed"])
            path.parent.mkdir(parents=True, exist_ok=True)
            sink = io.BytesIO()
            pq.write_table(series_table(answer["series"]), sink, compression="zstd")
            write_bytes_atomic(path, sink.getvalue())
        write_atomic(self.runs_dir / f"{answer['run']}.json", json.dumps(record, indent=1) + "\n")
        return record

    def write_manifest(self, status: str, **extra) -> None:
        s = self.sweep
        manifest = {
            "format": FORMAT,
            "name": s.name,
            "sweep_file": str(s.path),
            "status": status,
            "base_hash": s.base_hash,
            "design_hash": s.design_hash,
            "scenario": s.scenario_source,
            "backend": s.backend,
            "engine": s.engine,
            "design": {"kind": s.design, "count": s.count, "seed": s.design_seed, **s.options,
                       "parameters": [p.as_dict() for p in s.params]},
            "series": {"columns": list(s.series.columns), "bands": list(s.series.bands)} if s.series else None,
            "modules": [name for name, _ in s.modules],
            "seeds": list(s.seeds),
            "points": [{"id": p.id, "values": p.values} for p in s.points],
            "runs_total": len(s.points) * len(s.seeds),
            "code": code_fingerprint(),
        }
        manifest.update(extra)
        write_atomic(self.out / "sweep.json", json.dumps(manifest, indent=2) + "\n")
