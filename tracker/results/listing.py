"""The listings a user reads first: the experiments in a store, and the runs of one (or of all,
or of a sweep). Numbers stay numbers (seed, epochs, accuracies), so csv and json keep their
types; the table and markdown show accuracies in %.

    tracker experiments
    tracker runs --experiment mnist-demo --format json
"""
from __future__ import annotations

import datetime
import math

import pandas as pd

from .. import names
from ..study import REFERENCE
from ..tracking.records import RunRecord, grid_keys

PARAMS = ("norm", "seed", "epochs")  # the params a listing shows, with the keys the runs swept
ACCURACIES = {j.metric: j.title.split(" (")[0] for j in REFERENCE  # metric -> its title
              if j.metric in (names.TEST_ACC, names.TEST_ACC_BEST)}
MACHINE = ("csv", "json")  # formats that keep the values: accuracies as fractions in [0, 1]


def _number(text: str):
    """A param's text as int or float when it is one, else the text ('' stays '')."""
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            pass
    return text


def swept(runs: list[RunRecord]) -> list[str]:
    """The grid keys the runs were swept over (a sweep's children carry them), first seen first,
    other than those every listing shows."""
    out: list[str] = []
    for r in runs:
        out += [k for k in grid_keys(r.tags) if k not in PARAMS and k not in out]
    return out


def runs_table(runs: list[RunRecord], experiments: dict[str, str] | None = None) -> pd.DataFrame:
    """One row a run: id, (experiment,) name, status, key params and the swept keys, final and
    best test accuracy (fractions), duration. experiments: experiment id -> name, when the runs
    come from several."""
    params = [*PARAMS, *swept(runs)]
    columns = ["run_id", *(["experiment"] if experiments else []), "name", "status", *params,
               *ACCURACIES, "duration_s"]
    rows = [{"run_id": r.run_id, "experiment": (experiments or {}).get(r.experiment_id, ""),
             "name": r.name, "status": r.status, **{p: _number(r.params.get(p, "")) for p in params},
             **{k: r.metrics.get(k, math.nan) for k in ACCURACIES},
             "duration_s": round(r.seconds, 1)} for r in runs]
    return pd.DataFrame(rows, columns=columns)


def shown(frame: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """The table as a format shows it: csv and json keep the values (accuracies as fractions);
    table and markdown show accuracies in %, as compare does."""
    if fmt in MACHINE:
        return frame
    out = frame.copy()
    for key in ACCURACIES:
        out[key] = [f"{v * 100:.2f}" if isinstance(v, float) and math.isfinite(v) else "" for v in frame[key]]
    return out.rename(columns=ACCURACIES)


def worth_listing(found: list[dict]) -> list[dict]:
    """The experiments to show: all but MLflow's own empty Default (id 0), which every new
    store has and tracker never uses."""
    return [e for e in found if e["runs"] or e["experiment_id"] != "0"]


def experiments_table(found: list[dict]) -> pd.DataFrame:
    """One row an experiment: name, id, runs, when its newest run started (UTC)."""
    def when(ms):
        return "" if ms is None else datetime.datetime.fromtimestamp(
            ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")

    rows = [{"experiment": e["name"], "id": e["experiment_id"], "runs": e["runs"],
             "newest run (UTC)": when(e["newest_start"])} for e in found]
    return pd.DataFrame(rows, columns=["experiment", "id", "runs", "newest run (UTC)"])
