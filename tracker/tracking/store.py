"""Runs searched and changed through MLflow's client; every answer a plain record. What only
reads asks the reader (no store is made where there is none); what writes, the client.

    tracker runs --experiment mnist-demo --stale
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Iterable

from mlflow.entities import Param, RunTag, ViewType

from ..settings import STALE_AFTER
from .. import names
from .client import client, edge, ensure_experiment, experiment_id, get, reader, record
from .records import RunRecord, Selection, is_sweep_parent, keep
from ..errors import TrackingError

MAX_RESULTS = 50000


@edge
def search(experiment: str | None, filter_string: str = "", order_by: list[str] | None = None) -> list[RunRecord]:
    """Every active run of an experiment (None: of every experiment) that matches an MLflow
    filter string."""
    c = reader()
    ids = [experiment_id(c, experiment)] if experiment is not None else [
        e.experiment_id for e in c.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    if not ids:
        return []
    found = c.search_runs(ids, filter_string=filter_string, run_view_type=ViewType.ACTIVE_ONLY,
                          max_results=MAX_RESULTS, order_by=order_by)
    return [record(r) for r in found]


@edge
def experiments() -> list[dict]:
    """The store's active experiments: name, id, how many runs, when the newest started (ms)."""
    c = reader()
    out = []
    for e in c.search_experiments(view_type=ViewType.ACTIVE_ONLY):
        runs = c.search_runs([e.experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                             max_results=MAX_RESULTS, order_by=["attributes.start_time DESC"])
        out.append({"name": e.name, "experiment_id": e.experiment_id, "runs": len(runs),
                    "newest_start": runs[0].info.start_time if runs else None})
    return out


@edge
def experiment_names() -> dict[str, str]:
    """The store's active experiments: id -> name (no runs read)."""
    return {e.experiment_id: e.name for e in reader().search_experiments(view_type=ViewType.ACTIVE_ONLY)}


@edge
def get_run(run_id: str) -> RunRecord:
    return record(get(reader(), run_id))


@edge
def select(experiment: str | None, sweep: str | None, filter_string: str = "") -> Selection:
    """The runs compare reads, through MLflow's own search (any store, any filter)."""
    sweep_tags = None
    if sweep:
        experiment, filter_string, sweep_tags = sweep_scope(sweep, filter_string)
    return keep(search(experiment, filter_string), experiment, sweep, sweep_tags)


@edge
def trials(sweep: str) -> list[RunRecord]:
    """A tuned sweep's trial runs (runs/tune.py), through MLflow's search."""
    experiment, filter_string, _ = sweep_scope(sweep, f"tags.`{names.KIND}` = '{names.TRIAL_KIND}'")
    return search(experiment, filter_string)


def _and(clause: str, filter_string: str) -> str:
    return f"{clause} and {filter_string}" if filter_string else clause


def sweep_scope(sweep: str, filter_string: str = "") -> tuple[str, str, dict]:
    """A sweep's children as a search: (its experiment, the filter that keeps its children,
    the parent's tags); a run that is not a sweep's parent is one line."""
    parent = get_run(sweep)
    if not is_sweep_parent(parent.tags):
        raise TrackingError(f"run {sweep!r} is not a sweep's parent run")
    experiment = reader().get_experiment(parent.experiment_id).name
    return experiment, _and(f"tags.`{names.PARENT}` = '{sweep}'", filter_string), parent.tags


@edge
def histories(run_ids: Iterable[str], keys: Iterable[str]) -> dict[str, dict[str, list[float]]]:
    """Per run, each metric's values in step order (the last value logged at a step)."""
    c = reader()

    def steps(rid, key):
        by_step = {m.step: m.value for m in sorted(c.get_metric_history(rid, key),
                                                   key=lambda m: (m.timestamp, m.step))}
        return [v for _, v in sorted(by_step.items())]

    return {rid: {k: steps(rid, k) for k in keys} for rid in run_ids}


@edge
def artifacts(run_id: str, path: str | None = None) -> list[str]:
    """Artifact paths of a run, folders expanded."""
    c = reader()
    out = []
    for a in c.list_artifacts(run_id, path):
        out += artifacts(run_id, a.path) if a.is_dir else [a.path]
    return out


def fetch_artifact(run_id: str, path: str, dest: Path) -> bool:
    """Download one artifact into dest; False when the run has no such artifact."""
    from mlflow.exceptions import MlflowException

    dest.mkdir(parents=True, exist_ok=True)
    try:
        reader().download_artifacts(run_id, path, str(dest))
        return True
    except (MlflowException, OSError):
        return False


@edge
def create_run(experiment: str, name: str, tags: dict[str, str], params: dict[str, str] | None = None,
               artifact: str | None = None, artifact_dir: str | None = None) -> str:
    """A run made and filled in one go (a sweep's parent); returns its id."""
    c = client()
    run_id = c.create_run(ensure_experiment(c, experiment), run_name=name, tags=tags).info.run_id
    if params:
        c.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
    if artifact:
        c.log_artifact(run_id, artifact, artifact_dir)
    return run_id


@edge
def log_summary(experiment: str, name: str, tags: dict[str, str], params: dict[str, str],
                steps: dict[int, dict[str, float]]) -> str:
    """A FINISHED run that summarises others (a sweep condition's curves), made and filled in
    one go: its metrics per step; returns its id."""
    from mlflow.entities import Metric

    c = client()
    run_id = c.create_run(ensure_experiment(c, experiment), run_name=name, tags=tags).info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric(k, float(v), now, step) for step, row in sorted(steps.items()) for k, v in row.items()]
    c.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
    for i in range(0, len(metrics), 1000):  # MLflow's limit for one log-batch
        c.log_batch(run_id, metrics=metrics[i:i + 1000])
    c.set_terminated(run_id, "FINISHED")
    return run_id


@edge
def delete_runs(run_ids: Iterable[str]) -> None:
    """Runs made obsolete (a condition's curves over fewer runs): deleted, as the UI deletes."""
    c = client()
    for run_id in run_ids:
        c.delete_run(run_id)


@edge
def set_status(run_id: str, status: str, tags: dict[str, str] | None = None) -> None:
    """RUNNING again, or ended as FINISHED, FAILED or KILLED (with tags, e.g. the reason)."""
    c = client()
    if tags:
        c.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    if status == "RUNNING":
        c.update_run(run_id, status="RUNNING")
    else:
        c.set_terminated(run_id, status)


@edge
def set_tags(run_id: str, tags: dict[str, str]) -> None:
    """Tags on a run, running or ended (a tuning trial's state once it is told)."""
    client().log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def mark_killed(run_id: str, why: str, tags: dict[str, str] | None = None) -> None:
    set_status(run_id, "KILLED", {names.ERROR: why, **(tags or {})})


def is_live(run: RunRecord) -> bool:
    """RUNNING, on this host, and its process still exists."""
    return (run.status == "RUNNING" and run.tags.get(names.HOST) == socket.gethostname()
            and _alive(int(run.tags.get(names.PID, "0"))))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_runs(experiment: str | None, older_than: float, filter_string: str = "") -> list[RunRecord]:
    """RUNNING runs whose process is gone (same host) or whose heartbeat is older than older_than s."""
    now, host = time.time(), socket.gethostname()
    out = []
    for r in search(experiment, _and("attributes.status = 'RUNNING'", filter_string)):
        beat = float(r.tags.get(names.HEARTBEAT, r.start_time / 1000))
        local = r.tags.get(names.HOST) == host
        if (local and not is_live(r)) or (not local and now - beat > older_than):
            out.append(r)
    return out


def listing(experiment: str | None, filter_string: str = "", stale: bool = False, older_than: float = STALE_AFTER,
            mark: bool = False, sweep: str | None = None) -> tuple[list[RunRecord], int | None]:
    """`tracker runs`: an experiment's runs (None: every experiment's), or a sweep's children,
    not the runs of a sweep's condition curves (no training runs); or the stale ones of those
    (marked KILLED when asked: then also how many were)."""
    if sweep:
        experiment, filter_string, _ = sweep_scope(sweep, filter_string)
    if not stale:
        return [r for r in search(experiment, filter_string) if r.tags.get(names.KIND) != names.CONDITION_KIND], None
    found = stale_runs(experiment, older_than, filter_string)
    if not mark:
        return found, None
    for r in found:
        mark_killed(r.run_id, "stale: its process is gone (tracker runs --stale)")
    return [get_run(r.run_id) for r in found], len(found)


@edge
def describe(run_id: str, keys: Iterable[str]):
    """`tracker show`: the run, its metrics per epoch (a DataFrame indexed by epoch), its
    artifacts, and the URIs of the models it logged (models:/m-...)."""
    import pandas as pd

    c = reader()
    full = get(c, run_id)
    hist = {k: {m.step: m.value for m in c.get_metric_history(run_id, k)} for k in keys}
    frame = pd.DataFrame(hist).sort_index()
    frame.index.name = "epoch"
    outputs = getattr(full, "outputs", None)
    models = [f"models:/{m.model_id}" for m in (getattr(outputs, "model_outputs", None) or [])]
    return record(full), frame, artifacts(run_id), models
