"""The report's HTML: one page with inline CSS, no script and no link to fetch, so it opens
offline. Images are either file names beside ``index.html`` or, for a single self-contained
file, ``data:image/png;base64,...`` URLs. :mod:`scratchnet.app.report` decides what the page
says; this module only lays it out (every value is HTML-escaped here).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from scratchnet.app.architecture_table import ArchitectureTable, format_shape
from scratchnet.app.evaluation import Evaluation

esc = html.escape


@dataclass
class Section:
    """One ``<section>`` of the page: a title, a paragraph, then a figure and/or a table."""

    id: str
    title: str
    text: str
    image: str | None = None  # a file name beside index.html or a data: URL
    table_html: str = ""  # already escaped


def data_url(png: bytes) -> str:
    """A PNG as a ``data:`` URL, so the page carries the image itself."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2328; background: #f6f8fa; line-height: 1.5; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; margin-top: 2.2rem; }
.subtitle { color: #57606a; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6rem 1rem; min-width: 9rem; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.card .label { color: #57606a; font-size: 0.85rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 0.5rem 0; }
th, td { padding: 0.3rem 0.9rem; border-bottom: 1px solid #d8dee4; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.text, th.text { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid #8c959f; }
figure { margin: 0.5rem 0 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
footer { color: #57606a; font-size: 0.85rem; margin-top: 2.5rem; }
"""


def metrics_table(ev: Evaluation, names: list[str]) -> str:
    """Per-class precision, recall, F1 and support, and their macro average."""
    rows = "\n".join(
        f"<tr><td>{esc(name)}</td><td>{ev.precision[i]:.3f}</td><td>{ev.recall[i]:.3f}</td>"
        f"<td>{ev.f1[i]:.3f}</td><td>{int(ev.support[i]):,}</td></tr>"
        for i, name in enumerate(names)
    )
    rows += (
        f'\n<tr class="total"><td>macro average</td><td>{ev.precision.mean():.3f}</td>'
        f"<td>{ev.recall.mean():.3f}</td><td>{ev.f1.mean():.3f}</td>"
        f"<td>{int(ev.support.sum()):,}</td></tr>"
    )
    return (
        "<table>\n<thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
        f"<th>support</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    )


def architecture_html(table: ArchitectureTable) -> str:
    """Layer, details, output shape and parameter count per layer, the input first and the
    totals last."""
    rows = [
        f'<tr><td>input</td><td class="text"></td><td>{format_shape(table.input_shape)}'
        "</td><td>0</td></tr>"
    ]
    rows += [
        f'<tr><td>{r.index + 1}. {esc(r.layer)}</td><td class="text">{esc(r.details)}</td>'
        f"<td>{format_shape(r.output_shape)}</td><td>{r.params:,}</td></tr>"
        for r in table.rows
    ]
    rows.append(
        f'<tr class="total"><td colspan="3">trained parameters</td>'
        f"<td>{table.total_params:,}</td></tr>"
    )
    if table.total_buffers:  # batch norm's running statistics: state, not trained
        rows.append(
            '<tr><td colspan="3">running statistics (not trained)</td>'
            f"<td>{table.total_buffers:,}</td></tr>"
        )
    return (
        '<table>\n<thead><tr><th>layer</th><th class="text"></th><th>output shape</th>'
        "<th>parameters</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def environment_html(rows: list[tuple[str, str, str]]) -> str:
    """The versions table: item, at training, now."""
    body = "\n".join(
        f'<tr><td>{esc(k)}</td><td class="text">{esc(a)}</td><td class="text">{esc(b)}</td></tr>'
        for k, a, b in rows
    )
    return (
        '<table>\n<thead><tr><th></th><th class="text">at training</th>'
        '<th class="text">this report</th></tr></thead>\n<tbody>\n'
        f"{body}\n</tbody>\n</table>"
    )


def section_html(s: Section) -> str:
    figure = (
        f'<figure><img src="{esc(s.image)}" alt="{esc(s.title)}"></figure>\n' if s.image else ""
    )
    table = f"{s.table_html}\n" if s.table_html else ""
    return (
        f'<section id="{esc(s.id)}">\n<h2>{esc(s.title)}</h2>\n<p>{esc(s.text)}</p>\n'
        f"{figure}{table}</section>"
    )


def render_page(
    title: str,
    subtitle: str,
    cards: list[tuple[str, str]],
    metrics_text: str,
    metrics_table_html: str,
    params_text: str,
    sections: list[Section],
    footer: str,
) -> str:
    """The whole page; ``metrics_table_html`` is already escaped, every other string is
    escaped here."""
    card_html = "\n".join(
        f'<div class="card"><div class="value">{esc(v)}</div>'
        f'<div class="label">{esc(k)}</div></div>'
        for k, v in cards
    )
    body = "\n".join(section_html(s) for s in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>scratchnet model report</h1>
<p class="subtitle">{esc(subtitle)}</p>
<section id="metrics">
<h2>Metrics</h2>
<div class="cards">
{card_html}
</div>
<p>{esc(metrics_text)}</p>
{metrics_table_html}
<p class="subtitle">Training parameters: {esc(params_text)}</p>
</section>
{body}
<footer>{esc(footer)}</footer>
</main>
</body>
</html>
"""
