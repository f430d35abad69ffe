"""The comparison: the counted runs aggregated per condition across seeds (mean, spread,
interval of the judged metric), each condition judged against the baseline (a verdict with its
reason, power, seeds needed) and checked for confounds, then rendered in one of render.FORMATS.

    tracker compare --experiment mnist-demo --by norm --format markdown
    tracker compare --sweep PARENT_RUN_ID --margin 0.1 --baseline batch
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from .. import names
from ..errors import NoRunsMatch
from ..study import POWER, REFERENCE, Judged, Study
from ..tracking import query
from . import confounds, per_epoch, render, stats
from .counted import SEED, Counted, baseline_label, count, has_validation, label


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


def _interval(values, confidence: float, judged: Judged) -> tuple[float | None, float | None]:
    """The t interval of a mean at `confidence`, inside the metric's bounds; none for one value."""
    if len(values) < 2:
        return None, None
    low, high = stats.t_interval(values, confidence)
    if judged.bounds is not None:
        low, high = max(judged.bounds[0], low), min(judged.bounds[1], high)
    return low, high


def _row(counted: Counted, key, group: pd.DataFrame, confidence: float, target, history) -> dict:
    by, judged = counted.by, counted.judged
    key = key if isinstance(key, tuple) else (key,)
    values = group[counted.column].to_numpy()
    row = {**dict(zip(by, key)), "n": len(group)}
    row[f"{judged.column}_mean"], row[f"{judged.column}_std"] = _spread(values)
    row[f"{judged.column}_ci_low"], row[f"{judged.column}_ci_high"] = _interval(values, confidence, judged)
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
        return min(labels, key=position), "the grid's first value"
    return sorted(labels)[0], "the first condition in sorted order"


def aggregate(counted: Counted, study: Study, grid: dict[str, list[str]], target: float | None = None,
              history: dict | None = None) -> tuple[pd.DataFrame, str, str, dict]:
    """One row per condition, best mean of the judged metric first (by its goal), each judged
    against the baseline; returns (rows, the baseline's label, the rule that chose it, the
    confounds found)."""
    from . import sequential, verdicts

    judged = counted.judged
    confidence = 1 - study.alpha
    rows = [_row(counted, key, group, confidence, target, history)
            for key, group in counted.counted.groupby(counted.by, sort=False)]
    sign = -1 if judged.goal == "maximize" else 1
    rows.sort(key=lambda r: sign * r[f"{judged.column}_mean"])
    baseline, rule = choose_baseline([r["_label"] for r in rows], counted.by, study.baseline, grid)
    level = sequential.level(study.looks, study.alpha) if study.looks else study.alpha
    margin = None if study.margin is None else study.margin / judged.scale  # display units -> the metric's
    judgements = verdicts.judge({r["_label"]: r["_values"] for r in rows}, baseline, margin,
                                study.alpha, level, POWER, judged.scale, judged.unit)
    found = confounds.find(counted.groups(), counted.by)
    for r in rows:
        j = judgements[r["_label"]]
        mixed = confounds.of_row(found, r["_label"], baseline)
        reason = j.reason + (f"; the conditions also differ in {', '.join(mixed)}" if mixed else "")
        r.update(baseline=r["_label"] == baseline, verdict=j.verdict, verdict_reason=reason,
                 diff_vs_baseline=j.diff, diff_ci_low=j.ci_low, diff_ci_high=j.ci_high,
                 p_vs_baseline=j.p, p_holm=j.p_adjusted, p_equivalence=j.p_equivalence,
                 p_equivalence_holm=j.p_equivalence_adjusted, detectable_diff=j.detectable_diff,
                 seeds_needed=j.seeds_needed, confounds=mixed)
    table = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    if "seeds_needed" in table:
        table["seeds_needed"] = table["seeds_needed"].astype("Int64")  # whole seeds, none where none
    return table, baseline, rule, found


@dataclass
class Comparison:
    """What `compare` found: the counted runs, one row per condition, the analysis used, and
    how it is shown (the judged metric's units, the intervals' level, the power)."""
    counted: Counted
    rows: pd.DataFrame
    experiment: str
    study: Study  # the analysis used (declared, with the options over it)
    declared: Study | None  # what the sweep logged, if it logged one
    baseline: str
    baseline_rule: str  # declared | the grid's first value | the first condition in sorted order
    confounds: dict
    power: float = POWER

    @property
    def judged(self) -> Judged:
        return self.counted.judged

    @property
    def level(self) -> float:
        """The confidence of the per-condition intervals: 1 - alpha."""
        return 1 - self.study.alpha

    @property
    def footnote(self) -> str:
        return self.counted.footnote()

    def render(self, fmt: str = "table", figure=None) -> str:
        from .cells import cells, notes

        if fmt in ("json", "csv"):
            return render.table(self.rows, fmt)
        view, lines = cells(self), notes(self)
        if fmt == "table":
            return render.table(view, fmt) + "".join(f"{line}\n" for line in ["", *lines])
        if fmt == "markdown":
            return render.markdown([("table", view), ("list", lines)])
        blocks = [("h1", f"{self.experiment}: {self.judged.description}"), ("table", view), ("list", lines)]
        if figure is not None:
            blocks.append(("img", png(figure), f"{self.judged.metric} per step, per condition"))
        return render.html(blocks, title=f"tracker compare: {self.experiment}")


def png(figure) -> bytes:
    import io

    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def compare(experiment: str | None, sweep: str | None, filter_string: str = "",
            by: tuple[str, ...] = (), target: float | None = None,
            options: dict | None = None, seed_param: str = SEED) -> Comparison:
    """Select the runs, count them by condition, aggregate and judge. target: also the
    training seconds each condition took to reach that test accuracy. options: the analysis
    given on the command line (metric, baseline, margin, alpha), over the declared one."""
    from .. import study as studies

    target = None if target is None else per_epoch.parse_target(target)
    found = query.select(experiment, sweep, filter_string)
    what = f"sweep {sweep}" if sweep else f"experiment {found.experiment!r}"
    if not found.runs:
        raise NoRunsMatch(f"no runs match: {what} has no training runs"
                          + (f" that match the filter {filter_string!r}" if filter_string else ""))
    declared = studies.from_json(found.study)
    used = (declared or Study()).with_options(**(options or {}))
    judged = used.judged(has_validation(found.runs))
    history = None
    needs_history = judged.metric == names.TEST_ACC_AT_BEST_VAL and any(
        names.TEST_ACC_AT_BEST_VAL not in r.metrics for r in found.runs)
    if target is not None or needs_history:
        history = query.histories([r.run_id for r in found.runs], per_epoch.HISTORY_KEYS)
        for r in found.runs:  # runs from before the metric was logged: from their epochs
            if names.TEST_ACC_AT_BEST_VAL not in r.metrics and history[r.run_id].get(names.VAL_ACC):
                r.metrics[names.TEST_ACC_AT_BEST_VAL] = per_epoch.at_best_val(history[r.run_id])
    counted = count(found, by, judged, seed_param)
    if counted.counted.empty:
        raise NoRunsMatch(f"no runs match: none of the {len(found.runs)} runs of {what} counts "
                          f"({counted.footnote().split(': ', 1)[-1]})")
    rows, baseline, rule, found_confounds = aggregate(counted, used, found.grid, target, history)
    return Comparison(counted, rows, found.experiment, used, declared, baseline, rule, found_confounds)


def condition_curves(counted: Counted, level: float):
    """The judged metric's curve (test accuracy and loss for tracker's own runs) per step, the
    mean and its interval at `level` across the seeds of each counted condition."""
    from . import plots

    groups, judged = counted.groups(), counted.judged
    keys = names.CURVES if judged.percent else (judged.metric,)
    hist = query.histories([r.run_id for runs in groups.values() for r in runs], keys)
    return plots.condition_curves({lab: [hist[r.run_id] for r in runs] for lab, runs in groups.items()},
                                  keys, level, {names.TEST_ACC: (0.0, 1.0), judged.metric: judged.bounds})
