"""The comparison: the counted runs aggregated per condition across seeds (mean, spread,
interval of the judged metric), each condition judged against the baseline (a verdict with its
reason, power, seeds needed) and checked for confounds, then rendered in one of render.FORMATS.

    tracker compare --experiment mnist-demo --by norm --format markdown
    tracker compare --sweep PARENT_RUN_ID --margin 0.1 --baseline batch
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import names
from ..errors import NoRunsMatch
from ..study import POWER, Judged, Study
from ..tracking import query
from . import per_epoch, render
from .aggregate import Judging, aggregate
from .counted import SEED, Counted, count, has_validation


@dataclass
class Comparison:
    """What `compare` found: the counted runs, one row per condition, the analysis used, and
    how it is shown (the judged metric's units, the intervals' level, the power)."""
    counted: Counted
    rows: pd.DataFrame
    experiment: str
    study: Study  # the analysis used (declared, with the options over it)
    declared: Study | None  # what the sweep logged, if it logged one
    found: Judging  # the baseline and its rule, confounds, MCB, spreads out of range
    power: float = POWER

    @property
    def baseline(self) -> str:
        return self.found.baseline

    @property
    def baseline_rule(self) -> str:
        """declared | the grid's first value | the first condition in sorted order"""
        return self.found.rule

    @property
    def confounds(self) -> dict:
        return self.found.confounds

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
    if not judged.percent:  # any metric the runs logged: judged as they logged it
        _logged(found.runs, judged, what)
    history = None
    needs_history = judged.metric == names.TEST_ACC_AT_BEST_VAL and any(
        names.TEST_ACC_AT_BEST_VAL not in r.metrics for r in found.runs)
    if target is not None or needs_history:
        history = query.histories([r.run_id for r in found.runs], per_epoch.HISTORY_KEYS)
        for r in found.runs:  # runs from before the metric was logged: from their epochs
            if names.TEST_ACC_AT_BEST_VAL not in r.metrics and history[r.run_id].get(names.VAL_ACC):
                r.metrics[names.TEST_ACC_AT_BEST_VAL] = per_epoch.at_best_val(history[r.run_id])
    if judged.at == "best":
        best_steps(found.runs, judged)
    counted = count(found, by, judged, seed_param)
    if counted.counted.empty:
        raise NoRunsMatch(f"no runs match: none of the {len(found.runs)} runs of {what} counts "
                          f"({counted.footnote().split(': ', 1)[-1]})")
    decisions = found.decisions if declared is not None and used == declared else None  # made under this analysis
    rows, judging = aggregate(counted, used, found.grid, target, history, decisions)
    return Comparison(counted, rows, found.experiment, used, declared, judging)


def _logged(runs: list, judged: Judged, what: str) -> None:
    """A metric key that no run logged is one line naming the keys the runs have."""
    if not any(judged.metric in r.metrics for r in runs):
        keys = sorted({k for r in runs for k in r.metrics if not k.startswith("system/")})
        raise NoRunsMatch(f"--metric-key {judged.metric!r}: no run of {what} logged it; they logged: "
                          + (", ".join(keys) or "no metrics"))


def best_steps(runs: list, judged: Judged) -> None:
    """Each run's metric as its best step's value, by the goal (NaN steps skipped): --at best."""
    import math

    hist = query.histories([r.run_id for r in runs if judged.metric in r.metrics], [judged.metric])
    pick = max if judged.goal == "maximize" else min
    for r in runs:
        steps = [v for v in hist.get(r.run_id, {}).get(judged.metric, []) if not math.isnan(v)]
        if steps:
            r.metrics[judged.metric] = pick(steps)


def condition_curves(counted: Counted, level: float):
    """The judged metric's curve (test accuracy and loss for tracker's own runs) per step, the
    mean and its interval at `level` across the seeds of each counted condition; None when the
    runs logged it at one step only."""
    from . import plots

    groups, judged = counted.groups(), counted.judged
    keys = names.CURVES if judged.percent else (judged.metric,)
    hist = query.histories([r.run_id for runs in groups.values() for r in runs], keys)
    if max((len(h.get(keys[0], [])) for h in hist.values()), default=0) < 2:
        return None
    return plots.condition_curves({lab: [hist[r.run_id] for r in runs] for lab, runs in groups.items()},
                                  keys, level, {names.TEST_ACC: (0.0, 1.0), judged.metric: judged.bounds})
