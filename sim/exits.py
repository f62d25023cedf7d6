"""The one place that decides a command's exit status, for every ``rbtc-sim`` command.

==========  ===========================================================================
status      meaning
==========  ===========================================================================
0           everything held (a clean run, a valid proof, a matching replay, …)
1           an invariant was violated (or a replay, a proof, a check found a difference)
2           bad input: one line on stderr naming the input, what was wrong and what was expected
3           the harness itself failed: one line on stderr naming a crash-report file that
            holds the traceback, the command line and the versions
4           not verified: ``verify-proof`` without a trusted root (``--root``/``--run``) found the
            document self-consistent, which proves nothing (anyone can forge a consistent one)
130         interrupted (Ctrl-C or SIGTERM); whatever was written is kept, marked incomplete
==========  ===========================================================================

Commands raise :class:`BadInput` (or one of the input errors in :data:`BAD_INPUT_ERRORS`) for bad
input and return :data:`VIOLATION` for a violation; :func:`guarded` turns everything else into
status 3 with a crash report, so no command ever shows a raw traceback.
"""

from __future__ import annotations

import datetime
import os
import platform
import signal
import sys
import tempfile
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

OK, VIOLATION, BAD_INPUT, HARNESS_FAILURE, UNVERIFIED, INTERRUPTED = 0, 1, 2, 3, 4, 130

#: Where crash reports go: ``$RBTC_CRASH_DIR`` if set, else ``reports/crashes`` beside the project,
#: else the system's temporary directory.
CRASH_DIR_ENV = "RBTC_CRASH_DIR"


class BadInput(Exception):
    """Input a command cannot use; the message is the one line to print."""


@contextmanager
def sigterm_as_interrupt():
    """A ``kill`` (SIGTERM) stops a command like Ctrl-C does, so what it wrote is kept and marked
    incomplete. Only in the main thread (signal handlers can only be set there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """Every exception class that means "bad input" (imported lazily: this module imports nothing heavy)."""
    from contracts_model.deployment import DeploymentError
    from sim.protocol.artifacts import ArtifactError
    from sim.protocol.deviations import DeviationError
    from sim.scenario import ScenarioError

    return (BadInput, ScenarioError, ArtifactError, DeploymentError, DeviationError)


def _crash_dir() -> Path:
    chosen = os.environ.get(CRASH_DIR_ENV)
    candidates = [Path(chosen)] if chosen else []
    candidates += [Path(__file__).resolve().parents[1] / "reports" / "crashes",
                   Path(tempfile.gettempdir()) / "rbtc-sim-crashes"]
    for directory in candidates:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = directory / f".probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
            return directory
        except OSError:
            continue
    return Path(tempfile.gettempdir())


def _versions() -> str:
    from importlib import metadata

    names = ("rbtc-sim", "py-evm", "eth-abi", "hypothesis", "simpy", "numpy", "attrs", "pyrevm", "starlette")
    found = []
    for name in names:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return " ".join(found)


def write_crash_report(exc: BaseException, argv: list[str] | None = None, context: str = "") -> Path:
    """Write the traceback and what led to it to a new file; return its path."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = _crash_dir() / f"crash-{stamp}-{os.getpid()}.txt"
    lines = [
        f"rbtc-sim crash report, {stamp}",
        f"command: {' '.join(argv if argv is not None else sys.argv)}",
        f"python: {sys.version.split()[0]} on {platform.platform()}",
        f"packages: {_versions()}",
    ]
    if context:
        lines.append(f"context: {context}")
    lines += ["", "".join(traceback.format_exception(exc))]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def one_line(text: str) -> str:
    """``text`` folded onto one line (messages may quote values that contain newlines)."""
    return " ".join(str(text).split())


def guarded(function: Callable[[], int], *, prog: str = "rbtc-sim", argv: list[str] | None = None) -> int:
    """Run a command's body and map what it raises onto the exit statuses of this module."""
    try:
        status = function()
    except bad_input_errors() as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; what was written so far is kept and marked incomplete", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place every other failure becomes status 3
        path = write_crash_report(exc, argv)
        print(f"{prog}: internal error ({type(exc).__name__}); crash report: {path}", file=sys.stderr)
        return HARNESS_FAILURE
    return OK if status is None else int(status)
