"""The report's content, in its fixed order: run, verdict, key figures, gas, plots, timeline."""

from __future__ import annotations

from sim.report import diagnostics, figures, gas, header, plots, timeline, violations
from sim.report.document import Document, Section
from sim.report.run import Run


def plots_section(run: Run) -> Section:
    return Section("plots", "Plots", tuple(plot(run) for plot in plots.ALL))


def document(run: Run) -> Document:
    title, subtitle = header.title(run)
    return Document(
        title=title,
        subtitle=subtitle,
        top=header.top(run),
        sections=tuple(section for section in (
            header.section(run),
            violations.section(run),
            diagnostics.reverts_section(run),
            figures.section(run),
            gas.section(run),
            plots_section(run),
            timeline.section(run),
            diagnostics.paths_section(run),
        ) if section is not None),
    )
