"""Where tracker keeps things and what the environment may change: each default and each
environment variable, defined once. This is the only module that reads the environment.

    TRACKER_STORE=/tmp/store tracker runs --experiment mnist-demo
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

STORE_ENV = "TRACKER_STORE"  # the embedded store's folder
DEFAULT_STORE = "mlruns"
DATA_ENV = "TRACKER_DATA_DIR"  # the dataset folder, when a config does not name one
DEFAULT_DATA_DIR = "data"
URI_ENV = "MLFLOW_TRACKING_URI"  # a tracking server (or any MLflow store URI)
SQLITE = "sqlite:///"  # the embedded store's URI scheme
PROGRESS_ENV = "TRACKER_PROGRESS"  # 1: progress bars, 0: a line per epoch; unset: bars on a terminal
EPOCH_LINES_ENV = "TRACKER_EPOCH_LINES"  # 1: a run prints a line per epoch, 0: none; unset: see epoch_lines()
THREADS_ENV = "TRACKER_THREADS"  # torch threads of one run (a sweep worker's share)
OUTAGE_WAIT_ENV = "TRACKER_OUTAGE_WAIT"  # s a finishing run waits for a server that is down
DEFAULT_OUTAGE_WAIT = 300.0
TELEMETRY_ENV = "TRACKER_TELEMETRY"  # 1: let MLflow send its usage telemetry (off by default)
SYSTEM_METRICS_ENV = "TRACKER_SYSTEM_METRICS"  # 0: no CPU/memory/GPU sampling on runs
STALE_AFTER = 900.0  # s without a heartbeat before another host's RUNNING run counts as stale
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def mlflow_env() -> dict[str, str]:
    """MLflow's environment as tracker sets it (where the user has not): bounded HTTP calls
    (a hung server must not hang a run), and no usage telemetry unless TRACKER_TELEMETRY=1
    (tracker calls no host but the tracking server, a Ray cluster and dataset downloads)."""
    env = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
           "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # a few small files: no bar each
           "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}  # stdout is the command's output
    if os.environ.get(TELEMETRY_ENV) != "1":
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return {k: os.environ.get(k, v) for k, v in env.items()}


def apply_mlflow_env() -> None:
    """Set MLflow's environment in this process (and the processes it starts). The CLI calls
    it once at start, before anything imports mlflow, which reads telemetry at import."""
    os.environ.update(mlflow_env())


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process tracker starts: this one's, MLflow's as tracker sets it,
    and `extra`."""
    return {**os.environ, **mlflow_env(), **(extra or {})}


def child_env_without(*names: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """child_env, less the variables named (a test server that must not see the test's URI)."""
    return {k: v for k, v in child_env(extra).items() if k not in names}


def path_first(folder: str) -> str:
    """PATH with `folder` first (a venv's bin/, where `mlflow models serve` finds uvicorn)."""
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


# MLflow's default pool (5 + 10 connections a worker) froze a server with 32 runs logging at
# once: a log-batch holds one connection and opens another (benchmarks/server_load.py)
SERVER_POOL = {"MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "20", "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "60"}


def server_pool() -> dict[str, str]:
    """The database pool of a server tracker starts: SERVER_POOL, unless the user set one."""
    return {k: os.environ.get(k, v) for k, v in SERVER_POOL.items()}


def store_root() -> Path:
    """The embedded default store: ./mlruns (SQLite db, artifacts, local checkpoints)."""
    return Path(os.environ.get(STORE_ENV, DEFAULT_STORE)).resolve()


def store_db(root: Path | None = None) -> Path:
    """The embedded store's SQLite file, under `root` (default: store_root())."""
    return (root or store_root()) / "mlflow.db"


TUNE_DB_ENV = "TRACKER_TUNE_DB"  # Optuna's storage URL (e.g. postgresql://...) for the studies of [tune]
TUNE_DB = "tune.db"  # else a SQLite file beside the store, whatever MLFLOW_TRACKING_URI says


def tune_storage() -> str:
    """Where Optuna keeps the studies of a [tune] sweep: TRACKER_TUNE_DB, else
    sqlite:///STORE/tune.db (store_root(), made when missing), also when runs go to a server."""
    if os.environ.get(TUNE_DB_ENV):
        return os.environ[TUNE_DB_ENV]
    store_root().mkdir(parents=True, exist_ok=True)
    return f"{SQLITE}{store_root() / TUNE_DB}"


def embedded_uri(root: Path | None = None) -> str:
    return f"{SQLITE}{store_db(root)}"


def uri_env() -> str:
    """MLFLOW_TRACKING_URI as set (empty when unset)."""
    return os.environ.get(URI_ENV, "")


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the embedded store (SQLite under ./mlruns)."""
    return uri_env() or embedded_uri()


MLFLOW_DEFAULT_DB = "mlflow.db"  # where MLflow 3 logs, in the current folder, when no URI is set


def read_mlflow_default() -> str | None:
    """For a command that only reads runs: with neither MLFLOW_TRACKING_URI nor TRACKER_STORE set
    and no tracker store here, MLflow's own default store (./mlflow.db, where plain `mlflow` calls
    log) when it exists, made this process's store; returns a note saying so, else None."""
    if uri_env() or os.environ.get(STORE_ENV) or store_db().exists():
        return None
    theirs = Path(MLFLOW_DEFAULT_DB).resolve()
    if not theirs.exists():
        return None
    os.environ[URI_ENV] = f"{SQLITE}{theirs}"
    return f"note: no tracker store in {store_root()}; reading MLflow's default store {theirs}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of an sqlite:/// URI, else None."""
    return Path(uri[len(SQLITE):]) if uri.startswith(SQLITE) else None


def data_dir_env() -> str | None:
    """TRACKER_DATA_DIR when set."""
    return os.environ.get(DATA_ENV) or None


def progress() -> bool:
    """Progress bars: TRACKER_PROGRESS=1 or 0 decides; unset, bars only on a terminal (a log
    file gets one line per epoch, not carriage-return frames)."""
    value = os.environ.get(PROGRESS_ENV, "").strip()
    if value in ("0", "1"):
        return value == "1"
    return sys.stderr.isatty()


def epoch_lines() -> bool:
    """A run prints a line per epoch on stdout (`tracker train`'s log), unless
    TRACKER_EPOCH_LINES=0: what a sweep written to a file sets for its runs (sweep_output)."""
    return os.environ.get(EPOCH_LINES_ENV, "1") != "0"


@contextlib.contextmanager
def sweep_output():
    """A sweep (or the demo) whose stdout is not a terminal prints one line per run: inside
    this block its runs, here and in the worker processes it starts, print no line per epoch.
    On a terminal they do; TRACKER_EPOCH_LINES=1 or 0 decides either way."""
    if EPOCH_LINES_ENV in os.environ or sys.stdout.isatty():
        yield
        return
    os.environ[EPOCH_LINES_ENV] = "0"
    try:
        yield
    finally:
        os.environ.pop(EPOCH_LINES_ENV, None)


def system_metrics() -> bool:
    """MLflow's system-metrics sampling on training runs, unless TRACKER_SYSTEM_METRICS=0."""
    return os.environ.get(SYSTEM_METRICS_ENV, "1") != "0"


def outage_wait() -> float:
    return float(os.environ.get(OUTAGE_WAIT_ENV, DEFAULT_OUTAGE_WAIT))


def http_timeout() -> float:
    """Seconds per HTTP call to the tracking server (MLFLOW_HTTP_REQUEST_TIMEOUT, else ours)."""
    return float(mlflow_env()["MLFLOW_HTTP_REQUEST_TIMEOUT"])


def credentials() -> dict[str, str]:
    """The tracking server's credentials that are set (user and password, or a token)."""
    return {k: os.environ[k] for k in CREDENTIALS if os.environ.get(k)}


CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"  # read by cuBLAS when a process first uses it, never after


def cuda_env() -> bool:
    """cuBLAS's workspace setting that makes its matmuls deterministic, unless the user set one;
    it must be in the environment before the process's first CUDA call (the CLI sets it at its
    start). Returns whether it was there already (set by the user, or earlier in this process)."""
    there = CUBLAS_ENV in os.environ
    os.environ.setdefault(CUBLAS_ENV, ":4096:8")
    return there


def thread_cap() -> int | None:
    """A cap on torch threads: TRACKER_THREADS, else OMP_NUM_THREADS (Ray sets it per task)."""
    for var in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None
