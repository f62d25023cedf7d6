"""Running the API: in the foreground (``rbtc-sim serve``) or in a background thread (``--serve``).

uvicorn is the server (httptools for HTTP/1.1 parsing when installed, h11 otherwise).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from sim.api.app import create_app
from sim.indexer.db import sqlite_url


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def prepare_target(target: str | Path, *, index: bool = True) -> str:
    """The database URL for ``target``: a run folder (its ``index.sqlite``, brought up to date with its
    ``events.jsonl`` first), an ``events.jsonl`` (indexed into ``index.sqlite`` beside it), an SQLite
    file, or a database URL (used as it is)."""
    text = str(target)
    if "://" in text:
        return text
    path = Path(text)
    if path.is_dir():
        events, db = path / "events.jsonl", path / "index.sqlite"
        if events.exists():
            if index:
                from sim.indexer import index_run

                index_run(path)
        elif not db.exists():
            raise FileNotFoundError(f"{path}: neither events.jsonl nor index.sqlite there; is it a run folder?")
        return sqlite_url(db)
    if path.is_file():
        if path.suffix == ".jsonl":
            if index:
                from sim.indexer import index_run

                index_run(path)
            return sqlite_url(path.parent / "index.sqlite")
        return sqlite_url(path)
    raise FileNotFoundError(f"{text}: not a run folder, an events.jsonl, an SQLite file or a database URL")


def serve(target: str | Path, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info",
          access_log: bool = False) -> None:
    """Serve the API for ``target`` (see :func:`prepare_target`) until interrupted (Ctrl-C)."""
    db_url = prepare_target(target)
    app = create_app(db_url)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                            http=_http_impl(), lifespan="off")
    uvicorn.Server(config).run()


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
    the thread starts, so a port that is taken fails at once with ``OSError``. uvicorn's logging
    configuration is left alone (``log_config=None``): the host process keeps its own.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says so, and without it every response waits out a 40 ms delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    app = create_app(db_url, **app_options)
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
    from sim.indexer import LiveIndexer

    run_dir = Path(run_dir)
    url = db_url or sqlite_url(run_dir / "index.sqlite")
    live = LiveIndexer(url, batch_size=batch_size, max_delay_s=max_delay_s).attach(
        world.log, events_path=run_dir / "events.jsonl")
    try:
        server = start_background(url, host, port)
    except BaseException:
        live.close()
        raise
    return LiveServer(server, live)
