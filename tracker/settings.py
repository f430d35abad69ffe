"""Where tracker keeps things and what the environment may change: each default and each
environment variable, defined once.

    TRACKER_STORE=/tmp/store tracker runs --experiment mnist-demo
"""
from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "TRACKER_STORE"  # the embedded store's folder
DEFAULT_STORE = "mlruns"
DATA_ENV = "TRACKER_DATA_DIR"  # the dataset folder, when a config does not name one
DEFAULT_DATA_DIR = "data"
URI_ENV = "MLFLOW_TRACKING_URI"  # a tracking server (or any MLflow store URI)
PROGRESS_ENV = "TRACKER_PROGRESS"  # 0: no progress bars
THREADS_ENV = "TRACKER_THREADS"  # torch threads of one run (a sweep worker's share)
OUTAGE_WAIT_ENV = "TRACKER_OUTAGE_WAIT"  # s a finishing run waits for a server that is down
DEFAULT_OUTAGE_WAIT = 300.0
TELEMETRY_ENV = "TRACKER_TELEMETRY"  # 1: let MLflow send its usage telemetry (off by default)


def mlflow_env() -> dict[str, str]:
    """MLflow's environment as tracker sets it (where the user has not): bounded HTTP calls
    (a hung server must not hang a run), and no usage telemetry unless TRACKER_TELEMETRY=1
    (tracker calls no host but the tracking server, a Ray cluster and dataset downloads)."""
    env = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
           "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}  # a few small files: no bar each
    if os.environ.get(TELEMETRY_ENV) != "1":
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return {k: os.environ.get(k, v) for k, v in env.items()}


def store_root() -> Path:
    """The embedded default store: ./mlruns (SQLite db, artifacts, local checkpoints)."""
    return Path(os.environ.get(STORE_ENV, DEFAULT_STORE)).resolve()


def store_db() -> Path:
    return store_root() / "mlflow.db"


def embedded_uri() -> str:
    return f"sqlite:///{store_db()}"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the embedded store (SQLite under ./mlruns)."""
    return os.environ.get(URI_ENV) or embedded_uri()


def data_dir() -> str:
    """TRACKER_DATA_DIR when set, else ./data."""
    return os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR


def progress() -> bool:
    return os.environ.get(PROGRESS_ENV, "1") != "0"


def outage_wait() -> float:
    return float(os.environ.get(OUTAGE_WAIT_ENV, DEFAULT_OUTAGE_WAIT))


def thread_cap() -> int | None:
    """A cap on torch threads: TRACKER_THREADS, else OMP_NUM_THREADS (Ray sets it per task)."""
    for var in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None
