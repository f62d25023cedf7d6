"""The entry point: read a run folder, write ``report.md``, ``report.html`` and ``plots/*.png``."""

from __future__ import annotations

import os
from pathlib import Path

from sim.report import html, markdown
from sim.report.content import document
from sim.report.plots import NAMES
from sim.report.run import load_run


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all: a half-written report is never left looking complete."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def build_report(run_dir: Path, *, reproduce: str | None = None) -> list[Path]:
    """Write the report of the run in ``run_dir``; returns the paths written (plots, then MD, then HTML).

    ``reproduce`` is the command line that reproduces the run; it is shown at the top and for every
    invariant violation that has no ``reproduce`` of its own. Works on incomplete runs and on runs
    missing some of their files (the report says what is missing).
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir, reproduce)
    doc = document(run)
    plots_dir = run_dir / "plots"
    plots_dir.mkdir(exist_ok=True)
    written: list[Path] = []
    figures = doc.figures()
    for figure in figures:
        path = plots_dir / figure.name
        _write(path, figure.png)
        written.append(path)
    current = {f.name for f in figures}
    for name in NAMES:  # a plot of an earlier build that no longer applies
        stale = plots_dir / name
        if name not in current and stale.exists():
            stale.unlink()
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    _write(md_path, markdown.render(doc).encode("utf-8"))
    _write(html_path, html.render(doc, source=run_dir.name).encode("utf-8"))
    return written + [md_path, html_path]
