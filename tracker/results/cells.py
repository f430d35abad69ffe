"""The comparison rows as a reader sees them: percentages with their spread, p marked, the
difference to the best row with its interval. Rendering them is render.py's job.

    tracker compare --experiment mnist-demo --format markdown
"""
from __future__ import annotations

import math

import pandas as pd

COLUMNS = ("n", "test best %", "95% CI", "test final %", "train best %", "params", "epochs",
           "s/epoch", "p vs best", "p Holm", "Δ vs best (95% CI), pp")


def missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def cells(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One line per condition, for the table, markdown and html formats."""
    def pct(row, key):
        return f"{row[key + '_mean'] * 100:.2f} ± {row[key + '_std'] * 100:.2f}"

    def p_cell(row):
        p = row["p_vs_best"]
        if missing(p):
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
        seconds = "—" if missing(mean) else f"{mean:.1f} ± {std:.1f}"
        out.append(f"{seconds} ({r['time_to_target_reached']}/{r['n']})")
    if "test_acc_at_best_val_mean" in r:
        out.append(f"{r['test_acc_at_best_val_mean'] * 100:.2f} ± {r['test_acc_at_best_val_std'] * 100:.2f}")
    return out


def _p_holm(row) -> str:
    return "—" if missing(row["p_holm"]) else f"{row['p_holm']:.3g}"


def _diff(row, best: bool) -> str:
    """The difference to the best row in percentage points, with its 95% interval."""
    if best:
        return "best"
    if missing(row["diff_ci_low"]):  # a side with n = 1: no interval
        return f"{row['diff_vs_best'] * 100:+.2f}"
    return (f"{row['diff_vs_best'] * 100:+.2f} ({row['diff_ci_low'] * 100:+.2f} to "
            f"{row['diff_ci_high'] * 100:+.2f})")
