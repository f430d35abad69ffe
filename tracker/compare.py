"""Comparison table: plain rows aggregated across seeds, then rendered.

    tracker compare --experiment mnist-demo --by norm --format markdown
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from statistics import mean, stdev


@dataclass
class Record:
    """One run as compare sees it: no mlflow objects."""
    run_id: str
    name: str
    status: str
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


def _stats(values: list[float]) -> tuple[float, float]:
    return mean(values), (stdev(values) if len(values) > 1 else 0.0)


def ci95(values: list[float]) -> tuple[float, float]:
    """Two-sided 95% t interval of the mean (the mean itself when n = 1)."""
    m = mean(values)
    if len(values) < 2:
        return m, m
    from scipy.special import stdtrit  # Student t quantile; scipy.stats costs ~1 s to import

    half = stdtrit(len(values) - 1, 0.975) * stdev(values) / math.sqrt(len(values))
    return m - half, m + half


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of Welch's t-test (unequal variances)."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.special import stdtr  # Student t CDF

    va, vb = stdev(a) ** 2 / len(a), stdev(b) ** 2 / len(b)
    if va + vb == 0:
        return 1.0 if mean(a) == mean(b) else 0.0
    t = (mean(a) - mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(2 * stdtr(df, -abs(t)))


def group_records(records: list[Record], by: list[str]) -> tuple[dict[tuple, list[Record]], dict[str, int]]:
    """FINISHED runs with a test accuracy, grouped by condition; the rest tallied by reason."""
    excluded: dict[str, int] = {}
    groups: dict[tuple, list[Record]] = {}
    for r in records:
        reason = None
        if r.status != "FINISHED":
            reason = f"status {r.status}"
        elif "test_acc_best" not in r.metrics:
            reason = "no test accuracy"
        if reason:
            excluded[reason] = excluded.get(reason, 0) + 1
            continue
        groups.setdefault(tuple(r.params.get(k, "") for k in by), []).append(r)
    return groups, excluded


def aggregate(records: list[Record], by: list[str]) -> tuple[list[dict], dict[str, int]]:
    """One row per condition of the `by` params, best mean test accuracy first."""
    groups, excluded = group_records(records, by)
    rows = []
    for key, runs in groups.items():
        best = [r.metrics["test_acc_best"] for r in runs]
        row = dict(zip(by, key))
        row["n"] = len(runs)
        row["test_acc_best_mean"], row["test_acc_best_std"] = _stats(best)
        row["test_acc_best_ci_low"], row["test_acc_best_ci_high"] = ci95(best)
        row["test_acc_final_mean"], row["test_acc_final_std"] = _stats(
            [r.metrics.get("test_acc", math.nan) for r in runs])
        row["train_acc_best_mean"], row["train_acc_best_std"] = _stats(
            [r.metrics.get("train_acc_best", math.nan) for r in runs])
        row["params"] = _common([r.params.get("params_total", "") for r in runs])
        row["epochs"] = _common([r.params.get("epochs", "") for r in runs])
        row["epoch_time_s"] = mean(r.metrics.get("epoch_time_mean_s", math.nan) for r in runs)
        row["_best"] = best
        rows.append(row)
    rows.sort(key=lambda r: -r["test_acc_best_mean"])
    for row in rows:
        p = welch_p(row["_best"], rows[0]["_best"])
        row["p_vs_best"] = p
        row["significant"] = None if p is None or row is rows[0] else p < 0.05
    for row in rows:
        del row["_best"]
    return rows, excluded


def _common(values: list[str]):
    """The shared value, as int when it is one; mixed values are joined."""
    distinct = sorted(set(values))
    if len(distinct) == 1:
        v = distinct[0]
        return int(v) if str(v).isdigit() else v
    return "/".join(distinct)


COLUMNS = [("n", "n"), ("test best %", "test_acc_best"), ("95% CI", "ci"),
           ("test final %", "test_acc_final"), ("train best %", "train_acc_best"),
           ("params", "params"), ("epochs", "epochs"), ("s/epoch", "epoch_time_s"),
           ("p vs best", "p_vs_best")]


def _cells(row: dict, by: list[str]) -> list[str]:
    def pct(key):
        return f"{row[key + '_mean'] * 100:.2f} ± {row[key + '_std'] * 100:.2f}"

    p = row["p_vs_best"]
    return [str(row[k]) for k in by] + [
        str(row["n"]), pct("test_acc_best"),
        f"{row['test_acc_best_ci_low'] * 100:.2f}–{row['test_acc_best_ci_high'] * 100:.2f}",
        pct("test_acc_final"), pct("train_acc_best"),
        f"{row['params']:,}" if isinstance(row["params"], int) else str(row["params"]),
        str(row["epochs"]), f"{row['epoch_time_s']:.1f}",
        "best" if row["significant"] is None and p is not None else
        ("—" if p is None else f"{p:.3g}{' *' if row['significant'] else ''}")]


def render(rows: list[dict], by: list[str], fmt: str = "table", figure=None) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        if rows:
            w = csv.DictWriter(buf, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return buf.getvalue()
    header = by + [c for c, _ in COLUMNS]
    body = [_cells(r, by) for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body]) + "\n"
    if fmt == "html":
        return html_page(html_table(header, body), figure)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(header)]
    fmt_row = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([fmt_row(header), fmt_row(["-" * w for w in widths])]
                     + [fmt_row(r) for r in body]) + "\n"


def html_table(header: list[str], body: list[list[str]]) -> str:
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{rows}</tbody>\n</table>\n"


def html_page(table: str, figure=None) -> str:
    """One self-contained page: the table and the plot as an inline PNG."""
    img = ""
    if figure is not None:
        import base64

        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=100)
        img = f'<img alt="test accuracy and loss per epoch" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>tracker compare</title>"
            "<style>table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px}</style>"
            f"</head><body>\n{table}{img}\n</body></html>\n")


def footnote(excluded: dict[str, int]) -> str:
    if not excluded:
        return ""
    parts = ", ".join(f"{n} with {reason}" for reason, n in sorted(excluded.items()))
    return f"left out {sum(excluded.values())} run(s) that did not count: {parts}"
