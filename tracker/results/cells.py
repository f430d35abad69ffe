"""The comparison as a reader sees it: one line per condition (the judged metric with its
spread and interval, the other figures, the difference to the baseline and the verdict), and
the lines under the table (what was judged and how, each verdict's reason, power, confounds,
flags). Every number is in the judged metric's display units and every interval names its
level. Rendering them is render.py's job.

    tracker compare --experiment mnist-demo --format markdown
"""
from __future__ import annotations

import math

import pandas as pd

from .. import names
from ..study import REFERENCE
from . import confounds, flags, tuning
from .sequential import SPREAD_RATIO_MAX as RATIO
from .counted import label


def missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def level_label(confidence: float) -> str:
    """An interval's level as it is written: 95%, 90%, 97.55%."""
    return f"{confidence * 100:.4g}%"


def _value(row: dict, column: str, judged) -> str:
    mean, std = row.get(column + "_mean"), row.get(column + "_std")
    if missing(mean):
        return "—"
    return judged.shown(mean) + ("" if missing(std) else f" ± {judged.shown(std)}")


def _ci(row: dict, column: str, judged) -> str:
    low, high = row.get(column + "_ci_low"), row.get(column + "_ci_high")
    return "—" if missing(low) else f"{judged.shown(low)}–{judged.shown(high)}"


def _diff(row: dict, judged) -> str:
    """The difference to the baseline, with the interval its verdict was decided on (its level
    named: 1 - the level of a better or worse, 1 - 2 x the level of an equivalence)."""
    if row["baseline"]:
        return "baseline"
    def bare(x):
        return judged.shown(x, sign=True).removesuffix(" pp")
    if missing(row["decision_ci_low"]):  # a side with n < 2: no interval
        return bare(row["diff_vs_baseline"])
    return (f"{bare(row['diff_vs_baseline'])} ({level_label(row['decision_ci_level'])}: "
            f"{bare(row['decision_ci_low'])} to {bare(row['decision_ci_high'])})")


def _seconds(r: dict) -> str:
    mean, std = r["time_to_target_mean_s"], r["time_to_target_std_s"]
    shown = "—" if missing(mean) else f"{mean:.1f}" + ("" if missing(std) else f" ± {std:.1f}")
    return f"{shown} ({r['time_to_target_reached']}/{r['n']})"


def cells(comparison) -> pd.DataFrame:
    """One line per condition, for the table, markdown and html formats."""
    rows, by, judged = comparison.rows, comparison.counted.by, comparison.judged
    others = [j for j in REFERENCE if j.column != judged.column and f"{j.column}_mean" in rows]
    level = level_label(comparison.level)
    unit = f", {judged.unit}" if judged.unit else ""
    out = []
    for r in rows.to_dict("records"):
        line = {**{k: str(r[k]) for k in by}, "n": str(r["n"]), judged.title: _value(r, judged.column, judged),
                f"{level} CI": _ci(r, judged.column, judged)}
        line.update({j.title: _value(r, j.column, j) for j in others})
        if judged.percent:  # tracker's own runs: the model and its cost
            line.update({"params": f"{r['params']:,}" if isinstance(r["params"], int) else str(r["params"]),
                         "epochs": str(r["epochs"]), "s/epoch": f"{r[names.EPOCH_TIME]:.1f}"})
        if "time_to_target" in r:
            line[f"s to {r['time_to_target']:.2%} (reached)"] = _seconds(r)
        line["p Holm"] = "—" if missing(r["p_holm"]) else f"{r['p_holm']:.3g}"
        line[f"Δ vs baseline (CI decided on){unit}"] = _diff(r, judged)
        line["verdict"] = r["verdict"]
        out.append(line)
    return pd.DataFrame(out)


def analysis_line(comparison) -> str:
    """What was judged and how: the metric, the baseline and the rule that chose it, the margin,
    alpha, the looks."""
    study, judged = comparison.study, comparison.judged
    margin = ("no margin (no equivalence verdicts)" if study.margin is None else
              f"margin ±{study.margin:g}{' ' + judged.unit if judged.unit else ''}")
    rule = "" if comparison.baseline_rule == "declared" else f" ({comparison.baseline_rule})"
    seeds = "" if comparison.counted.seeded else "; the runs name no seed, so each run is one replicate"
    return (f"judged on {judged.description}; baseline {comparison.baseline}{rule}; {margin}; "
            f"alpha {study.alpha:g}" + (f"; looks {', '.join(map(str, study.looks))} seeds per condition"
                                        if study.looks else "") + seeds)


def notes(comparison) -> list[str]:
    """The lines under the table: the analysis, each verdict's reason, power, confounds, flags."""
    rows, by, judged = comparison.rows.to_dict("records"), comparison.counted.by, comparison.judged
    out = [analysis_line(comparison)]
    differs = comparison.declared.differences(comparison.study) if comparison.declared is not None else []
    if differs:
        out.append("this analysis differs from the one the sweep declared: " + "; ".join(differs))
    for r in rows:
        if not r["baseline"]:
            out.append(f"{label(by, [r[k] for k in by])} vs {comparison.baseline}: {r['verdict_reason']}")
    power = [f"{label(by, [r[k] for k in by])} {judged.shown(r['detectable_diff'], sign=True).lstrip('+')}"
             for r in rows if not r["baseline"] and not missing(r["detectable_diff"])]
    if power:
        ns = sorted({r["n"] for r in rows})
        out.append(f"power: with n = {', '.join(map(str, ns))} per condition and the observed spread, "
                   f"differences smaller than these could not have been detected with "
                   f"{comparison.power:.0%} power: " + "; ".join(power))
    undecided = [f"{label(by, [r[k] for k in by])} about {int(r['seeds_needed'])}" for r in rows
                 if r["verdict"] == "undecided" and not missing(r["seeds_needed"])]
    if undecided:
        out.append("seeds per condition that would decide the undecided comparisons (an estimate, at "
                   "the observed difference and spread): " + "; ".join(undecided))
    out += best_lines(comparison)
    if comparison.found.unheld:
        out.append(f"error rate not held: the spreads of {', '.join(comparison.found.unheld)} and the baseline "
                   f"differ beyond the {RATIO:g}x this plan's per-look level is calibrated for, so its "
                   "verdicts may be wrong more often than alpha")
    out += tuning.lines(comparison.found.tuning)
    out += confounds.lines(comparison.confounds)
    out += flags.lines(comparison)
    return out


def best_lines(comparison) -> list[str]:
    """Which could be the best (Hsu's MCB), each condition with its simultaneous interval to the
    best of the others."""
    best, judged = comparison.found.best, comparison.judged
    if not best.intervals:
        return []
    def interval(c):
        low, high = best.intervals[c]
        return f"{judged.shown(low, sign=True)} to {judged.shown(high, sign=True)}"
    could = "; ".join(f"{c} ({interval(c)})" for c in best.could_be_best)
    text = (f"could be the best ({level_label(best.confidence)} simultaneous intervals to the best of "
            f"the others, Hsu's MCB): {could}")
    if best.not_best:
        text += "; not the best: " + "; ".join(f"{c} ({interval(c)})" for c in best.not_best)
    if best.left_out:
        text += f"; not judged (fewer than 2 seeds or no spread): {', '.join(best.left_out)}"
    return [text]
