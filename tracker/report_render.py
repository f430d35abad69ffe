"""A report's blocks (tracker/report.py) as GitHub markdown with its PNGs beside it, or as one
self-contained html page (the PNGs inline as data: URIs; no other reference leaves the page).

    tracker report --experiment mnist-demo --output reports/mnist-demo
"""
from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

from . import tables

HEADINGS = {"h1": "#", "h2": "##", "h3": "###"}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
         "line-height:1.45}table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #999;"
         "padding:3px 8px;text-align:left}pre{background:#f6f8fa;padding:0.8em;overflow-x:auto;"
         "font-size:12px}code{background:#f0f0f0;padding:0 3px}img{max-width:100%}")


def _md_cell(value) -> str:
    return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def _md_table(frame) -> str:
    head = "| " + " | ".join(_md_cell(c) for c in frame.columns) + " |"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, "|" + "---|" * len(frame.columns), *rows])


def markdown(blocks: list) -> str:
    out = []
    for kind, *rest in blocks:
        if kind in HEADINGS:
            out.append(f"{HEADINGS[kind]} {rest[0]}")
        elif kind == "p":
            out.append(rest[0])
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in rest[0]))
        elif kind == "pre":
            out.append(f"```\n{rest[0]}\n```")
        elif kind == "table":
            out.append(_md_table(rest[0]))
        elif kind == "img":
            out.append(f"![{rest[1]}]({rest[0]})")
        else:
            raise ValueError(f"unknown report block {kind!r}")
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Escaped text, with `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def html(blocks: list, image_dir: Path) -> str:
    """One page; every image read from image_dir and inlined."""
    body, title = [], "tracker report"
    for kind, *rest in blocks:
        if kind in HEADINGS:
            title = rest[0] if kind == "h1" else title
            body.append(f"<{kind}>{_inline(rest[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(rest[0])}</p>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in rest[0]) + "</ul>")
        elif kind == "pre":
            body.append(f"<pre>{escape(rest[0])}</pre>")
        elif kind == "table":
            body.append(tables.render(rest[0], "html"))
        elif kind == "img":
            body.append(f'<p><img alt="{escape(rest[1])}" src="{_data_uri(Path(image_dir) / rest[0])}"></p>')
        else:
            raise ValueError(f"unknown report block {kind!r}")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
