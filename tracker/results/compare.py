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

from ..errors import UserError
from ..study import Study
from .. import names
from ..tracking import query
from . import confounds, per_epoch, render, stats
from .counted import JUDGED, Counted, baseline_label, count, judged_metric, label

OTHERS = (("test_acc_final", "_" + names.TEST_ACC), ("test_acc_best", "_" + names.TEST_ACC_BEST),
          ("train_acc_best", "_" + names.TRAIN_ACC_BEST),
          ("test_acc_at_best_val", "_" + names.TEST_ACC_AT_BEST_VAL))


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


def _interval(values) -> tuple[float | None, float | None]:
    """The 95% t interval of a mean accuracy, inside [0, 1]; none for one value."""
    if len(values) < 2:
        return None, None
    low, high = stats.ci95(values)
    return max(0.0, low), min(1.0, high)


def _row(counted: Counted, key, group: pd.DataFrame, target, history) -> dict:
    by, judged = counted.by, JUDGED[counted.metric][1]
    key = key if isinstance(key, tuple) else (key,)
    values = group[counted.judged].to_numpy()
    row = {**dict(zip(by, key)), "n": len(group)}
    row[f"{judged}_mean"], row[f"{judged}_std"] = _spread(values)
    row[f"{judged}_ci_low"], row[f"{judged}_ci_high"] = _interval(values)
    for name, column in OTHERS:  # NaN and infinities stay what they are: the reader sees them
        if name != judged and group["_has" + column].any():
            row[f"{name}_mean"], row[f"{name}_std"] = _spread(group[column].to_numpy())
    row["params"] = _common(group["_params_total"])
    row["epochs"] = _common(group["_epochs"])
    row["epoch_time_s"] = stats.mean_std(group["_" + names.EPOCH_TIME_MEAN])[0]
    if target is not None:
        times = [t for t in (per_epoch.time_to_target(history[rid], target) for rid in group["_run_id"])
                 if t is not None]
        row["time_to_target"] = target
        row["time_to_target_mean_s"], row["time_to_target_std_s"] = _spread(times) if times else (math.nan, None)
        row["time_to_target_reached"] = len(times)
    row["_label"], row["_values"] = label(by, key), values
    return row


def choose_baseline(rows: list[dict], by: list[str], declared: str | None) -> str:
    """The baseline condition's label: the declared one (its label, or its value when one key
    defines a condition), else the row with the best mean."""
    if declared is None:
        return rows[0]["_label"]
    return baseline_label([r["_label"] for r in rows], by, declared)


def aggregate(counted: Counted, study: Study, target: float | None = None,
              history: dict | None = None) -> tuple[pd.DataFrame, str, dict]:
    """One row per condition, best mean of the judged metric first, each judged against the
    baseline; returns (rows, the baseline's label, the confounds found)."""
    from . import sequential, verdicts

    rows = [_row(counted, key, group, target, history)
            for key, group in counted.counted.groupby(counted.by, sort=False)]
    judged = JUDGED[counted.metric][1]
    rows.sort(key=lambda r: -r[f"{judged}_mean"])
    baseline = choose_baseline(rows, counted.by, study.baseline)
    level = sequential.level(study.looks, study.alpha) if study.looks else study.alpha
    margin = None if study.margin is None else study.margin / 100  # pp -> fraction
    judgements = verdicts.judge({r["_label"]: r["_values"] for r in rows}, baseline, margin,
                                study.alpha, level)
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
    return table, baseline, found


@dataclass
class Comparison:
    """What `compare` found: the counted runs, one row per condition, the analysis used."""
    counted: Counted
    rows: pd.DataFrame
    experiment: str
    study: Study  # the analysis used (declared, with the options over it)
    declared: Study | None  # what the sweep's parent logged, if it logged one
    baseline: str
    confounds: dict

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
        blocks = [("table", view), ("list", lines)]
        if figure is not None:
            blocks.append(("img", png(figure), "test accuracy and loss per epoch"))
        return render.html(blocks, title="tracker compare")


def png(figure) -> bytes:
    import io

    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def compare(experiment: str | None, sweep: str | None, filter_string: str = "",
            by: tuple[str, ...] = (), target: float | None = None,
            options: dict | None = None) -> Comparison:
    """Select the runs, count them by condition, aggregate and judge. target: also the
    training seconds each condition took to reach that test accuracy. options: the analysis
    given on the command line (metric, baseline, margin, alpha), over the declared one."""
    from .. import study as studies

    target = None if target is None else per_epoch.parse_target(target)
    found = query.select(experiment, sweep, filter_string)
    what = f"sweep {sweep}" if sweep else f"experiment {found.experiment!r}"
    if not found.runs:
        raise UserError(f"no runs match: {what} has no training runs"
                        + (f" that match the filter {filter_string!r}" if filter_string else ""))
    declared = studies.from_json(found.study)
    used = (declared or Study()).with_options(**(options or {}))
    metric = judged_metric(used.metric, found.runs)
    history = None
    needs_history = metric == "best_val" and any(names.TEST_ACC_AT_BEST_VAL not in r.metrics for r in found.runs)
    if target is not None or needs_history:
        history = query.histories([r.run_id for r in found.runs], per_epoch.HISTORY_KEYS)
        for r in found.runs:  # runs from before the metric was logged: from their epochs
            if names.TEST_ACC_AT_BEST_VAL not in r.metrics and history[r.run_id].get(names.VAL_ACC):
                r.metrics[names.TEST_ACC_AT_BEST_VAL] = per_epoch.at_best_val(history[r.run_id])
    counted = count(found, by, metric)
    if counted.counted.empty:
        raise UserError(f"no runs match: none of the {len(found.runs)} runs of {what} counts "
                        f"({counted.footnote().split(': ', 1)[-1]})")
    rows, baseline, found_confounds = aggregate(counted, used, target, history)
    return Comparison(counted, rows, found.experiment, used, declared, baseline, found_confounds)


def condition_curves(counted: Counted):
    """Test accuracy and loss per epoch, mean ± std across the seeds of each counted condition."""
    from . import plots

    groups = counted.groups()
    hist = query.histories([r.run_id for runs in groups.values() for r in runs], names.CURVES)
    return plots.condition_curves({lab: [hist[r.run_id] for r in runs] for lab, runs in groups.items()})
