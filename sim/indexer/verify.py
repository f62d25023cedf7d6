"""Checking an index: table digests, comparisons, and rebuild-from-the-log.

A table's digest is the SHA-256 of its rows in primary-key order, each row the canonical JSON of its
values as Python reads them through the schema's types (so an SQLite index and a PostgreSQL index of
the same log have the same digests). Two databases hold the same contents exactly when every
table's digest matches.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from sim.indexer import schema as s
from sim.indexer.db import make_engine


def _engine(db: str | Engine) -> tuple[Engine, bool]:
    if isinstance(db, Engine):
        return db, False
    return make_engine(db), True


def _rows(conn, table):
    return conn.execute(select(table).order_by(*table.primary_key.columns))


def table_digests(db: str | Engine) -> dict[str, dict]:
    """``{table: {"rows": n, "sha256": hex}}`` for every protocol table (not the indexer's meta)."""
    engine, own = _engine(db)
    out = {}
    try:
        with engine.connect() as conn:
            for table in s.PROTOCOL_TABLES:
                digest = hashlib.sha256()
                count = 0
                for row in _rows(conn, table):
                    digest.update(json.dumps(list(row), separators=(",", ":")).encode())
                    digest.update(b"\n")
                    count += 1
                out[table.name] = {"rows": count, "sha256": digest.hexdigest()}
    finally:
        if own:
            engine.dispose()
    return out


def table_contents(db: str | Engine) -> dict[str, list[tuple]]:
    """Every protocol table's rows in primary-key order (for small databases and test diffs)."""
    engine, own = _engine(db)
    try:
        with engine.connect() as conn:
            return {table.name: [tuple(r) for r in _rows(conn, table)] for table in s.PROTOCOL_TABLES}
    finally:
        if own:
            engine.dispose()


def last_seq(db: str | Engine) -> int:
    engine, own = _engine(db)
    try:
        with engine.connect() as conn:
            value = conn.execute(select(s.indexer_meta.c.value).where(s.indexer_meta.c.key == "last_seq")) \
                .scalar_one_or_none()
            return -1 if value is None else json.loads(value)
    finally:
        if own:
            engine.dispose()


def compare_digests(a: dict[str, dict], b: dict[str, dict], labels: tuple[str, str] = ("a", "b")) -> list[str]:
    """The tables whose contents differ, each as a readable line (empty: identical)."""
    problems = []
    for name in sorted(set(a) | set(b)):
        left, right = a.get(name), b.get(name)
        if left != right:
            problems.append(f"{name}: {labels[0]} has {left and left['rows']} rows "
                            f"(sha256 {left and left['sha256'][:12]}), {labels[1]} has {right and right['rows']} rows "
                            f"(sha256 {right and right['sha256'][:12]})")
    return problems


def compare_contents(a: dict[str, list[tuple]], b: dict[str, list[tuple]], limit: int = 5) -> list[str]:
    """Row-level differences between two :func:`table_contents` results (at most ``limit`` per table)."""
    problems = []
    for name in sorted(set(a) | set(b)):
        left, right = set(a.get(name, [])), set(b.get(name, []))
        if left == right and len(a.get(name, [])) == len(b.get(name, [])):
            continue
        only_left, only_right = sorted(left - right, key=repr), sorted(right - left, key=repr)
        problems.append(f"{name}: {len(a.get(name, []))} vs {len(b.get(name, []))} rows; "
                        f"only in first: {only_left[:limit]}; only in second: {only_right[:limit]}")
    return problems


def rebuild_check(run_dir: Path | str, db_url: str | None = None, *, batch_size: int | None = None) -> dict:
    """Drop the run's index and rebuild it from ``events.jsonl``; report whether the contents match.

    Returns ``{"identical": bool, "differences": [...], "before": digests, "after": digests,
    "stats": index_run stats}``. The database (default: the run folder's ``index.sqlite``) must hold a
    complete index of the same log before the call; it holds the rebuilt one after.
    """
    from sim.indexer.indexer import DEFAULT_BATCH, index_run, resolve_run

    events, url = resolve_run(run_dir, db_url)
    engine = make_engine(url)
    try:
        before = table_digests(engine)
        before_seq = last_seq(engine)
        s.drop_schema(engine)
    finally:
        engine.dispose()
    stats = index_run(events, url, batch_size=batch_size or DEFAULT_BATCH)
    after = table_digests(url)
    differences = compare_digests(before, after, ("before", "rebuilt"))
    if before_seq != stats["last_seq"]:
        differences.append(f"last indexed seq: {before_seq} before, {stats['last_seq']} after the rebuild")
    return {"identical": not differences, "differences": differences, "before": before, "after": after,
            "stats": stats}
