"""Reading what a run folder holds: ``summary.json`` and ``metrics.csv`` (docs/run-folder.md).

Both are small. A missing or unreadable file is not an error here: the report says what is
missing and shows the rest (an interrupted run may have stopped before writing everything).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from attrs import define, field


@define
class Summary:
    """``summary.json`` as read, plus what went wrong reading it (``problem``)."""

    data: dict
    problem: str | None = None

    @property
    def complete(self) -> bool:
        return self.data.get("complete") is True

    def get(self, *keys, default=None):
        """A nested value, ``default`` where any level is missing or null."""
        node = self.data
        for key in keys:
            if not isinstance(node, dict) or node.get(key) is None:
                return default
            node = node[key]
        return node


def read_summary(run_dir: Path) -> Summary:
    path = run_dir / "summary.json"
    if not path.exists():
        return Summary({}, "summary.json is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Summary({}, f"summary.json is not valid JSON ({exc})")
    if not isinstance(data, dict):
        return Summary({}, "summary.json does not hold a JSON object")
    return Summary(data)


def _cell(text: str):
    """A metrics cell: int, float, or None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


@define
class Metrics:
    """``metrics.csv`` column by column; a column the file lacks reads as all ``None``."""

    columns: dict[str, list] = field(factory=dict)
    rows: int = 0
    problem: str | None = None

    def column(self, name: str) -> list:
        return self.columns.get(name, [None] * self.rows)

    def has(self, name: str) -> bool:
        """Whether the column holds at least one value."""
        return any(v is not None for v in self.columns.get(name, ()))

    def last(self, name: str):
        """The last non-empty value of a column."""
        for v in reversed(self.columns.get(name, ())):
            if v is not None:
                return v
        return None

    def days(self) -> list[float]:
        return [t / 86_400 for t in self.column("t")]

    def series(self, name: str) -> tuple[list[float], list]:
        """(days, values) of a column, keeping only rows where it has a value."""
        pairs = [(t / 86_400, v) for t, v in zip(self.column("t"), self.column(name))
                 if t is not None and v is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def read_metrics(run_dir: Path) -> Metrics:
    path = run_dir / "metrics.csv"
    if not path.exists():
        return Metrics(problem="metrics.csv is missing")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            return Metrics(problem="metrics.csv is empty")
        names = [h.strip() for h in header]
        if "t" not in names:
            return Metrics(problem="metrics.csv has no t column")
        t_index = names.index("t")
        columns: dict[str, list] = {name: [] for name in names}
        rows = 0
        for raw in reader:
            if len(raw) != len(names):  # a torn line: lines are written whole, but be safe
                continue
            cells = [_cell(c) for c in raw]
            if cells[t_index] is None:
                continue
            for name, v in zip(names, cells):
                columns[name].append(v)
            rows += 1
    return Metrics(columns, rows)
