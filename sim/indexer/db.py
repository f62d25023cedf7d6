"""Database plumbing shared by the indexer and the API: engines, URLs, portable writes.

Any SQLAlchemy URL works. SQLite (the default, a file inside the run folder) is opened in WAL mode
so the API can read while the indexer writes, with ``synchronous=NORMAL`` (a crash can lose the
last commits but never corrupts the file or half-applies one) and a busy timeout so a reader and
the writer wait for each other instead of failing. PostgreSQL is reached through psycopg 3
(``postgresql+psycopg://…``; a bare ``postgresql://`` URL is given that driver).

Writes go through two helpers: :func:`insert_ignore` (append-only rows; a row whose primary key is
present is skipped) and :func:`upsert` (state rows; the new values replace the old). SQLite and
PostgreSQL get their native ``INSERT … ON CONFLICT``; other dialects get a portable fallback.
"""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path

from sqlalchemy import Table, create_engine, delete, event, insert, tuple_
from sqlalchemy.engine import Connection, Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Page cache per SQLite connection (KiB): the whole index of a 10,000-user week stays in memory.
SQLITE_CACHE_KIB = 131_072


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def normalise_url(db_url: str) -> str:
    """Give bare PostgreSQL URLs the psycopg 3 driver."""
    if db_url.startswith("postgresql://") or db_url.startswith("postgres://"):
        return "postgresql+psycopg://" + db_url.split("://", 1)[1]
    return db_url


def make_engine(db_url: str, **kwargs) -> Engine:
    """An engine for ``db_url``; SQLite connections are switched to WAL with a busy timeout."""
    url = normalise_url(db_url)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if ":memory:" not in url and "mode=memory" not in url:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            cursor.execute("PRAGMA wal_autocheckpoint = 10000")
            cursor.close()

    return engine


def _dialect_insert(conn: Connection, table: Table):
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        return None
    return dialect_insert(table)


def _key_columns(table: Table) -> list:
    return list(table.primary_key.columns)


def _delete_keys(conn: Connection, table: Table, rows: list[dict]) -> None:
    keys = _key_columns(table)
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        if len(keys) == 1:
            conn.execute(delete(table).where(keys[0].in_([r[keys[0].name] for r in chunk])))
        else:
            conn.execute(delete(table).where(tuple_(*keys).in_([tuple(r[k.name] for k in keys) for r in chunk])))


_COMPILED: dict[tuple, tuple] = {}


def _execute_many(conn: Connection, stmt, table: Table, rows: list[dict], cache_key: tuple) -> None:
    """``executemany`` straight through the DB-API cursor with a statement compiled once.

    SQLAlchemy's per-row parameter processing costs more than SQLite's own insert; the rows here
    always carry every column, and the only conversion they need is :class:`BigNumber` to text,
    so the statement is compiled once per (dialect, table, kind) and the rows passed as they are.
    """
    from sim.indexer.schema import BigNumber

    key = (conn.dialect.name, conn.dialect.paramstyle, table.name) + cache_key
    entry = _COMPILED.get(key)
    if entry is None:
        compiled = stmt.compile(dialect=conn.dialect)
        names = list(compiled.positiontup) if compiled.positional else None
        big = {c.name for c in table.columns if isinstance(c.type, BigNumber)}
        entry = (compiled.string, names, big)
        _COMPILED[key] = entry
    sql, names, big = entry
    if names is not None:
        getter = itemgetter(*names)
        positions = [i for i, n in enumerate(names) if n in big]
        if positions:
            params = []
            for r in rows:
                values = list(getter(r))
                for i in positions:
                    if values[i] is not None:
                        values[i] = str(values[i])
                params.append(tuple(values))
        else:
            params = [getter(r) for r in rows]
    elif big:
        params = [{k: (None if v is None else str(v)) if k in big else v for k, v in r.items()} for r in rows]
    else:
        params = rows
    conn.exec_driver_sql(sql, params)


def insert_ignore(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert ``rows``; a row whose primary key already exists is left as it is."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    if stmt is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=[c.name for c in _key_columns(table)])
        _execute_many(conn, stmt, table, rows, ("ignore",))
        return
    # Portable fallback: find the keys that exist, insert the others.
    from sqlalchemy import select

    keys = _key_columns(table)
    present: set = set()
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        if len(keys) == 1:
            query = select(keys[0]).where(keys[0].in_([r[keys[0].name] for r in chunk]))
            present.update((k,) for k in conn.execute(query).scalars())
        else:
            query = select(*keys).where(tuple_(*keys).in_([tuple(r[k.name] for k in keys) for r in chunk]))
            present.update(tuple(row) for row in conn.execute(query))
    fresh = [r for r in rows if tuple(r[k.name] for k in keys) not in present]
    if fresh:
        conn.execute(insert(table), fresh)


def upsert(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert ``rows``, replacing every non-key column of a row whose primary key exists."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    if stmt is not None:
        keys = {c.name for c in _key_columns(table)}
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=sorted(keys), set_=updates)
        _execute_many(conn, stmt, table, rows, ("upsert",))
        return
    _delete_keys(conn, table, rows)
    conn.execute(insert(table), rows)
