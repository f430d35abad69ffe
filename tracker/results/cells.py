"""The comparison as a reader sees it: one line per condition (the judged metric with its
spread and interval, the other figures, the difference to the baseline and the verdict), and
the lines under the table (what was judged and how, each verdict's reason, power, confounds).
Rendering them is render.py's job.

    tracker compare --experiment mnist-demo --format markdown
"""
from __future__ import annotations

import math

import pandas as pd

from . import confounds
from .counted import JUDGED, label

TITLES = {"final": "test final %", "best_val": "test @ best val %", "best_test": "test best % (picked on test)"}
DESCRIBED = {"final": "the final test accuracy (the last epoch's)",
             "best_val": "the test accuracy at each run's best validation epoch",
             "best_test": "each run's best test accuracy over its epochs (selected on the test set: biased up)"}
OTHER_TITLES = (("test_acc_final", TITLES["final"]), ("test_acc_at_best_val", TITLES["best_val"]),
                ("test_acc_best", TITLES["best_test"]), ("train_acc_best", "train best %"))


def missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _pct(row: dict, key: str) -> str:
    mean, std = row.get(key + "_mean"), row.get(key + "_std")
    if missing(mean):
        return "—"
    return f"{mean * 100:.2f}" + ("" if missing(std) else f" ± {std * 100:.2f}")


def _ci(row: dict, key: str) -> str:
    low, high = row.get(key + "_ci_low"), row.get(key + "_ci_high")
    return "—" if missing(low) else f"{low * 100:.2f}–{high * 100:.2f}"


def _diff(row: dict) -> str:
    """The difference to the baseline in percentage points, with its 95% interval."""
    if row["baseline"]:
        return "baseline"
    if missing(row["diff_ci_low"]):  # a side with n = 1: no interval
        return f"{row['diff_vs_baseline'] * 100:+.2f}"
    return (f"{row['diff_vs_baseline'] * 100:+.2f} ({row['diff_ci_low'] * 100:+.2f} to "
            f"{row['diff_ci_high'] * 100:+.2f})")


def _seconds(r: dict) -> str:
    mean, std = r["time_to_target_mean_s"], r["time_to_target_std_s"]
    shown = "—" if missing(mean) else f"{mean:.1f}" + ("" if missing(std) else f" ± {std:.1f}")
    return f"{shown} ({r['time_to_target_reached']}/{r['n']})"


def cells(comparison) -> pd.DataFrame:
    """One line per condition, for the table, markdown and html formats."""
    rows, by, metric = comparison.rows, comparison.counted.by, comparison.counted.metric
    judged = JUDGED[metric][1]
    others = [(k, t) for k, t in OTHER_TITLES if k != judged and f"{k}_mean" in rows]
    out = []
    for r in rows.to_dict("records"):
        line = {**{k: str(r[k]) for k in by}, "n": str(r["n"]), TITLES[metric]: _pct(r, judged),
                "95% CI": _ci(r, judged)}
        line.update({title: _pct(r, k) for k, title in others})
        line.update({"params": f"{r['params']:,}" if isinstance(r["params"], int) else str(r["params"]),
                     "epochs": str(r["epochs"]), "s/epoch": f"{r['epoch_time_s']:.1f}"})
        if "time_to_target" in r:
            line[f"s to {r['time_to_target']:.2%} (reached)"] = _seconds(r)
        line["p Holm"] = "—" if missing(r["p_holm"]) else f"{r['p_holm']:.3g}"
        line["Δ vs baseline (95% CI), pp"] = _diff(r)
        line["verdict"] = r["verdict"]
        out.append(line)
    return pd.DataFrame(out)


def notes(comparison) -> list[str]:
    """The lines under the table: the analysis, each verdict's reason, power, confounds."""
    rows, by, study = comparison.rows.to_dict("records"), comparison.counted.by, comparison.study
    metric = comparison.counted.metric
    margin = "no margin (no equivalence verdicts)" if study.margin is None else f"margin ±{study.margin:g} pp"
    out = [f"judged on {DESCRIBED[metric]}; baseline {comparison.baseline}"
           f"{'' if study.baseline else ' (the best mean)'}; {margin}; alpha {study.alpha:g}"
           + (f"; looks {', '.join(map(str, study.looks))} seeds per condition" if study.looks else "")]
    differs = comparison.declared.differences(study) if comparison.declared is not None else []
    if differs:
        out.append("this analysis differs from the one the sweep declared: " + "; ".join(differs))
    for r in rows:
        if not r["baseline"]:
            out.append(f"{label(by, [r[k] for k in by])} vs {comparison.baseline}: {r['verdict_reason']}")
    power = [f"{label(by, [r[k] for k in by])} {r['detectable_diff'] * 100:.2f} pp" for r in rows
             if not r["baseline"] and not missing(r["detectable_diff"])]
    if power:
        ns = sorted({r["n"] for r in rows})
        out.append(f"power: with n = {', '.join(map(str, ns))} per condition and the observed spread, "
                   "differences smaller than these could not have been detected with 80% power: "
                   + "; ".join(power))
    undecided = [f"{label(by, [r[k] for k in by])} about {int(r['seeds_needed'])}" for r in rows
                 if r["verdict"] == "undecided" and not missing(r["seeds_needed"])]
    if undecided:
        out.append("seeds per condition that would decide the undecided comparisons: " + "; ".join(undecided))
    out += confounds.lines(comparison.confounds)
    return out
