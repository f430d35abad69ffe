"""The listings a user reads first: the experiments in a store, and the runs of one (or of all).
Numbers stay numbers (seed, epochs, accuracies), so csv and json keep their types.

    tracker experiments
    tracker runs --experiment mnist-demo --format json
"""
from __future__ import annotations

import datetime
import math

import pandas as pd

from .. import names
from ..tracking.records import RunRecord

PARAMS = ("norm", "seed", "epochs")  # the params a listing shows


def _number(text: str):
    """A param's text as int or float when it is one, else the text ('' stays '')."""
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            pass
    return text


def runs_table(runs: list[RunRecord], experiments: dict[str, str] | None = None) -> pd.DataFrame:
    """One row a run: id, (experiment,) name, status, key params, best test accuracy, duration.
    experiments: experiment id -> name, when the runs come from several."""
    columns = ["run_id", *(["experiment"] if experiments else []), "name", "status", *PARAMS,
               names.TEST_ACC_BEST, "duration_s"]
    rows = [{"run_id": r.run_id, "experiment": (experiments or {}).get(r.experiment_id, ""),
             "name": r.name, "status": r.status, **{p: _number(r.params.get(p, "")) for p in PARAMS},
             names.TEST_ACC_BEST: r.metrics.get(names.TEST_ACC_BEST, math.nan),
             "duration_s": round(r.seconds, 1)} for r in runs]
    return pd.DataFrame(rows, columns=columns)


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
