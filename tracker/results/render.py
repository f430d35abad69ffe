"""The one renderer of every table and page tracker writes: a DataFrame as text, markdown, csv,
json or html, and a list of blocks (headings, paragraphs, lists, code, tables, images) as
GitHub markdown with its PNGs beside it, or as one self-contained html page (the PNGs inline as
data: URIs; no other reference leaves the page).

    tracker report --experiment mnist-demo --output reports/mnist-demo
"""
from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

FORMATS = ("table", "markdown", "csv", "json", "html")
HEADINGS = {"h1": "#", "h2": "##", "h3": "###"}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
         "line-height:1.45}table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #999;"
         "padding:3px 8px;text-align:left}pre{background:#f6f8fa;padding:0.8em;overflow-x:auto;"
         "font-size:12px}code{background:#f0f0f0;padding:0 3px}img{max-width:100%}")


def _cell(value) -> str:
    return "" if value is None else str(value)


def _md_cell(value) -> str:
    return _cell(value).replace("|", "\\|").replace("\n", " ")


def table(frame, fmt: str = "table") -> str:
    """csv and json keep the values; table, markdown and html show them as they are."""
    if fmt == "json":
        return frame.to_json(orient="records", indent=2, double_precision=15) + "\n"
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "table":
        return frame.to_string(index=False) + "\n"
    rows = list(frame.itertuples(index=False))
    if fmt == "markdown":
        lines = ["| " + " | ".join(_md_cell(c) for c in frame.columns) + " |", "|" + "---|" * len(frame.columns)]
        return "\n".join(lines + ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]) + "\n"
    if fmt == "html":
        head = "".join(f"<th>{escape(str(h))}</th>" for h in frame.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(_cell(c))}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>\n"
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


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
            out.append(table(rest[0], "markdown").rstrip("\n"))
        elif kind == "img":
            out.append(f"![{rest[1]}]({rest[0]})")
        else:
            raise ValueError(f"unknown block {kind!r}")
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Escaped text, with `code` spans as <code> and **bold** as <strong>."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def html(blocks: list, image_dir: Path | None = None, title: str | None = None) -> str:
    """One page; every image (a file name under image_dir, or PNG bytes) inlined. Its title: the
    one given, else the first h1's, else "tracker report"."""
    body = []
    for kind, *rest in blocks:
        if kind in HEADINGS:
            title = rest[0] if kind == "h1" and title is None else title
            body.append(f"<{kind}>{_inline(rest[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(rest[0])}</p>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in rest[0]) + "</ul>")
        elif kind == "pre":
            body.append(f"<pre>{escape(rest[0])}</pre>")
        elif kind == "table":
            body.append(table(rest[0], "html"))
        elif kind == "img":
            png = rest[0] if isinstance(rest[0], bytes) else (Path(image_dir) / rest[0]).read_bytes()
            body.append(f'<p><img alt="{escape(rest[1])}" src="{data_uri(png)}"></p>')
        else:
            raise ValueError(f"unknown block {kind!r}")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title or 'tracker report')}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
