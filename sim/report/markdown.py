"""Rendering a :class:`~sim.report.document.Document` as Markdown (GitHub flavour).

Plots are linked as ``plots/<name>.png`` beside ``report.md``. Text is escaped where Markdown
would read it as markup; table cells also escape ``|`` and flatten newlines.
"""

from __future__ import annotations

import re

from sim.report.document import (Absent, Banner, Code, Command, Document, Facts, Figure, Listing, Paragraph, Section,
                                 Table, Timeline)

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
_TONE = {"ok": "✅", "bad": "❌", "warn": "⚠️", "": "•"}


def text(value: str) -> str:
    return _SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def code(value: str) -> str:
    value = str(value).replace("\n", " ")
    fence = "``" if "`" in value else "`"
    pad = " " if "`" in value else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def inline(value) -> str:
    if isinstance(value, Code):
        return code(value.text)
    return text(value)


def cell(value) -> str:
    # inside a table even a code span must not hold a bare pipe
    return inline(value).replace("|", "\\|") if isinstance(value, Code) else inline(value)


def table(columns, rows, numeric=(), group_first=False) -> list[str]:
    out = ["| " + " | ".join(text(c) for c in columns) + " |",
           "|" + "|".join("---:" if i in numeric else "---" for i in range(len(columns))) + "|"]
    previous = None
    for row in rows:
        cells = [cell(v) for v in row]
        if group_first:
            if row[0] == previous:
                cells[0] = ""
            previous = row[0]
        out.append("| " + " | ".join(cells) + " |")
    return out


def block(b) -> list[str]:
    if isinstance(b, Banner):
        detail = f" — {text(b.detail)}" if b.detail else ""
        return [f"> {_TONE.get(b.tone, '')} **{text(b.title)}**{detail}", ""]
    if isinstance(b, Command):
        return [f"**{text(b.label)}:**", "", "```sh", b.text.replace("\n", " "), "```", ""]
    if isinstance(b, Listing):
        return [f"**{text(b.label)}:**", "", "```text", b.text.replace("```", "` ` `"), "```", ""]
    if isinstance(b, Facts):
        return ["| | |", "|---|---|"] + [f"| **{text(label)}** | {cell(value)} |" for label, value in b.items] + [""]
    if isinstance(b, Table):
        lines = table(b.columns, b.rows, b.numeric, b.group_first)
        if b.footnote:
            lines += ["", f"_{text(b.footnote)}_"]
        return lines + [""]
    if isinstance(b, Absent):
        return [f"- **{text(b.title)}:** {text(b.text)}", ""]
    if isinstance(b, Paragraph):
        return [f"_{text(b.text)}_" if b.muted else text(b.text), ""]
    if isinstance(b, Figure):
        return [f"### {text(b.title)}", "", f"![{text(b.title)}](plots/{b.name})", "", f"_{text(b.caption)}_", ""]
    if isinstance(b, Timeline):
        lines = ["| When | Kind | What |", "|---|---|---|"]
        for when, tag, what, tone in b.entries:
            lines.append(f"| {text(when)} | {_TONE.get(tone, '•')} {text(tag)} | {text(what)} |")
        if b.footnote:
            lines += ["", f"_{text(b.footnote)}_"]
        return lines + [""]
    raise TypeError(f"no Markdown for {type(b).__name__}")


def section(s: Section) -> list[str]:
    lines = [f"## {text(s.title)}", ""]
    for b in s.blocks:
        lines += block(b)
    return lines


def render(doc: Document) -> str:
    lines = [f"# {text(doc.title)}", "", f"_{text(doc.subtitle)}_", ""]
    for b in doc.top:
        lines += block(b)
    for s in doc.sections:
        lines += section(s)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"
