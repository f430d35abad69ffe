"""Which runs count, computed once per command: the runs as one DataFrame (a row a run: its
condition, seed, id, status and the metrics compare reads), why each run left out is left out
(not FINISHED, no judged metric, or a second run of a seed already counted), the conditions
and their runs, and which run is a condition's best.

    tracker compare --experiment mnist-demo --by norm
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import DEFAULT_CONDITION, FIELDS
from ..errors import UserError
from .. import names
from ..tracking.records import FLOAT_MAX, RunRecord, Selection

# what a run contributes to its condition's row
METRICS = (names.TEST_ACC, names.TEST_ACC_BEST, names.TEST_ACC_AT_BEST_VAL, names.TRAIN_ACC_BEST,
           names.EPOCH_TIME_MEAN)
WHERE = ("run_name", "experiment", "data_dir", "download", "device")  # not what a run computes
# the study's metric (study.METRICS) -> the run's metric, and the key its statistics carry
JUDGED = {"final": (names.TEST_ACC, "test_acc_final"), "best_test": (names.TEST_ACC_BEST, "test_acc_best"),
          "best_val": (names.TEST_ACC_AT_BEST_VAL, "test_acc_at_best_val")}


def judged_metric(declared: str | None, runs: list[RunRecord]) -> str:
    """The metric a study is judged on: as declared, else the test accuracy at the best
    validation epoch when the runs held out a validation split, else the final one."""
    if declared:
        return declared
    return "best_val" if any(names.VAL_ACC in r.metrics for r in runs) else "final"


def runs_frame(runs: list[RunRecord], by: list[str]) -> pd.DataFrame:
    """One row a run: its condition (the `by` columns), then its id, status, seed, start and the
    metrics compare reads, each prefixed `_` (MLflow's +-inf, stored as +-FLOAT_MAX, back to
    infinities)."""
    columns = {k: [r.params.get(k, "") for r in runs] for k in by}  # built by column: fast
    same = [k for k in FIELDS if k not in WHERE]
    columns.update(_run_id=[r.run_id for r in runs], _status=[r.status for r in runs],
                   _config=["|".join(r.params.get(k, "") for k in same) for r in runs],
                   _seed=[r.params.get("seed", "") for r in runs], _start=[r.start_time for r in runs],
                   _params_total=[r.params.get("params_total", "") for r in runs],
                   _epochs=[r.params.get("epochs", "") for r in runs])
    cols = ["_" + m for m in METRICS]
    for m, col in zip(METRICS, cols):
        columns[col] = np.array([r.metrics.get(m, math.nan) for r in runs], dtype=float)
        columns["_has" + col] = [m in r.metrics for r in runs]  # missing, not logged as NaN
    frame = pd.DataFrame(columns)
    values = frame[cols].astype(float)
    frame[cols] = values.where(values.abs() < FLOAT_MAX, np.sign(values) * np.inf)
    return frame


def exclusions(frame: pd.DataFrame, by: list[str], metric: str = "final") -> pd.Series:
    """Why a run does not count (empty string: it counts): not FINISHED, no judged metric or a
    non-finite one, or a second run of the same config, seed included (the newest one counts)."""
    column = "_" + JUDGED[metric][0]
    value = frame[column].to_numpy()
    reason = pd.Series("", index=frame.index)
    reason[~np.isfinite(value)] = "non-finite test accuracy"
    missing = ~frame["_has" + column].astype(bool)
    reason[missing] = "no test accuracy" if metric != "best_val" else "no validation split"
    finished = frame["_status"] == "FINISHED"
    reason[~finished] = "status " + frame.loc[~finished, "_status"]
    ok = frame[(reason == "") & (frame["_seed"] != "")].sort_values("_start", kind="stable")
    repeated = ok.duplicated(subset=[*by, "_config"], keep="last")  # one seed is one seed, not n = 2
    reason[repeated[repeated].index] = "a duplicate of a seed already counted"
    return reason


def label(by: list[str], values) -> str:
    """A condition's name: norm=batch precision=bf16."""
    return " ".join(f"{k}={v}" for k, v in zip(by, values))


def baseline_label(labels: list[str], by: list[str], declared: str, what: str = "--baseline") -> str:
    """A declared baseline as a condition's label: given as the label (norm=batch), or as its
    value (batch) when one key defines a condition."""
    for lab in labels:
        if declared == lab or (len(by) == 1 and lab == label(by, [declared])):
            return lab
    raise UserError(f"{what} {declared!r}: no condition is {declared!r}; the conditions are "
                    + ", ".join(labels))


@dataclass
class Counted:
    """The runs of a selection, which count, why the others do not, and the judged metric."""
    runs: list[RunRecord]
    by: list[str]
    frame: pd.DataFrame
    reason: pd.Series
    metric: str  # study.METRICS

    @property
    def counted(self) -> pd.DataFrame:
        return self.frame[self.reason == ""]

    @property
    def judged(self) -> str:
        """The frame's column of the judged metric."""
        return "_" + JUDGED[self.metric][0]

    @property
    def excluded(self) -> dict[str, int]:
        counts = self.reason[self.reason != ""].value_counts().to_dict()
        return {str(k): int(v) for k, v in counts.items()}

    def _conditions(self):
        """(label, counted rows) of each condition, in the order the conditions first appear."""
        for key, group in self.counted.groupby(self.by, sort=False):
            yield label(self.by, key if isinstance(key, tuple) else (key,)), group

    def groups(self) -> dict[str, list[RunRecord]]:
        """Each condition's counted runs, by label, in the order the conditions first appear."""
        by_id = {r.run_id: r for r in self.runs}
        return {lab: [by_id[rid] for rid in group["_run_id"]] for lab, group in self._conditions()}

    def values(self) -> dict[str, list[float]]:
        """Each condition's judged metric over its counted runs, by label."""
        return {lab: list(group[self.judged]) for lab, group in self._conditions()}

    def footnote(self) -> str:
        excluded = self.excluded
        if not excluded:
            return ""
        parts = ", ".join(f"{n} with {reason}" if not reason.startswith("a duplicate") else f"{n} {reason}"
                          for reason, n in sorted(excluded.items()))
        return f"left out {sum(excluded.values())} run(s) that did not count: {parts}"


def default_by(by: tuple[str, ...], grid_keys: list[str]) -> list[str]:
    """--by a,b or --by a --by b; else the grid keys minus seed; else DEFAULT_CONDITION."""
    keys = [k.strip() for item in by for k in item.split(",") if k.strip()]
    return keys or [k for k in grid_keys if k != "seed"] or list(DEFAULT_CONDITION)


def conditions(found: Selection, by: tuple[str, ...]) -> list[str]:
    """The params that define a condition (default_by), each one some run here has."""
    keys = default_by(by, found.grid_keys)
    known = set().union(*(r.params for r in found.runs))
    unknown = [k for k in keys if found.runs and k not in known]
    if unknown:
        raise UserError(f"--by {unknown[0]!r}: no run here has that param; they have: {', '.join(sorted(known))}")
    return keys


def count(found: Selection, by: tuple[str, ...] = (), metric: str = "final") -> Counted:
    """The selection's runs grouped by condition, which count and why the others do not."""
    keys = conditions(found, by)
    frame = runs_frame(found.runs, keys)
    return Counted(found.runs, keys, frame, exclusions(frame, keys, metric), metric)


def best_runs(runs: list[RunRecord], metric: str, by: list[str]) -> list[RunRecord]:
    """The run with the highest `metric` of each condition of `by` (one run when by is empty)."""
    best: dict[tuple, RunRecord] = {}
    for r in runs:
        if metric not in r.metrics:
            continue
        key = tuple(r.params.get(k, "") for k in by)
        if key not in best or r.metrics[metric] > best[key].metrics[metric]:
            best[key] = r
    return list(best.values())
