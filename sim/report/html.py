"""Rendering a :class:`~sim.report.document.Document` as one self-contained HTML file.

Everything is inline: the stylesheet in ``<style>``, every plot as a ``data:image/png;base64`` URI.
There are no scripts, links, fonts or anything else fetched from elsewhere, so the file can be
mailed, attached to CI or opened offline. All text goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import struct

from sim.report.document import (Absent, Banner, Code, Command, Document, Facts, Figure, Listing, Paragraph, Section,
                                 Table, Timeline)

CSS = """
:root { --ink:#1f2633; --muted:#5d6573; --line:#e3e6eb; --bg:#f3f4f7; --card:#ffffff;
        --ok:#178f7f; --ok-bg:#e6f5f1; --bad:#c8283a; --bad-bg:#fcebed; --warn:#b86e00; --warn-bg:#fff4e0;
        --accent:#2f4b9a; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1100px; margin:0 auto; padding:28px 24px 48px; }
header.top h1 { margin:0 0 2px; font-size:26px; letter-spacing:-0.01em; }
header.top .subtitle { color:var(--muted); margin:0 0 14px; }
nav { display:flex; flex-wrap:wrap; gap:6px 16px; margin:0 0 18px; font-size:14px; }
nav a { color:var(--accent); text-decoration:none; }
nav a:hover { text-decoration:underline; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 22px 20px;
          margin:0 0 18px; }
section > h2 { margin:0 0 14px; font-size:19px; }
h3 { margin:22px 0 8px; font-size:16px; }
code, .mono { font-family:"DejaVu Sans Mono", Menlo, Consolas, monospace; font-size:12.5px; }
code { background:#f0f2f6; border-radius:4px; padding:1px 5px; overflow-wrap:anywhere; }
.banner { border-radius:10px; padding:14px 20px; margin:0 0 16px; border:1px solid; border-left-width:8px; }
.banner .title { font-size:24px; font-weight:800; letter-spacing:0.02em; }
.banner .detail { margin-top:2px; }
.banner.ok { background:var(--ok-bg); border-color:var(--ok); color:#0d5c51; }
.banner.bad { background:var(--bad-bg); border-color:var(--bad); color:#8c1624; }
.banner.warn { background:var(--warn-bg); border-color:#e09b2d; color:#7a4700; }
section .banner .title { font-size:30px; }
.command { margin:0 0 18px; }
.command .label { font-size:12px; text-transform:uppercase; letter-spacing:0.06em; color:var(--muted);
                  margin-bottom:4px; }
.command pre { margin:0; background:#1f2633; color:#e8ecf3; border-radius:8px; padding:10px 14px;
               white-space:pre-wrap; overflow-wrap:anywhere; }
.command pre code { background:none; color:inherit; padding:0; font-size:13.5px; }
.facts { display:grid; grid-template-columns:repeat(auto-fill, minmax(170px, 1fr)); gap:10px; margin:0 0 12px; }
.fact { border:1px solid var(--line); border-radius:8px; padding:8px 12px; }
.fact .label { font-size:11.5px; text-transform:uppercase; letter-spacing:0.06em; color:var(--muted); }
.fact .value { font-size:17px; font-weight:600; overflow-wrap:anywhere; }
.fact .value code { font-size:14px; background:none; padding:0; }
p.muted { color:var(--muted); font-size:13.5px; margin:4px 0 12px; overflow-wrap:anywhere; }
p { margin:6px 0 12px; }
table { width:100%; border-collapse:collapse; font-size:14px; margin:6px 0 8px; }
th { text-align:left; font-size:11.5px; text-transform:uppercase; letter-spacing:0.05em; color:var(--muted);
     font-weight:600; border-bottom:2px solid var(--line); padding:6px 10px; }
td { border-bottom:1px solid var(--line); padding:6px 10px; vertical-align:top; }
tbody tr:nth-child(even) td { background:#fafbfc; }
.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.group-cards { column-count:2; column-gap:14px; }
@media (max-width:760px) { .group-cards { column-count:1; } }
.group-card { border:1px solid var(--line); border-radius:8px; padding:8px 14px 6px; margin:0 0 14px;
              break-inside:avoid; }
.group-card h4 { margin:2px 0 4px; font-size:12px; text-transform:uppercase; letter-spacing:0.06em;
                 color:var(--accent); }
table.grouped { margin:0; font-size:14px; }
table.grouped td { padding:4px 0; border-bottom:1px solid #eef0f3; background:none !important; }
table.grouped tr:last-child td { border-bottom:none; }
table.grouped td.num { padding-left:12px; font-weight:600; white-space:normal; }
table.params { max-width:760px; }
table.violations { font-size:13.5px; }
table.violations tbody { border-top:2px solid #f1c7cd; }
table.violations tbody tr td { background:#fff9f9; border-bottom:none; }
table.violations td:nth-child(3), table.violations td:nth-child(2) { white-space:nowrap; }
table.violations tr.detail td { padding-top:0; padding-bottom:10px; }
.detail-label { font-size:11.5px; text-transform:uppercase; letter-spacing:0.05em; color:var(--muted);
                margin-right:6px; }
table.violations tr.detail code { font-size:12.5px; background:#f3e6e8; }
.footnote { color:var(--muted); font-size:13px; }
figure { margin:4px 0 22px; }
figure img { display:block; width:100%; max-width:1000px; height:auto; border:1px solid var(--line);
             border-radius:6px; }
figcaption { color:var(--muted); font-size:13.5px; margin-top:6px; }
.absent { color:var(--muted); margin:10px 0 16px; padding:8px 12px; background:#f7f8fa; border-radius:6px;
          border-left:4px solid #c5cad3; }
ol.timeline { list-style:none; margin:0; padding:0; }
ol.timeline li { display:grid; grid-template-columns:112px 128px 1fr; gap:10px; padding:6px 0;
                 border-bottom:1px solid var(--line); align-items:baseline; }
ol.timeline .when { font-family:"DejaVu Sans Mono", Menlo, Consolas, monospace; font-size:12.5px; color:var(--muted); }
.tag { display:inline-block; white-space:nowrap; font-size:11.5px; font-weight:700; text-transform:uppercase;
       letter-spacing:0.04em;
       border-radius:999px; padding:1px 9px; background:#eef0f4; color:var(--muted); text-align:center; }
.tag.ok { background:var(--ok-bg); color:var(--ok); }
.tag.bad { background:var(--bad-bg); color:var(--bad); }
.tag.warn { background:var(--warn-bg); color:var(--warn); }
footer { color:var(--muted); font-size:12.5px; text-align:center; margin-top:8px; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def inline(value) -> str:
    if isinstance(value, Code):
        title = f' title="{esc(value.full)}"' if value.full and value.full != value.text else ""
        return f"<code{title}>{esc(value.text)}</code>"
    return esc(value)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def banner(b: Banner) -> str:
    detail = f'<div class="detail">{esc(b.detail)}</div>' if b.detail else ""
    return f'<div class="banner {esc(b.tone)}" role="status"><div class="title">{esc(b.title)}</div>{detail}</div>'


def _cells(t: Table, row, skip_first: bool = False) -> str:
    cells = []
    for i, value in enumerate(row):
        if skip_first and i == 0:
            continue
        attr = ' class="num"' if i in t.numeric else ""
        cells.append(f"<td{attr}>{inline(value)}</td>")
    return "".join(cells)


def _head(t: Table, columns) -> str:
    return "".join(f'<th class="num">{esc(c)}</th>' if i in t.numeric else f"<th>{esc(c)}</th>"
                   for i, c in columns)


def _grouped(t: Table) -> str:
    """One card per first-column value, each a small table of the other columns."""
    groups: list[tuple[object, list]] = []
    for row in t.rows:
        if not groups or groups[-1][0] != row[0]:
            groups.append((row[0], []))
        groups[-1][1].append(row)
    css = f" {esc(t.css)}" if t.css else ""
    cards = []
    for name, rows in groups:
        body = "".join(f"<tr>{_cells(t, row, skip_first=True)}</tr>" for row in rows)
        cards.append(f'<div class="group-card"><h4>{inline(name)}</h4><table class="grouped{css}"><tbody>{body}'
                     "</tbody></table></div>")
    return f'<div class="group-cards">{"".join(cards)}</div>'


def _with_details(t: Table) -> str:
    """Every row followed by a full-width line holding its last column."""
    last = len(t.columns) - 1
    head = _head(t, list(enumerate(t.columns))[:last])
    bodies = []
    for row in t.rows:
        main = _cells(t, row[:last])
        detail = f'<span class="detail-label">{esc(t.columns[last])}</span> {inline(row[last])}'
        bodies.append(f'<tbody><tr>{main}</tr><tr class="detail"><td colspan="{last}">{detail}</td></tr></tbody>')
    css = f' class="{esc(t.css)}"' if t.css else ""
    return f"<table{css}><thead><tr>{head}</tr></thead>{''.join(bodies)}</table>"


def table(t: Table) -> str:
    if t.group_first:
        out = _grouped(t)
    elif t.detail_last and len(t.columns) > 1:
        out = _with_details(t)
    else:
        body = "".join(f"<tr>{_cells(t, row)}</tr>" for row in t.rows)
        css = f' class="{esc(t.css)}"' if t.css else ""
        out = f"<table{css}><thead><tr>{_head(t, enumerate(t.columns))}</tr></thead><tbody>{body}</tbody></table>"
    if t.footnote:
        out += f'<p class="footnote">{esc(t.footnote)}</p>'
    return out


def block(b) -> str:
    if isinstance(b, Banner):
        return banner(b)
    if isinstance(b, (Command, Listing)):
        return (f'<div class="command"><div class="label">{esc(b.label)}</div>'
                f"<pre><code>{esc(b.text)}</code></pre></div>")
    if isinstance(b, Facts):
        cards = "".join(f'<div class="fact"><div class="label">{esc(label)}</div>'
                        f'<div class="value">{inline(value)}</div></div>' for label, value in b.items)
        return f'<div class="facts">{cards}</div>'
    if isinstance(b, Table):
        return table(b)
    if isinstance(b, Absent):
        return f'<p class="absent"><strong>{esc(b.title)}:</strong> {esc(b.text)}</p>'
    if isinstance(b, Paragraph):
        return f'<p class="muted">{esc(b.text)}</p>' if b.muted else f"<p>{esc(b.text)}</p>"
    if isinstance(b, Figure):
        width, height = png_size(b.png)
        data = base64.b64encode(b.png).decode("ascii")
        return (f'<figure id="plot-{esc(b.name.removesuffix(".png"))}"><h3>{esc(b.title)}</h3>'
                f'<img src="data:image/png;base64,{data}" width="{width}" height="{height}" alt="{esc(b.title)}">'
                f"<figcaption>{esc(b.caption)}</figcaption></figure>")
    if isinstance(b, Timeline):
        items = "".join(f'<li><span class="when">{esc(when)}</span><span><span class="tag {esc(tone)}">{esc(tag)}'
                        f"</span></span><span>{esc(what)}</span></li>" for when, tag, what, tone in b.entries)
        out = f'<ol class="timeline">{items}</ol>'
        if b.footnote:
            out += f'<p class="footnote">{esc(b.footnote)}</p>'
        return out
    raise TypeError(f"no HTML for {type(b).__name__}")


def section(s: Section) -> str:
    inner = "".join(block(b) for b in s.blocks)
    return f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{inner}</section>'


def render(doc: Document, *, source: str = "", kind: str = "run report") -> str:
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in doc.sections)
    top = "".join(block(b) for b in doc.top)
    body = "\n".join(section(s) for s in doc.sections)
    footer = f"<footer>rbtc-sim {esc(kind)}{(' · ' + esc(source)) if source else ''}</footer>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f'<header class="top"><h1>{esc(doc.title)}</h1><p class="subtitle">{esc(doc.subtitle)}</p>'
        f"<nav>{nav}</nav>{top}</header>\n{body}\n{footer}\n</main>\n</body>\n</html>\n"
    )
