"""MLflow's client, and its errors turned into one tracker error at this package's edge.

    tracker runs --experiment tracker
"""
from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path

import mlflow  # noqa: F401
import requests
from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient

from ..errors import TrackingError
from ..settings import sqlite_path, store_root, tracking_uri
from .. import names
from .records import RunRecord
from .uri import check_reachable, check_store, is_local, local_uri, redact

for _quiet in ("mlflow.store.db.utils", "alembic.runtime.migration"):  # schema chatter on stderr
    logging.getLogger(_quiet).setLevel(logging.WARNING)


def message(e: BaseException) -> str:
    text = getattr(e, "message", None) or str(e) or e.__class__.__name__
    return " ".join(str(text).split())[:400]


def translated(e: BaseException) -> BaseException:
    """An MLflow error as the one tracker error; anything else as it is."""
    if isinstance(e, MlflowException):
        return TrackingError(refused(e) or f"tracking store: {message(e)}")
    return e


def refused(e: MlflowException) -> str | None:
    """A server's basic auth saying no, as what to do about it; None for any other error."""
    where = f"tracking server {redact(tracking_uri())}"
    status = e.get_http_status_code()
    if status == 401:
        return (f"{where} refused the request: not authenticated (401); set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD (or check them)")
    if status == 403:
        return f"{where} refused the request: permission denied (403); ask its admin for the permission"
    return None


def edge(fn):
    """MLflow's errors leave the tracking package as TrackingError, one line."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MlflowException as e:
            raise translated(e) from None
    return wrapped


_READY: set[str] = set()  # SQLite stores this process has seen created


def client() -> MlflowClient:
    uri = local_uri()
    check_reachable(uri)
    db = sqlite_path(uri)
    if db is None or uri in _READY:
        return MlflowClient(tracking_uri=uri)
    with _creation_lock(db):
        c = MlflowClient(tracking_uri=uri)
        c.search_experiments(max_results=1)  # creates and migrates the schema, once
    _READY.add(uri)
    return c


def reader() -> MlflowClient:
    """MLflow's client for a command that only reads (runs, experiments, models list, show):
    a SQLite store that does not exist is an error naming where it was looked for (NoStore),
    never created; client() creates and migrates one, for the commands that write."""
    check_store(tracking_uri())
    return client()


@contextlib.contextmanager
def _creation_lock(db: Path):
    """MLflow creates and migrates a new SQLite store in whichever process comes first; N
    processes started at once on a new store would all migrate it at the same time. One does,
    under this lock; the others wait, then find it made."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def unreachable(e: BaseException) -> bool:
    """A failed connection (not an answer from the server, such as a 400 or basic auth's 401)."""
    if isinstance(e, RestException) or (isinstance(e, MlflowException) and refused(e)):
        return False
    return isinstance(e, (MlflowException, OSError, requests.exceptions.RequestException))


def ensure_experiment(c: MlflowClient, name: str) -> str:
    exp = c.get_experiment_by_name(name)
    if exp is None:
        location = (store_root() / "artifacts").as_uri() if is_local(c.tracking_uri) else None
        try:
            return c.create_experiment(name, artifact_location=location,
                                       tags={names.EXPERIMENT_KIND: names.EXPERIMENT_KIND_VALUE})
        except MlflowException as e:
            if c.get_experiment_by_name(name) is None:  # not a race with a parallel run
                raise TrackingError(f"experiment {name!r}: {message(e)}") from None
            exp = c.get_experiment_by_name(name)
    if exp.lifecycle_stage == "deleted":
        raise TrackingError(f"experiment {name!r} is deleted; restore it or pick another name")
    if exp.tags.get(names.EXPERIMENT_KIND) != names.EXPERIMENT_KIND_VALUE:
        c.set_experiment_tag(exp.experiment_id, names.EXPERIMENT_KIND, names.EXPERIMENT_KIND_VALUE)
    return exp.experiment_id


def experiment_id(c: MlflowClient, name: str) -> str:
    exp = c.get_experiment_by_name(name)
    if exp is None or exp.lifecycle_stage == "deleted":
        raise TrackingError(f"experiment {name!r} not found at {redact(c.tracking_uri)}")
    return exp.experiment_id


def record(run) -> RunRecord:
    """An MLflow Run as a plain record."""
    info, data = run.info, run.data
    return RunRecord(info.run_id, info.run_name or "", info.status, dict(data.params),
                     dict(data.metrics), dict(data.tags), info.start_time or 0, info.end_time,
                     str(info.experiment_id))


def get(c: MlflowClient, run_id: str):
    try:
        return c.get_run(run_id)
    except MlflowException:
        raise TrackingError(f"run {run_id!r} not found at {redact(c.tracking_uri)}") from None
