"""Runs as plain records, whichever path read them, and the rules every path shares: which
runs a selection keeps, and its grid keys. No mlflow here.

    tracker runs --experiment mnist-demo --format csv
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .. import names

FLOAT_MAX = 1.7976931348623157e308  # MLflow stores +-inf as +-this and reads it back so
NOT_COUNTED = (*names.SUMMARIES, names.TRIAL_KIND)  # runs of these kinds are never a condition's replicate


@dataclass
class RunRecord:
    """One run: no MLflow objects."""
    run_id: str
    name: str
    status: str
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    start_time: int = 0  # ms since the epoch
    end_time: int | None = None
    experiment_id: str = ""

    @property
    def seconds(self) -> float:
        return ((self.end_time or self.start_time) - self.start_time) / 1000


def metric_value(value, is_nan: bool = False) -> float:
    """A stored metric as MLflow reads it: NaN when flagged, infinities clamped to +-FLOAT_MAX."""
    if is_nan:
        return math.nan
    value = float(value)  # the REST API's JSON spells out "NaN" and "Infinity"
    if math.isnan(value):
        return math.nan
    return max(-FLOAT_MAX, min(FLOAT_MAX, value))


@dataclass
class Selection:
    runs: list[RunRecord]
    experiment: str
    grid_keys: list[str]  # of the sweep, or of the sweeps every kept run came from
    study: str | None = None  # the declared analysis (JSON) of that sweep, if it declared one
    grid: dict[str, list[str]] = field(default_factory=dict)  # that sweep's values, in its file's order
    sweep: str | None = None  # that sweep's parent run, when the runs all come from one
    decisions: str | None = None  # the decisions its adaptive plan made so far (JSON), if any


def keep(runs, experiment: str, sweep: str | None, sweep_tags: dict | None = None) -> Selection:
    """Training runs only (not sweep parents, nor a sweep's condition runs), and only a sweep's
    children when asked. The
    runs' grid and declared analysis are their sweep's (the parent's tags, given, or found among
    `runs` when every run kept comes from one sweep), else what all the runs share."""
    runs = list(runs)
    out = [r for r in runs if r.tags.get(names.KIND) not in NOT_COUNTED
           and (not sweep or r.tags.get(names.PARENT) == sweep)]
    out.sort(key=lambda r: (r.start_time, r.run_id))
    parent_id = sweep
    if sweep_tags is None:
        parents = {r.tags.get(names.PARENT) for r in out}
        if len(parents) == 1 and None not in parents:
            parent_id = parents.pop()
            sweep_tags = next((r.tags for r in runs if r.run_id == parent_id), None)
    keys = grid_keys(sweep_tags or {})
    if not keys:
        grids = {r.tags.get(names.GRID_KEYS, "") for r in out}
        keys = [k for k in grids.pop().split(",") if k] if len(grids) == 1 else []
    study = (sweep_tags or {}).get(names.STUDY)
    if sweep_tags is None:
        studies = {r.tags.get(names.STUDY) for r in out}
        study = studies.pop() if len(studies) == 1 else None
    return Selection(out, experiment, keys, study, grid_values(sweep_tags or {}),
                     parent_id if sweep_tags is not None else None, (sweep_tags or {}).get(names.DECISIONS))


def grid_values(tags: dict) -> dict[str, list[str]]:
    """A sweep parent's grid, each value as its children logged it (str of the TOML value)."""
    out = {}
    for k in grid_keys(tags):
        if names.GRID + k in tags:
            try:
                out[k] = [str(v) for v in json.loads(tags[names.GRID + k])]
            except (ValueError, TypeError):
                continue
    return out


def grid_keys(tags: dict) -> list[str]:
    return [k for k in tags.get(names.GRID_KEYS, "").split(",") if k]


def is_sweep_parent(tags: dict) -> bool:
    return tags.get(names.KIND) == names.SWEEP_KIND


def check_sweep(run_id: str, tags: dict) -> None:
    """A --sweep RUN_ID that is not a sweep's parent run is one line."""
    from ..errors import TrackingError

    if not is_sweep_parent(tags):
        raise TrackingError(f"run {run_id!r} is not a sweep's parent run")
