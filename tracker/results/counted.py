"""Which runs count, computed once per command: the runs as one DataFrame (a row a run: its
condition, seed, id, status and the metrics compare reads), why each run left out is left out
(not FINISHED, no judged metric or a non-finite one, or a second run of a seed already counted),
the conditions and their runs, and which run is a condition's best.

    tracker compare --experiment mnist-demo --by norm
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import names
from ..config import DEFAULT_CONDITION, FIELDS, NAMING, PLACEMENT
from ..errors import UserError
from ..study import REFERENCE, Judged
from ..tracking.records import FLOAT_MAX, RunRecord, Selection

SEED = "seed"  # the param that names a run's seed (tracker's config key; --seed-param for others)
# what a run contributes to its condition's row beside the judged metric
READ = (*(j.metric for j in REFERENCE), names.EPOCH_TIME_MEAN)


def has_validation(runs: list[RunRecord]) -> bool:
    """Whether the runs held out a validation split (then best_val is judged by default)."""
    return any(names.VAL_ACC in r.metrics for r in runs)


def _identity(r: RunRecord, same: list[str], seed: str) -> str:
    """What makes two runs the same point: tracker's config (placement aside) for its own runs,
    every param but the seed for runs tracker did not make."""
    if names.KIND in r.tags:
        return "|".join(r.params.get(k, "") for k in same)
    return "|".join(f"{k}={v}" for k, v in sorted(r.params.items()) if k != seed)


def runs_frame(runs: list[RunRecord], by: list[str], judged: Judged, seed: str = SEED) -> pd.DataFrame:
    """One row a run: its condition (the `by` columns), then its id, status, seed, start and the
    metrics compare reads, each prefixed `_` (MLflow's +-inf, stored as +-FLOAT_MAX, back to
    infinities)."""
    columns = {k: [r.params.get(k, "") for r in runs] for k in by}  # built by column: fast
    same = [k for k in FIELDS if k not in (*NAMING, *PLACEMENT)]
    columns.update(_run_id=[r.run_id for r in runs], _status=[r.status for r in runs],
                   _config=[_identity(r, same, seed) for r in runs],
                   _seed=[r.params.get(seed, "") for r in runs], _start=[r.start_time for r in runs],
                   _params_total=[r.params.get(names.PARAMS_TOTAL, "") for r in runs],
                   _epochs=[r.params.get("epochs", "") for r in runs])
    read = list(dict.fromkeys((judged.metric, *READ)))
    cols = ["_" + m for m in read]
    for m, col in zip(read, cols):
        columns[col] = np.array([r.metrics.get(m, math.nan) for r in runs], dtype=float)
        columns["_has" + col] = [m in r.metrics for r in runs]  # missing, not logged as NaN
    frame = pd.DataFrame(columns)
    values = frame[cols].astype(float)
    frame[cols] = values.where(values.abs() < FLOAT_MAX, np.sign(values) * np.inf)
    return frame


def exclusions(frame: pd.DataFrame, by: list[str], judged: Judged) -> pd.Series:
    """Why a run does not count (empty string: it counts): not FINISHED, no judged metric or a
    non-finite one, or a second run of the same config and seed (the newest one counts). Runs
    with no seed each count as one replicate."""
    column = "_" + judged.metric
    value = frame[column].to_numpy()
    reason = pd.Series("", index=frame.index)
    reason[~np.isfinite(value)] = f"non-finite {judged.metric}"
    missing = ~frame["_has" + column].astype(bool)
    reason[missing] = "no validation split" if judged.metric == names.TEST_ACC_AT_BEST_VAL else f"no {judged.metric}"
    finished = frame["_status"] == "FINISHED"
    reason[~finished] = "status " + frame.loc[~finished, "_status"]
    ok = frame[(reason == "") & (frame["_seed"] != "")].sort_values("_start", kind="stable")
    repeated = ok.duplicated(subset=[*by, "_config", "_seed"], keep="last")  # one seed is one seed, not n = 2
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
    judged: Judged
    seeded: bool = True  # the runs name their seed; False: each run is one replicate
    seed: str = SEED  # the param that names a run's seed

    @property
    def counted(self) -> pd.DataFrame:
        return self.frame[self.reason == ""]

    @property
    def column(self) -> str:
        """The frame's column of the judged metric."""
        return "_" + self.judged.metric

    @property
    def excluded(self) -> dict[str, int]:
        counts = self.reason[self.reason != ""].value_counts().to_dict()
        return {str(k): int(v) for k, v in counts.items()}

    def by_condition(self):
        """(label, counted rows) of each condition, in the order the conditions first appear."""
        for key, group in self.counted.groupby(self.by, sort=False):
            yield label(self.by, key if isinstance(key, tuple) else (key,)), group

    def groups(self) -> dict[str, list[RunRecord]]:
        """Each condition's counted runs, by label, in the order the conditions first appear."""
        by_id = {r.run_id: r for r in self.runs}
        return {lab: [by_id[rid] for rid in group["_run_id"]] for lab, group in self.by_condition()}

    def values(self) -> dict[str, list[float]]:
        """Each condition's judged metric over its counted runs, by label."""
        return {lab: list(group[self.column]) for lab, group in self.by_condition()}

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
    return keys or [k for k in grid_keys if k != SEED] or list(DEFAULT_CONDITION)


def conditions(found: Selection, by: tuple[str, ...], seed: str = SEED) -> list[str]:
    """The params that define a condition (default_by), each one some run here has."""
    keys = default_by(by, found.grid_keys)
    if seed in keys:
        raise UserError(f"--by {seed!r}: the seed is what each condition is repeated over, not a condition")
    known = set().union(*(r.params for r in found.runs))
    unknown = [k for k in keys if found.runs and k not in known]
    if unknown:
        raise UserError(f"--by {unknown[0]!r}: no run here has that param; they have: {', '.join(sorted(known))}")
    return keys


def count(found: Selection, by: tuple[str, ...], judged: Judged, seed: str = SEED) -> Counted:
    """The selection's runs grouped by condition, which count and why the others do not."""
    keys = conditions(found, by, seed)
    frame = runs_frame(found.runs, keys, judged, seed)
    seeded = bool((frame["_seed"] != "").any())
    return Counted(found.runs, keys, frame, exclusions(frame, keys, judged), judged, seeded, seed)


def best_runs(runs: list[RunRecord], judged: Judged, by: list[str]) -> list[RunRecord]:
    """The run with the best judged metric (by its goal) of each condition of `by` (one run when
    by is empty)."""
    best: dict[tuple, RunRecord] = {}
    for r in runs:
        value = r.metrics.get(judged.metric)
        if value is None or not math.isfinite(value):
            continue
        key = tuple(r.params.get(k, "") for k in by)
        if key not in best or judged.better(value - best[key].metrics[judged.metric]):
            best[key] = r
    return list(best.values())
