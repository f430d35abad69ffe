"""The embedded store read with sqlite3, without importing mlflow: a few queries for a whole
experiment, one for the per-epoch histories of many runs.

It knows MLflow's schema only at the revisions in SCHEMAS (MLflow records its revision in the
`alembic_version` table); at any other, the readers return None and the caller asks MLflow's
own client (tracking/store.py).

    tracker compare --experiment mnist-demo
"""
from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from ..errors import TrackingError
from ..settings import SQLITE
from .records import RunRecord, Selection, check_sweep, keep, metric_value
from .uri import no_store

# alembic revisions of MLflow's SQL schema this reader was written and tested against
# (tests/test_query_paths.py): dc11669786a5 is MLflow 3.17's head
SCHEMAS = frozenset({"dc11669786a5"})


def schema_revision(db: Path) -> str | None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("select version_num from alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None
    finally:
        con.close()


def read_sqlite(db: Path, experiment: str | None, sweep: str | None) -> Selection | None:
    """The runs of an experiment, or of a sweep's children; None at an unknown schema."""
    where = f"{SQLITE}{db}"
    if not db.exists():
        what = f"run {sweep!r}" if sweep else f"experiment {experiment!r}"
        raise TrackingError(f"{what} not found: {no_store(db)}")
    if schema_revision(db) not in SCHEMAS:
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sweep_tags = None
        if sweep:
            row = con.execute("select r.experiment_id, e.name from runs r join experiments e "
                              "on e.experiment_id = r.experiment_id where r.run_uuid = ? and "
                              "r.lifecycle_stage = 'active'", (sweep,)).fetchone()
            if row is None:
                raise TrackingError(f"run {sweep!r} not found at {where}")
            exp_id, experiment = row
            sweep_tags = dict(con.execute("select key, value from tags where run_uuid = ?", (sweep,)))
        else:
            row = con.execute("select experiment_id from experiments where name = ? and "
                              "lifecycle_stage = 'active'", (experiment,)).fetchone()
            if row is None:
                raise TrackingError(f"experiment {experiment!r} not found at {where}")
            exp_id = row[0]
        runs = {rid: RunRecord(rid, name or "", status, start_time=start or 0, end_time=end,
                               experiment_id=str(exp_id))
                for rid, name, status, start, end in con.execute(
                    "select run_uuid, name, status, start_time, end_time from runs "
                    "where experiment_id = ? and lifecycle_stage = 'active'", (exp_id,))}
        scope = ("run_uuid in (select run_uuid from runs where experiment_id = ? and "
                 "lifecycle_stage = 'active')")
        for key, value, rid in con.execute(f"select key, value, run_uuid from params where {scope}", (exp_id,)):
            runs[rid].params[key] = value
        for key, value, rid in con.execute(f"select key, value, run_uuid from tags where {scope}", (exp_id,)):
            runs[rid].tags[key] = value
        for key, value, is_nan, rid in con.execute(  # MLflow stored +-inf as +-FLOAT_MAX already
                f"select key, value, is_nan, run_uuid from latest_metrics where {scope}", (exp_id,)):
            runs[rid].metrics[key] = math.nan if is_nan else value
    finally:
        con.close()
    if sweep_tags is not None:
        check_sweep(sweep, sweep_tags)
    return keep(runs.values(), experiment, sweep, sweep_tags)


def read_histories(db: Path, run_ids: list[str], keys) -> dict[str, dict[str, list[float]]] | None:
    """Per run, each metric's values in step order (the last value logged at a step), in one
    query; None at an unknown schema."""
    if schema_revision(db) not in SCHEMAS:
        return None
    keys = list(keys)
    out: dict[str, dict[str, dict[int, float]]] = {rid: {k: {} for k in keys} for rid in run_ids}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for start in range(0, len(run_ids), 500):  # SQLite's limit on bound parameters
            chunk = run_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = con.execute(
                f"select run_uuid, key, step, value, is_nan from metrics where run_uuid in ({marks}) "
                f"and key in ({','.join('?' * len(keys))}) order by timestamp, step", (*chunk, *keys))
            for rid, key, step, value, is_nan in rows:
                out[rid][key][step] = metric_value(value, bool(is_nan))
    finally:
        con.close()
    return {rid: {k: [v for _, v in sorted(steps.items())] for k, steps in per.items()}
            for rid, per in out.items()}


