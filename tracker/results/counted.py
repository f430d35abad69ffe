"""Which runs count, computed once per command: the runs as one DataFrame (a row a run: its
condition, id, status and the metrics compare reads), why each run left out is left out, the
conditions and their runs, and which run is a condition's best.

    tracker compare --experiment mnist-demo --by norm
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import DEFAULT_CONDITION
from ..errors import UserError
from ..tracking import names
from ..tracking.records import FLOAT_MAX, RunRecord, Selection

# what a run contributes to its condition's row
METRICS = (names.TEST_ACC_BEST, names.TEST_ACC, names.TRAIN_ACC_BEST, names.EPOCH_TIME_MEAN)



def runs_frame(runs: list[RunRecord], by: list[str]) -> pd.DataFrame:
    """One row a run: its condition (the `by` columns), then its id, status and the metrics
    compare reads, each prefixed `_` (MLflow's +-inf, stored as +-FLOAT_MAX, back to infinities)."""
    columns = {k: [r.params.get(k, "") for r in runs] for k in by}  # built by column: fast
    columns.update(_run_id=[r.run_id for r in runs], _status=[r.status for r in runs],
                   _has_best=[(names.TEST_ACC_BEST in r.metrics) for r in runs],
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
    best = frame["_" + names.TEST_ACC_BEST]
    reason = pd.Series("", index=frame.index)
    reason[~np.isfinite(best.to_numpy())] = "non-finite test accuracy"
    reason[~frame["_has_best"].astype(bool)] = "no test accuracy"
    finished = frame["_status"] == "FINISHED"
    reason[~finished] = "status " + frame.loc[~finished, "_status"]
    return reason


def label(by: list[str], values) -> str:
    """A condition's name: norm=batch precision=bf16."""
    return " ".join(f"{k}={v}" for k, v in zip(by, values))


@dataclass
class Counted:
    """The runs of a selection, which count, and why the others do not."""
    runs: list[RunRecord]
    by: list[str]
    frame: pd.DataFrame
    reason: pd.Series

    @property
    def counted(self) -> pd.DataFrame:
        return self.frame[self.reason == ""]

    @property
    def excluded(self) -> dict[str, int]:
        counts = self.reason[self.reason != ""].value_counts().to_dict()
        return {str(k): int(v) for k, v in counts.items()}

    def groups(self) -> dict[str, list[RunRecord]]:
        """Each condition's counted runs, by label, in the order the conditions first appear."""
        by_id = {r.run_id: r for r in self.runs}
        out: dict[str, list[RunRecord]] = {}
        for key, group in self.counted.groupby(self.by, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            out[label(self.by, key)] = [by_id[rid] for rid in group["_run_id"]]
        return out

    def footnote(self) -> str:
        excluded = self.excluded
        if not excluded:
            return ""
        parts = ", ".join(f"{n} with {reason}" for reason, n in sorted(excluded.items()))
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


def count(found: Selection, by: tuple[str, ...] = ()) -> Counted:
    """The selection's runs grouped by condition, which count and why the others do not."""
    keys = conditions(found, by)
    frame = runs_frame(found.runs, keys)
    return Counted(found.runs, keys, frame, exclusions(frame))


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
