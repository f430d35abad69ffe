"""Tracking calls replayed against the server: one buffered call at a time (a live run's
sender and `tracker sync` both use apply_op), and every run's outbox once the server is back.

    tracker sync
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import TrackingError
from . import logged_model
from .client import client, edge, ensure_experiment, unreachable
from .outbox import Outbox
from .uri import local_uri, redact


# a unique key violated, as PostgreSQL, SQLite and MySQL word it
DUPLICATE = re.compile(r"UniqueViolation|duplicate key|UNIQUE constraint failed|Duplicate entry")
Rebuild = Callable[[str], object]  # local run id -> its ml.inference.Package, from its checkpoint


def apply_op(c: MlflowClient, box: Outbox, op: dict, rebuild: Rebuild | None = None) -> None:
    """One buffered call against the server."""
    kind, run_id = op["op"], box.target()
    if kind == "create":  # a run started --offline gets its server id now
        exp_id = ensure_experiment(c, op["experiment"])
        box.set_target(c.create_run(exp_id, start_time=op["start_time"], run_name=op["run_name"],
                                    tags=op["tags"]).info.run_id)
    elif kind == "batch":
        c.log_batch(run_id, metrics=[Metric(k, v, ts, step) for k, v, ts, step in op.get("metrics", [])],
                    params=[Param(k, v) for k, v in op.get("params", [])],
                    tags=[RunTag(k, v) for k, v in op.get("tags", [])])
    elif kind == "artifact":
        if Path(op["path"]).exists():
            c.log_artifact(run_id, op["path"], op["dir"])
    elif kind == "inputs":
        _log_inputs(c, run_id, op["datasets"])
    elif kind == "terminate":
        c.set_terminated(run_id, op["status"], op["end_time"])
    elif kind == "model":
        if rebuild is None:
            raise TrackingError(f"run {box.key}: its model can only be logged by `tracker sync`")
        logged_model.log(c, run_id, rebuild(box.key))
    else:
        raise ValueError(f"unknown buffered op {kind!r}")


def _log_inputs(c: MlflowClient, run_id: str, datasets: list[dict], tries: int = 3) -> None:
    """MLflow's store looks the datasets up, then inserts those it lacks: runs started at once
    that read the same data race to insert it, and all but one hit the unique key. The insert
    is rolled back, and the next try finds the dataset the winner inserted."""
    from .inputs import entity

    for attempt in range(tries):
        try:
            c.log_inputs(run_id, datasets=[entity(d) for d in datasets])
            return
        except MlflowException as e:
            if attempt == tries - 1 or not DUPLICATE.search(str(e)):
                raise
            time.sleep(0.2 * (attempt + 1))


@edge
def sync(rebuild: Rebuild) -> dict[str, int]:
    """Replay every run's outbox; returns run id -> calls replayed (or -1: server still down).
    `rebuild` makes a run's model from its checkpoint, for a model that waited for the server."""
    from . import outbox

    waiting = outbox.waiting()
    if not waiting:
        return {}
    try:
        c = client()
    except TrackingError:
        raise TrackingError(f"tracking server {redact(local_uri())} is still unreachable; the "
                            f"calls of {len(waiting)} run(s) stay in {outbox.folder()}: start the "
                            "server, then run `tracker sync` again") from None
    done = {}
    for run_id in waiting:
        box = Outbox(run_id)
        try:
            done[run_id] = box.replay(lambda op: apply_op(c, box, op, rebuild))
        except Exception as e:
            if not unreachable(e):
                raise
            done[run_id] = -1
    return done
