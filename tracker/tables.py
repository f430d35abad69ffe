"""One way to print a table: a DataFrame rendered as text, markdown, csv, json or html.

    tracker runs --experiment mnist-demo --format markdown
"""
from __future__ import annotations

from html import escape

FORMATS = ("table", "markdown", "csv", "json", "html")


def render(frame, fmt: str = "table") -> str:
    """csv and json keep the values; table, markdown and html show them as they are."""
    if fmt == "json":
        return frame.to_json(orient="records", indent=2, double_precision=15) + "\n"
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "table":
        return frame.to_string(index=False) + "\n"
    header = [str(c) for c in frame.columns]
    body = [["" if v is None else str(v) for v in row] for row in frame.itertuples(index=False)]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body]) + "\n"
    if fmt == "html":
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in body)
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{rows}</tbody>\n</table>\n"
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def html_page(table: str, title: str, image_png: bytes | None = None) -> str:
    """One self-contained page: the table and an optional inline PNG."""
    img = ""
    if image_png is not None:
        import base64

        img = (f'<img alt="test accuracy and loss per epoch" '
               f'src="data:image/png;base64,{base64.b64encode(image_png).decode()}">')
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title>"
            "<style>table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px}</style>"
            f"</head><body>\n{table}{img}\n</body></html>\n")
