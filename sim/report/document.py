"""The report as a small tree of blocks, written once and rendered twice (Markdown and HTML).

Text in blocks is plain text; renderers escape it. A table cell or fact value is a ``str`` or a
:class:`Code` (shown monospaced: commands, addresses, digests).
"""

from __future__ import annotations

from attrs import field, frozen


@frozen
class Code:
    """Monospaced inline text; ``full`` is shown on hover in HTML when the text is abbreviated."""

    text: str
    full: str | None = None



@frozen
class Banner:
    """A prominent one-line statement: tone ``ok`` (green), ``bad`` (red) or ``warn`` (amber)."""

    tone: str
    title: str
    detail: str = ""


@frozen
class Facts:
    """Labelled values shown as cards (HTML) or a two-column table (Markdown)."""

    items: tuple[tuple[str, object], ...]


@frozen
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    #: indexes of right-aligned (numeric) columns
    numeric: tuple[int, ...] = ()
    css: str = ""  # an extra class name for the HTML table
    #: the rows are grouped by their first column (HTML: one card per group; Markdown: shown once)
    group_first: bool = False
    #: HTML: the last column goes on a full-width line under its row (long commands)
    detail_last: bool = False
    footnote: str = ""


@frozen
class Command:
    """A command line to copy (the reproduction command)."""

    label: str
    text: str


@frozen
class Listing:
    """Preformatted lines (a counterexample's steps), shown as they are."""

    label: str
    text: str


@frozen
class Paragraph:
    text: str
    muted: bool = False


@frozen
class Figure:
    """A plot: ``name`` is the file under ``plots/``; ``png`` its bytes."""

    name: str
    title: str
    caption: str
    png: bytes = field(repr=False)


@frozen
class Absent:
    """In place of a plot with nothing to show: its title and one line saying why."""

    title: str
    text: str


@frozen
class Timeline:
    """Notable moments: (time text, tag, text, tone) per entry; tone as for :class:`Banner` or ``""``."""

    entries: tuple[tuple[str, str, str, str], ...]
    footnote: str = ""


@frozen
class Section:
    id: str
    title: str
    blocks: tuple = ()


@frozen
class Document:
    title: str
    subtitle: str
    top: tuple = ()  # blocks above the first section (banners, the reproduce command)
    sections: tuple[Section, ...] = ()

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]
