"""The comparison: the counted runs aggregated per condition across seeds (mean, std, interval,
Welch and Holm p, the difference to the best row), then rendered in one of render.FORMATS.

    tracker compare --experiment mnist-demo --by norm --format markdown
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..errors import UserError
from ..tracking import names, query
from . import epochs, render, stats
from .cells import cells
from .counted import Counted, count


def _common(values: pd.Series):
    """The shared value, as int when it is one; mixed values are joined."""
    distinct = sorted(set(values.astype(str)))
    if len(distinct) == 1:
        v = distinct[0]
        return int(v) if v.isdigit() else v
    return "/".join(distinct)


def aggregate(counted: Counted, target: float | None = None, history: dict | None = None) -> pd.DataFrame:
    """One row per condition, best mean test accuracy first. With the runs' per-epoch `history`
    (epochs.HISTORY_KEYS): the training seconds to a `target` test accuracy, and the test
    accuracy at the best validation epoch when the runs held out a validation split."""
    by, rows = counted.by, []
    for key, group in counted.counted.groupby(by, sort=False):
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
    return pd.DataFrame([{k: v for k, v in r.items() if k != "_best"} for r in rows])


def _from_history(runs: list[dict], target: float | None) -> dict:
    out = {}
    if target is not None:
        times = [t for t in (epochs.time_to_target(h, target) for h in runs) if t is not None]
        out["time_to_target"] = target
        out["time_to_target_mean_s"], out["time_to_target_std_s"] = (
            stats.mean_std(times) if times else (math.nan, math.nan))
        out["time_to_target_reached"] = len(times)
    if any(h.get(names.VAL_ACC) for h in runs):
        out["test_acc_at_best_val_mean"], out["test_acc_at_best_val_std"] = stats.mean_std(
            [epochs.at_best_val(h) for h in runs])
    return out


@dataclass
class Comparison:
    """What `compare` found: the counted runs and one row per condition."""
    counted: Counted
    rows: pd.DataFrame
    experiment: str

    @property
    def footnote(self) -> str:
        return self.counted.footnote()

    def render(self, fmt: str = "table", figure=None) -> str:
        if fmt in ("json", "csv"):
            return render.table(self.rows, fmt)
        view = cells(self.rows, self.counted.by)
        if fmt != "html":
            return render.table(view, fmt)
        blocks = [("table", view)]
        if figure is not None:
            blocks.append(("img", png(figure), "test accuracy and loss per epoch"))
        return render.html(blocks, title="tracker compare")


def png(figure) -> bytes:
    import io

    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def compare(experiment: str | None, sweep: str | None, filter_string: str = "",
            by: tuple[str, ...] = (), target: float | None = None) -> Comparison:
    """Select the runs, count them by condition, aggregate. target: also the training seconds
    each condition took to reach that test accuracy."""
    target = None if target is None else epochs.parse_target(target)
    found = query.select(experiment, sweep, filter_string)
    what = f"sweep {sweep}" if sweep else f"experiment {found.experiment!r}"
    if not found.runs:
        raise UserError(f"no runs match: {what} has no training runs"
                        + (f" that match the filter {filter_string!r}" if filter_string else ""))
    counted = count(found, by)
    if counted.counted.empty:
        raise UserError(f"no runs match: none of the {len(found.runs)} runs of {what} counts "
                        f"({counted.footnote().split(': ', 1)[-1]})")
    history = None
    if target is not None or any(names.VAL_ACC in r.metrics for r in found.runs):
        history = query.histories([r.run_id for r in found.runs], epochs.HISTORY_KEYS)
    return Comparison(counted, aggregate(counted, target, history), found.experiment)


def condition_curves(counted: Counted):
    """Test accuracy and loss per epoch, mean ± std across the seeds of each counted condition."""
    from . import plots

    groups = counted.groups()
    hist = query.histories([r.run_id for runs in groups.values() for r in runs], names.CURVES)
    return plots.condition_curves({lab: [hist[r.run_id] for r in runs] for lab, runs in groups.items()})
