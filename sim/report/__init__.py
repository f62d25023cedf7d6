"""The report of a run: Markdown and one self-contained HTML file with plots, from a run folder.

``build_report(run_dir, reproduce=...)`` reads ``summary.json``, ``metrics.csv`` and (streaming,
in one pass) ``events.jsonl`` as docs/run-folder.md specifies them, and writes ``report.md``,
``report.html`` and ``plots/*.png``. The modules, one concept each:

* :mod:`~sim.report.inputs`, :mod:`~sim.report.scan`, :mod:`~sim.report.run` — reading the folder;
* :mod:`~sim.report.header`, :mod:`~sim.report.violations`, :mod:`~sim.report.figures`,
  :mod:`~sim.report.plots`, :mod:`~sim.report.timeline` — the sections, in report order;
* :mod:`~sim.report.document` — the block tree; :mod:`~sim.report.markdown`, :mod:`~sim.report.html` —
  its two renderings;
* :mod:`~sim.report.fmt`, :mod:`~sim.report.style` — how numbers and plots look.
"""

from sim.report.build import build_report

__all__ = ["build_report"]
