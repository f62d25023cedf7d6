"""User modules a sweep or search names (``[sweep] modules``): imported where the file is parsed, so the
metrics they register can be validated, and again in every worker before its first run.

An entry is a Python file (``"my_metrics.py"``, relative to the sweep file) or an importable module
name (``"lab.metrics"``, found on ``sys.path``, the sweep file's folder or the current folder).
Either way the module travels to workers as ``(name, folder)``: the folder goes on the worker's
``sys.path`` and the module is imported by name, so a local worker process, a fresh process from
the fork server or a Dask worker on the same machine all import the same file. (A Dask worker on
another machine needs the module at the same path, like the rest of the checkout.)
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from sim.scenario import ScenarioError

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def load(entries, base: Path, where: str) -> tuple[tuple[str, str], ...]:
    """Import every entry (see the module docstring) here and return them as ``(name, folder)`` pairs."""
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ScenarioError(f"{where}: expected a list of Python files or module names, got {entries!r}")
    loaded = []
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]"
        if entry.endswith(".py"):
            path = (base / entry).resolve()
            if not path.is_file():
                raise ScenarioError(f"{at}: {entry!r}: no such file (relative to {base})")
            name, folder = path.stem, path.parent
            if not _MODULE.match(name):
                raise ScenarioError(f"{at}: {entry!r}: the file name must be a Python identifier")
            other = sys.modules.get(name)
            if other is not None and Path(getattr(other, "__file__", "") or "").resolve() != path:
                raise ScenarioError(f"{at}: {entry!r}: a module named {name!r} is already imported from "
                                    f"{getattr(other, '__file__', 'elsewhere')}; rename the file")
        elif _MODULE.match(entry):
            name, folder = entry, None
        else:
            raise ScenarioError(f"{at}: {entry!r}: expected a .py file or a module name like \"lab.metrics\"")
        try:
            module = ensure(name, str(folder) if folder else None, extra=(base, Path.cwd()))
        except ImportError as exc:
            raise ScenarioError(f"{at}: cannot import {entry!r} ({exc})") from None
        except Exception as exc:  # the user's module raised while being imported
            raise ScenarioError(f"{at}: importing {entry!r} failed: {type(exc).__name__}: {exc}") from None
        if entry.endswith(".py") and Path(getattr(module, "__file__", "") or "").resolve() != path:
            raise ScenarioError(f"{at}: {entry!r}: importing {name!r} found {module.__file__} first on sys.path; "
                                "rename the file")
        if folder is None:
            depth = name.count(".") + (1 if Path(module.__file__).name == "__init__.py" else 0)
            folder = Path(module.__file__).resolve().parents[depth]
        loaded.append((name, str(folder)))
    return tuple(loaded)


def ensure(name: str, folder: str | None, extra=()) -> object:
    """Import module ``name`` (once per process), with ``folder`` (and ``extra`` folders) on ``sys.path``."""
    if name in sys.modules:
        return sys.modules[name]
    for place in ([folder] if folder else []) + [str(p) for p in extra]:
        if place not in sys.path:
            sys.path.append(place)
    return importlib.import_module(name)


def ensure_all(modules) -> None:
    """In a worker: import every ``(name, folder)`` a task names."""
    for name, folder in modules:
        ensure(name, folder)
