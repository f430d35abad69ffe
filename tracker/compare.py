"""Comparison table: runs as a DataFrame, aggregated per condition across seeds, then rendered.

    tracker compare --experiment mnist-demo --by norm --format markdown
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import epochs, stats, tables
from .config import UserError
from .tracking import names, query
from .tracking.records import FLOAT_MAX, RunRecord

# what a run contributes to its condition's row
METRICS = ("test_acc_best", "test_acc", "train_acc_best", "epoch_time_mean_s")


def runs_frame(runs: list[RunRecord], by: list[str]) -> pd.DataFrame:
    """One row a run: its condition (the `by` columns), then its id, status and the metrics
    compare reads, each prefixed `_` (MLflow's +-inf, stored as +-FLOAT_MAX, back to infinities)."""
    columns = {k: [r.params.get(k, "") for r in runs] for k in by}  # built by column: fast
    columns.update(_run_id=[r.run_id for r in runs], _status=[r.status for r in runs],
                   _has_best=[("test_acc_best" in r.metrics) for r in runs],
                   _params_total=[r.params.get("params_total", "") for r in runs],
                   _epochs=[r.params.get("epochs", "") for r in runs])
    cols = ["_" + m for m in METRICS]
    for m, col in zip(METRICS, cols):
        columns[col] = np.array([r.metrics.get(m, math.nan) for r in runs], dtype=float)
    frame = pd.DataFrame(columns)
    values = frame[cols].astype(float)
    frame[cols] = values.where(values.abs() < FLOAT_MAX, np.sign(values) * np.inf)
    return frame


def exclusions(frame: pd.DataFrame) -> pd.Series:
    """Why a run does not count (empty string: it counts)."""
    best = frame["_test_acc_best"]
    reason = pd.Series("", index=frame.index)
    reason[~np.isfinite(best.to_numpy())] = "non-finite test accuracy"
    reason[~frame["_has_best"].astype(bool)] = "no test accuracy"
    finished = frame["_status"] == "FINISHED"
    reason[~finished] = "status " + frame.loc[~finished, "_status"]
    return reason


def _common(values: pd.Series):
    """The shared value, as int when it is one; mixed values are joined."""
    distinct = sorted(set(values.astype(str)))
    if len(distinct) == 1:
        v = distinct[0]
        return int(v) if v.isdigit() else v
    return "/".join(distinct)


def aggregate(runs: list[RunRecord], by: list[str], target: float | None = None,
              history: dict | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per condition of the `by` params, best mean test accuracy first; and the runs
    left out, counted by reason. With the runs' per-epoch `history` (epochs.HISTORY_KEYS): the
    training seconds to a `target` test accuracy, and the test accuracy at the best
    validation epoch when the runs held out a validation split."""
    frame = runs_frame(runs, by)
    reason = exclusions(frame)
    excluded = reason[reason != ""].value_counts().to_dict()
    counted = frame[reason == ""]
    rows = []
    for key, group in counted.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        best = group["_test_acc_best"].to_numpy()
        row = dict(zip(by, key))
        row["n"] = len(group)
        row["test_acc_best_mean"], row["test_acc_best_std"] = stats.mean_std(best)
        row["test_acc_best_ci_low"], row["test_acc_best_ci_high"] = stats.ci95(best)
        row["test_acc_final_mean"], row["test_acc_final_std"] = stats.mean_std(group["_test_acc"])
        row["train_acc_best_mean"], row["train_acc_best_std"] = stats.mean_std(group["_train_acc_best"])
        row["params"] = _common(group["_params_total"])
        row["epochs"] = _common(group["_epochs"])
        row["epoch_time_s"] = stats.mean_std(group["_epoch_time_mean_s"])[0]
        if history is not None:
            row.update(_from_history([history[rid] for rid in group["_run_id"]], target))
        row["_best"] = best
        rows.append(row)
    rows.sort(key=lambda r: -r["test_acc_best_mean"])
    for row in rows:
        p = stats.welch_p(row["_best"], rows[0]["_best"])
        row["p_vs_best"] = p
        row["significant"] = None if p is None or row is rows[0] else bool(p < 0.05)
    # the family: every row against the best one; Holm adjusts for how many there are
    adjusted = stats.holm([None if r is rows[0] else r["p_vs_best"] for r in rows])
    for row, p_holm in zip(rows, adjusted):
        row["p_holm"] = p_holm
        diff, low, high = stats.diff_ci95(row["_best"], rows[0]["_best"])
        row["diff_vs_best"] = diff
        row["diff_ci_low"], row["diff_ci_high"] = (None, None) if row is rows[0] else (low, high)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "_best"} for r in rows])
    return table, {str(k): int(v) for k, v in excluded.items()}


def _from_history(runs: list[dict], target: float | None) -> dict:
    out = {}
    if target is not None:
        times = [t for t in (epochs.time_to_target(h, target) for h in runs) if t is not None]
        out["time_to_target"] = target
        out["time_to_target_mean_s"], out["time_to_target_std_s"] = (
            stats.mean_std(times) if times else (math.nan, math.nan))
        out["time_to_target_reached"] = len(times)
    if any(h.get("val_acc") for h in runs):
        out["test_acc_at_best_val_mean"], out["test_acc_at_best_val_std"] = stats.mean_std(
            [epochs.at_best_val(h) for h in runs])
    return out


COLUMNS = ("n", "test best %", "95% CI", "test final %", "train best %", "params", "epochs",
           "s/epoch", "p vs best", "p Holm", "Δ vs best (95% CI), pp")


def cells(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The rows as a reader sees them: percentages with their spread, p marked."""
    def pct(row, key):
        return f"{row[key + '_mean'] * 100:.2f} ± {row[key + '_std'] * 100:.2f}"

    def p_cell(row):
        p = row["p_vs_best"]
        if p is None or (isinstance(p, float) and math.isnan(p)):
            return "—"
        return "best" if row["significant"] is None else f"{p:.3g}{' *' if row['significant'] else ''}"

    out = [[str(r[k]) for k in by] + [
        str(r["n"]), pct(r, "test_acc_best"),
        f"{r['test_acc_best_ci_low'] * 100:.2f}–{r['test_acc_best_ci_high'] * 100:.2f}",
        pct(r, "test_acc_final"), pct(r, "train_acc_best"),
        f"{r['params']:,}" if isinstance(r["params"], int) else str(r["params"]),
        str(r["epochs"]), f"{r['epoch_time_s']:.1f}", p_cell(r), _p_holm(r), _diff(r, i == 0)]
        + _history_cells(r) for i, r in enumerate(rows.to_dict("records"))]
    extra = []
    if "time_to_target" in rows:
        extra.append(f"s to {rows['time_to_target'].iloc[0]:.2%} (reached)")
    if "test_acc_at_best_val_mean" in rows:
        extra.append("test @ best val %")
    return pd.DataFrame(out, columns=[*by, *COLUMNS, *extra])


def _history_cells(r: dict) -> list[str]:
    out = []
    if "time_to_target" in r:
        mean, std = r["time_to_target_mean_s"], r["time_to_target_std_s"]
        seconds = "—" if _missing(mean) else f"{mean:.1f} ± {std:.1f}"
        out.append(f"{seconds} ({r['time_to_target_reached']}/{r['n']})")
    if "test_acc_at_best_val_mean" in r:
        out.append(f"{r['test_acc_at_best_val_mean'] * 100:.2f} ± {r['test_acc_at_best_val_std'] * 100:.2f}")
    return out


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _p_holm(row) -> str:
    return "—" if _missing(row["p_holm"]) else f"{row['p_holm']:.3g}"


def _diff(row, best: bool) -> str:
    """The difference to the best row in percentage points, with its 95% interval."""
    if best:
        return "best"
    if _missing(row["diff_ci_low"]):  # a side with n = 1: no interval
        return f"{row['diff_vs_best'] * 100:+.2f}"
    return (f"{row['diff_vs_best'] * 100:+.2f} ({row['diff_ci_low'] * 100:+.2f} to "
            f"{row['diff_ci_high'] * 100:+.2f})")


def render(rows: pd.DataFrame, by: list[str], fmt: str = "table", figure=None) -> str:
    if fmt in ("json", "csv"):
        return tables.render(rows, fmt)
    text = tables.render(cells(rows, by), fmt)
    if fmt != "html":
        return text
    png = None
    if figure is not None:
        import io

        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=100)
        png = buf.getvalue()
    return tables.html_page(text, "tracker compare", png)


def footnote(excluded: dict[str, int]) -> str:
    if not excluded:
        return ""
    parts = ", ".join(f"{n} with {reason}" for reason, n in sorted(excluded.items()))
    return f"left out {sum(excluded.values())} run(s) that did not count: {parts}"


@dataclass
class Comparison:
    text: str
    footnote: str
    figure: object = None  # the curves, when asked for


def default_by(by: tuple[str, ...], grid_keys: list[str]) -> list[str]:
    """--by a,b or --by a --by b; else the grid keys minus seed; else norm."""
    keys = [k.strip() for item in by for k in item.split(",") if k.strip()]
    return keys or [k for k in grid_keys if k != "seed"] or ["norm"]


def conditions(found, by: tuple[str, ...]) -> list[str]:
    """The params that define a condition (default_by), each one some run here has."""
    keys = default_by(by, found.grid_keys)
    known = set().union(*(r.params for r in found.runs))
    unknown = [k for k in keys if found.runs and k not in known]
    if unknown:
        raise UserError(f"--by {unknown[0]!r}: no run here has that param; they have: {', '.join(sorted(known))}")
    return keys


def compare(experiment: str | None, sweep: str | None, filter_string: str = "",
            by: tuple[str, ...] = (), fmt: str = "table", curves: bool = False,
            target: float | None = None) -> Comparison:
    """The whole `tracker compare`: select the runs, group them, aggregate, render. target:
    also the training seconds each condition took to reach that test accuracy."""
    target = None if target is None else epochs.parse_target(target)
    found = query.select(experiment, sweep, filter_string)
    keys = conditions(found, by)
    history = None
    if target is not None or any("val_acc" in r.metrics for r in found.runs):
        history = query.histories([r.run_id for r in found.runs], epochs.HISTORY_KEYS)
    rows, excluded = aggregate(found.runs, keys, target, history)
    figure = condition_curves(found.runs, keys) if curves or fmt == "html" else None
    return Comparison(render(rows, keys, fmt, figure), footnote(excluded), figure)


def label(by: list[str], values) -> str:
    """A condition's name: norm=batch precision=bf16."""
    return " ".join(f"{k}={v}" for k, v in zip(by, values))


def condition_curves(runs: list[RunRecord], by: list[str]):
    """Test accuracy and loss per epoch, mean ± std across the seeds of each counted condition."""
    from . import plots

    frame = runs_frame(runs, by)
    counted = frame[exclusions(frame) == ""]
    hist = query.histories(list(counted["_run_id"]), names.CURVES)
    series = {}
    for key, group in counted.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        series[label(by, key)] = [hist[rid] for rid in group["_run_id"]]
    return plots.condition_curves(series)
