"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, on a free loopback port.

The server binaries come from PATH or Debian's layout (``/usr/lib/postgresql/<version>/bin``;
``apt-get install -y postgresql`` provides them). PostgreSQL refuses to run as root, so under root
the cluster is owned by, and run as, the ``postgres`` account (``nobody`` if there is none) through
``runuser``. The cluster trusts local connections, skips fsync, and is removed on :meth:`stop`.

:func:`start_or_reason` returns either a running :class:`PgCluster` or the reason none could be
started, which the tests turn into an explicit skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = "install the server with `apt-get install -y postgresql`"


def _binary(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[4].split(".")])
    if candidates:
        return candidates[-1]
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists to run the server")


class PgCluster:
    def __init__(self):
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            raise FileNotFoundError(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")
        self.user = _run_as()
        self.dir = Path(tempfile.mkdtemp(prefix="rbtc-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.started = False

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return prefix + list(args)

    def start(self) -> "PgCluster":
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        subprocess.run(self._cmd(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                 "--no-sync"), check=True, capture_output=True, text=True, env=env, timeout=120)
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        subprocess.run(self._cmd(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w",
                                 "-t", "60", "start"), check=True, capture_output=True, text=True, env=env, timeout=120)
        self.started = True
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        """A fresh, empty database on this server; returns its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.started:
            subprocess.run(self._cmd(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"),
                           capture_output=True, timeout=60)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


def start_or_reason() -> tuple[PgCluster | None, str | None]:
    """``(cluster, None)`` with a running server, or ``(None, why not)``."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        return None, f"the psycopg driver is not installed ({exc}); install psycopg[binary]"
    try:
        cluster = PgCluster()
    except (FileNotFoundError, RuntimeError) as exc:
        return None, str(exc)
    try:
        return cluster.start(), None
    except subprocess.CalledProcessError as exc:
        log = cluster.log.read_text(errors="replace")[-2000:] if cluster.log.exists() else ""
        cluster.stop()
        return None, f"could not start PostgreSQL ({' '.join(exc.cmd[:6])}…): {exc.stderr or ''} {log}".strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        return None, f"could not start PostgreSQL: {exc}"
