"""The counted runs as one row per condition (mean, spread and interval of the judged metric, the
other figures), each judged against a baseline fixed before the data: its verdict with the
interval it was decided on, the decisions an adaptive plan already made carried as they were
made, the conditions that could be the best (Hsu's MCB), the runs each condition lost, and the
comparisons whose spreads lie beyond the range an adaptive plan's level holds for.

    tracker compare --experiment mnist-demo --by norm --format json
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from .. import names
from ..config import test_images
from ..study import POWER, REFERENCE, Judged, Study
from . import confounds, mcb, per_epoch, sequential, stats, tuning, verdicts
from .counted import Counted, baseline_label, label


def _common(values: pd.Series):
    """The shared value, as int when it is one; mixed values are joined."""
    distinct = sorted(set(values.astype(str)))
    if len(distinct) == 1:
        v = distinct[0]
        return int(v) if v.isdigit() else v
    return "/".join(distinct)


def _spread(values) -> tuple[float, float | None]:
    """Mean, and the std only where there is a spread to speak of (n >= 2)."""
    m, s = stats.mean_std(values)
    return m, (s if len(values) > 1 else None)


def _interval(values, confidence: float, judged: Judged, floor: float) -> tuple[float | None, float | None]:
    """The t interval of a mean at `confidence`, inside the metric's bounds; none for one value."""
    if len(values) < 2:
        return None, None
    low, high = stats.t_interval(values, confidence, floor)
    if judged.bounds is not None:
        low, high = max(judged.bounds[0], low), min(judged.bounds[1], high)
    return low, high


def resolution(counted: Counted) -> float | None:
    """The smallest step the judged metric can take: one test image for tracker's test
    accuracies (the smallest test set among the runs); None for any other metric."""
    if not counted.judged.percent or counted.judged.metric == names.TRAIN_ACC_BEST:
        return None
    sizes = [int(r.params[names.TEST_IMAGES]) if r.params.get(names.TEST_IMAGES, "").isdigit()
             else test_images(r.params) for r in counted.runs]  # recorded; older runs: from their config
    known = [n for n in sizes if n]
    return 1 / min(known) if known and len(known) == len(sizes) else None


def _row(counted: Counted, key, group: pd.DataFrame, confidence: float, floor: float, target, history) -> dict:
    by, judged = counted.by, counted.judged
    key = key if isinstance(key, tuple) else (key,)
    values = group[counted.column].to_numpy()
    row = {**dict(zip(by, key)), "n": len(group)}
    row[f"{judged.column}_mean"], row[f"{judged.column}_std"] = _spread(values)
    row[f"{judged.column}_ci_low"], row[f"{judged.column}_ci_high"] = _interval(values, confidence, judged, floor)
    for other in REFERENCE:  # NaN and infinities stay what they are: the reader sees them
        if other.column != judged.column and group["_has_" + other.metric].any():
            row[f"{other.column}_mean"], row[f"{other.column}_std"] = _spread(group["_" + other.metric].to_numpy())
    row["params"] = _common(group["_params_total"])
    row["epochs"] = _common(group["_epochs"])
    row[names.EPOCH_TIME] = stats.mean_std(group["_" + names.EPOCH_TIME_MEAN])[0]  # the mean epoch's seconds
    if target is not None:
        times = [t for t in (per_epoch.time_to_target(history[rid], target) for rid in group["_run_id"])
                 if t is not None]
        row["time_to_target"] = target
        row["time_to_target_mean_s"], row["time_to_target_std_s"] = _spread(times) if times else (math.nan, None)
        row["time_to_target_reached"] = len(times)
    row["_label"], row["_values"] = label(by, key), values
    return row


def choose_baseline(labels: list[str], by: list[str], declared: str | None,
                    grid: dict[str, list[str]]) -> tuple[str, str]:
    """The baseline condition's label, fixed before the data, and the rule that chose it: the
    declared one (its label, or its value when one key defines a condition), else the first
    condition in the order of the sweep file's grid, else the first in sorted order."""
    if declared is not None:
        return baseline_label(labels, by, declared), "declared"
    if by and all(k in grid for k in by):
        def position(lab: str) -> tuple:
            values = dict(part.split("=", 1) for part in lab.split(" "))
            return tuple(grid[k].index(values[k]) if values[k] in grid[k] else len(grid[k]) for k in by)
        first = min(labels, key=lambda lab: (position(lab), lab))
        if position(first) != tuple(len(grid[k]) for k in by):  # else no condition is in the grid
            return first, "the grid's first value"
    return sorted(labels)[0], "the first condition in sorted order"


def lost(counted: Counted) -> dict[str, dict[str, int]]:
    """Per condition, the runs left out for a reason that is not a duplicate seed (FAILED, not
    finite, no judged metric) and how many: the seeds it is judged without."""
    frame = counted.frame.assign(_why=counted.reason)
    gone = frame[(frame["_why"] != "") & ~frame["_why"].str.startswith("a duplicate")]
    out: dict[str, dict[str, int]] = {}
    for key, group in gone.groupby(counted.by, sort=False):
        lab = label(counted.by, key if isinstance(key, tuple) else (key,))
        out[lab] = {str(k): int(v) for k, v in group["_why"].value_counts().items()}
    return out


@dataclass
class Judging:
    """What judging the rows found beside the rows themselves."""
    baseline: str
    rule: str  # how the baseline was chosen
    confounds: dict
    best: mcb.Best
    unheld: tuple[str, ...]  # comparisons whose spreads lie beyond the adaptive level's range
    resolution: float | None
    tuning: tuning.Tuning | None = None  # the keys tuned per condition and their budget, if tuned


def aggregate(counted: Counted, study: Study, grid: dict[str, list[str]], target: float | None = None,
              history: dict | None = None, decisions: str | None = None) -> tuple[pd.DataFrame, Judging]:
    """One row per condition, the best mean of the judged metric first (by its goal), each
    judged against the baseline. decisions: an adaptive plan's decisions (sequential.dump), kept
    as they were made when this is the analysis they were made under."""
    judged, floor = counted.judged, resolution(counted)
    confidence = 1 - study.alpha
    rows = [_row(counted, key, group, confidence, floor or 0.0, target, history)
            for key, group in counted.counted.groupby(counted.by, sort=False)]
    sign = -1 if judged.goal == "maximize" else 1
    rows.sort(key=lambda r: sign * r[f"{judged.column}_mean"])
    baseline, rule = choose_baseline([r["_label"] for r in rows], counted.by, study.baseline, grid)
    samples = {r["_label"]: r["_values"] for r in rows}
    made = sequential.standing(sequential.load(decisions), samples, baseline) if decisions else {}
    level = sequential.level(study.looks, study.alpha) if study.looks else study.alpha
    margin = None if study.margin is None else study.margin / judged.scale  # display units -> the metric's
    judgements = verdicts.judge(samples, baseline, margin, study.alpha, level, POWER, judged.scale, judged.unit,
                                goal=judged.goal, resolution=floor, carried={k: d.judgement for k, d in made.items()},
                                plan=study.looks[-1] if study.looks else None)
    best = mcb.best(samples, study.alpha, judged.goal, floor)
    unheld = tuple(k for k in samples if study.looks and k != baseline and k not in made
                   and sequential.beyond_range(samples[k], samples[baseline], study.alpha, floor))
    tuned = tuning.read(counted.groups())
    found = confounds.find(counted.groups(), counted.by, counted.seed, tuned.keys if tuned else ())
    found.update(tuning.confound(tuned))  # an unequal tuning budget: a confound
    missing = lost(counted)
    for r in rows:
        lab, j = r["_label"], judgements[r["_label"]]
        mixed = confounds.of_row(found, lab, baseline)
        reason = j.reason + (f"; the conditions also differ in {', '.join(mixed)}" if mixed else "")
        if lab in missing:
            reason += f"; judged on the {r['n']} seeds that survived: " + ", ".join(
                f"{n} run{'s' if n != 1 else ''} left out ({why})" for why, n in missing[lab].items())
        decided = made.get(lab)
        if decided is not None:
            reason = f"decided at look {decided.look} ({decided.seeds} seeds): {reason}"
        interval = best.intervals.get(lab, (None, None))
        r.update(baseline=lab == baseline, verdict=j.verdict, verdict_reason=reason,
                 diff_vs_baseline=j.diff, diff_ci_low=j.ci_low, diff_ci_high=j.ci_high,
                 decision_ci_low=j.decision_ci_low, decision_ci_high=j.decision_ci_high,
                 decision_ci_level=j.decision_ci_level, decided_at_look=None if decided is None else decided.look,
                 p_vs_baseline=j.p, p_holm=j.p_adjusted, p_equivalence=j.p_equivalence,
                 p_equivalence_holm=j.p_equivalence_adjusted, detectable_diff=j.detectable_diff,
                 seeds_needed=j.seeds_needed, futile=j.futile, could_be_best=lab in best.could_be_best,
                 best_ci_low=interval[0], best_ci_high=interval[1], confounds=mixed,
                 runs_left_out=sum(missing.get(lab, {}).values()))
    table = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    for column in ("seeds_needed", "decided_at_look"):  # whole numbers, none where none
        table[column] = table[column].astype("Int64")
    return table, Judging(baseline, rule, found, best, unheld, floor, tuned)
