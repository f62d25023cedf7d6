"""Running the API: in the foreground (``rbtc-sim serve``) or in a background thread (``--serve``).

uvicorn is the server (httptools for HTTP/1.1 parsing when installed, h11 otherwise). Everything that
can be wrong with what it is asked to serve is found before it starts, each as one
:class:`~sim.exits.BadInput` line (exit status 2): a path that is neither a run folder nor a database,
a database that cannot be reached or was never indexed, a port out of range or in use, a host that
does not resolve. A server that starts therefore never answers 500 for its configuration.
"""

from __future__ import annotations

import errno
import json
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

from sim.api.app import create_app
from sim.exits import BadInput
from sim.indexer.db import sqlite_url

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def _index(source: Path) -> None:
    """Bring the index beside ``source`` (a run folder or its events.jsonl) up to date with its log.
    The index is derived data: one written by another version of the indexer, or from another log,
    is rebuilt from this log rather than refused."""
    from sim.indexer import IndexerError, index_run

    try:
        index_run(source)
    except IndexerError as exc:
        folder = source if source.is_dir() else source.parent
        print(f"rbtc-sim: rebuilding {folder / 'index.sqlite'} from the log ({exc})", file=sys.stderr)
        for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
            (folder / name).unlink(missing_ok=True)
        try:
            index_run(source)
        except (IndexerError, ValueError, KeyError, TypeError) as again:
            raise BadInput(f"{source}: its event log cannot be indexed ({again})") from None
    except (ValueError, KeyError, TypeError) as exc:  # a log that is not one (JSON errors are ValueErrors)
        raise BadInput(f"{source}: not an event log written by rbtc-sim ({type(exc).__name__}: {exc})") from None


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
        return head in (_SQLITE_MAGIC, b"")  # SQLite takes an empty file for an empty database
    except OSError:
        return False


def prepare_target(target: str | Path, *, index: bool = True) -> str:
    """The database URL for ``target``: a run folder (its ``index.sqlite``, brought up to date with its
    ``events.jsonl`` first), an ``events.jsonl`` (indexed into ``index.sqlite`` beside it), an SQLite
    file, or a database URL (used as it is). Anything else is :class:`BadInput`."""
    text = str(target)
    if "://" in text:
        return text
    path = Path(text)
    if path.is_dir():
        events, db = path / "events.jsonl", path / "index.sqlite"
        if events.is_file():
            if index:
                _index(path)
        elif not db.is_file():
            raise BadInput(f"{path}: not a run folder (neither events.jsonl nor index.sqlite in it)")
        return sqlite_url(db)
    if path.is_file():
        if path.suffix == ".jsonl":
            if index:
                _index(path)
            return sqlite_url(path.parent / "index.sqlite")
        if not _is_sqlite(path):
            raise BadInput(f"{path}: not a run folder, an events.jsonl or an SQLite database (a plain file)")
        return sqlite_url(path)
    raise BadInput(f"{text}: no such file or folder (expected a run folder, an events.jsonl, an SQLite file or a "
                   "database URL)")


def check_database(db_url: str) -> None:
    """Refuse a database that cannot be reached, or that holds no index of this version."""
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from sim.indexer import schema
    from sim.indexer.db import make_engine

    shown = db_url.split("@")[-1] if "@" in db_url else db_url  # never print a password
    try:
        engine = make_engine(db_url)
    except (ArgumentError, ValueError, ImportError) as exc:  # bogus://, a malformed URL, a missing driver
        raise BadInput(f"{shown}: not a database URL SQLAlchemy can open ({type(exc).__name__}: {exc})") from None
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(schema.indexer_meta.name):
                raise BadInput(f"{shown}: the database holds no index (no {schema.indexer_meta.name} table); "
                               "index a run into it first")
            version = conn.execute(select(schema.indexer_meta.c.value)
                                   .where(schema.indexer_meta.c.key == "schema_version")).scalar_one_or_none()
            if version is not None and json.loads(version) != schema.SCHEMA_VERSION:
                raise BadInput(f"{shown}: indexed with schema version {json.loads(version)}, this server reads "
                               f"version {schema.SCHEMA_VERSION}; re-index it")
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        raise BadInput(f"{shown}: cannot reach the database ({reason})") from None
    finally:
        engine.dispose()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready socket bound to ``host:port``; a bad host, a port out of range or in use is
    :class:`BadInput`. ``port=0`` picks a free port."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65_535:
        raise BadInput(f"--port {port!r}: out of range (expected 0 to 65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise BadInput(f"--host {host!r}: not an address this machine can listen on ({exc})") from None
    family, _, proto, _, address = infos[0]
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says so, and without it every response waits out a 40 ms delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BadInput(f"port {port} on {host} is in use (choose another with --port)") from None
        raise BadInput(f"--host {host!r} --port {port}: cannot listen there ({exc.strerror or exc})") from None
    return sock


def serve(target: str | Path, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info",
          access_log: bool = False, announce: bool = True) -> None:
    """Serve the API and the dashboard for ``target`` (see :func:`prepare_target`) until interrupted
    (Ctrl-C). Every start-up problem is :class:`BadInput`, raised before anything is served."""
    sock = bind_socket(host, port)  # first: a taken port fails before a long indexing
    try:
        db_url = prepare_target(target)
        check_database(db_url)
        path = Path(str(target))
        run_dir = path if path.is_dir() else (path.parent if path.suffix == ".jsonl" else None)
        app = create_app(db_url, run_dir=run_dir)
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, http=_http_impl(), lifespan="off")
    shown = f"[{host}]" if ":" in host else host
    if announce:
        print(f"rbtc-sim: serving {target} at http://{shown}:{sock.getsockname()[1]}/ (the dashboard; the API under "
              "/api/realtime/, its description at /docs); Ctrl-C to stop", file=sys.stderr)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


class BackgroundServer:
    """A uvicorn server on its own thread (own event loop); :meth:`stop` shuts it down."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket, host: str):
        self.server, self.thread, self._socket = server, thread, sock
        self.host = host
        self.port = sock.getsockname()[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self._socket.close()
        if self.thread.is_alive():
            raise RuntimeError(f"the API server on {self.url} did not stop within {timeout} s")

    def wait(self) -> None:
        """Block until the server stops (or Ctrl-C, which propagates)."""
        while self.thread.is_alive():
            self.thread.join(0.5)

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_background(db_url: str, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False,
                     log_level: str = "warning", startup_timeout: float = 15.0, **app_options) -> BackgroundServer:
    """Start serving ``db_url`` in a daemon thread and return once it accepts connections.

    ``port=0`` picks a free port (``handle.port``, ``handle.url``). The socket is bound here, before
    the thread starts, so a port that is taken fails at once (:class:`BadInput`). uvicorn's logging
    configuration is left alone (``log_config=None``): the host process keeps its own.
    """
    sock = bind_socket(host, port)
    try:
        app = create_app(db_url, **app_options)
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, http=_http_impl(), lifespan="off",
                            log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="rbtc-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError(f"the API server on {host}:{sock.getsockname()[1]} failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start within {startup_timeout} s")
        time.sleep(0.01)
    return BackgroundServer(server, thread, sock, host)


class LiveServer:
    """The API serving a world's index while a live indexer writes it (``rbtc-sim run --serve``)."""

    def __init__(self, server: BackgroundServer, indexer):
        self.server, self.indexer = server, indexer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def flush(self) -> None:
        """Commit what the indexer holds (after the run, so the API serves it to the end)."""
        self.indexer.flush()

    def wait(self) -> None:
        """Flush, then serve until Ctrl-C (``--keep-serving``)."""
        self.flush()
        self.server.wait()

    def stop(self) -> None:
        """Commit and close the indexer, then stop the server."""
        try:
            self.indexer.close()
        finally:
            self.server.stop()


def serve_world(world, run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, *,
                db_url: str | None = None, batch_size: int = 2_000, max_delay_s: float = 1.0) -> LiveServer:
    """Index ``world``'s log live into ``run_dir/index.sqlite`` (or ``db_url``) and serve it from a
    background thread. Call it once the world is built (it catches up on the records so far, from
    ``run_dir/events.jsonl`` when the log keeps none in memory); :meth:`LiveServer.stop` at the end."""
    from sim.api.proofs import LiveSnapshots
    from sim.indexer import LiveIndexer

    run_dir = Path(run_dir)
    url = db_url or sqlite_url(run_dir / "index.sqlite")
    live = LiveIndexer(url, batch_size=batch_size, max_delay_s=max_delay_s).attach(
        world.log, events_path=run_dir / "events.jsonl")
    try:
        server = start_background(url, host, port, run_dir=run_dir, snapshots=LiveSnapshots().attach(world),
                                  log_count=lambda: world.log.count, world_clock=lambda: int(world.env.now))
    except BaseException:
        live.close()
        raise
    return LiveServer(server, live)
