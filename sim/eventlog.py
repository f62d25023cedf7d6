"""The world's event log: every thing that happens, in order, as canonical JSON, with a running digest.

A record is a flat JSON object with ``seq`` (0, 1, 2, …), ``t`` (simulated seconds since genesis,
an integer) and ``kind``, plus the kind's own fields. Serialisation is canonical (sorted keys, no
spaces, bytes as ``0x`` hex), so the SHA-256 digest over all lines is the same on every machine for
the same scenario, seed and code; tests pin it.

Records can be streamed to a file as they come (``events.jsonl``); lines are flushed in batches so
an interrupted run leaves every complete line it wrote.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import IO, Any


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value) if isinstance(value, tuple) else sorted(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot put {type(value).__name__} in the event log: {value!r}")


def canonical(record: dict) -> str:
    """The one serialisation of a record that the digest is computed over."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=_default, allow_nan=False)


class EventLog:
    """Append-only log with a running SHA-256 digest; optionally mirrored to a JSONL file."""

    def __init__(self, path: Path | str | None = None, *, keep: bool = True, flush_every: int = 2048):
        self._digest = hashlib.sha256()
        self.count = 0
        self.keep = keep
        self.records: list[dict] = []
        self._file: IO[str] | None = open(path, "w", encoding="utf-8") if path is not None else None
        self._pending: list[str] = []
        self._flush_every = flush_every
        self._listeners: list = []

    def subscribe(self, listener) -> None:
        """Call ``listener(record)`` for every record appended from now on (metrics, indexer, progress…)."""
        self._listeners.append(listener)

    def append(self, t: int, kind: str, **fields: Any) -> dict:
        record = {"seq": self.count, "t": t, "kind": kind, **fields}
        line = canonical(record)
        self._digest.update(line.encode())
        self._digest.update(b"\n")
        self.count += 1
        if self.keep:
            self.records.append(record)
        if self._file is not None:
            self._pending.append(line)
            if len(self._pending) >= self._flush_every:
                self.flush()
        for listener in self._listeners:
            listener(record)
        return record

    @property
    def digest(self) -> str:
        """SHA-256 over every line so far (hex)."""
        return self._digest.hexdigest()

    def flush(self) -> None:
        if self._file is not None and self._pending:
            self._file.write("\n".join(self._pending) + "\n")
            self._file.flush()
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


def digest_of_file(path: Path | str) -> str:
    """The digest of an ``events.jsonl`` written by :class:`EventLog` (for ``replay`` and checks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for line in handle:
            digest.update(line.rstrip(b"\n"))
            digest.update(b"\n")
    return digest.hexdigest()


def first_difference(recorded: Path | str, replayed: Path | str) -> tuple[int, str | None, str | None] | None:
    """The first line (1-based) where two event logs differ, with both lines (``None`` past a log's
    end); ``None`` when they are the same line for line. Streams both files."""
    with open(recorded, "rb") as left, open(replayed, "rb") as right:
        number = 0
        while True:
            a, b = left.readline(), right.readline()
            number += 1
            if a.rstrip(b"\n") != b.rstrip(b"\n") or bool(a) != bool(b):
                decode = lambda line: line.rstrip(b"\n").decode("utf-8", "replace") if line else None  # noqa: E731
                return number, decode(a), decode(b)
            if not a:
                return None
