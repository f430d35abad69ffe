"""The one package that talks to MLflow. Its modules, lightest first:

names (tags and metric names), records (runs as plain rows and DataFrames), uri (where the
store is, is it up), fast (the embedded store and the REST API read without mlflow), query
(one answer per query, whichever path), client (mlflow's client and its errors), live (a
run being logged, its sender thread and outbox), store (runs searched and changed),
logged_model, registry, sync.

    tracker runs --experiment mnist-demo --format markdown
"""
import os

from ..settings import TELEMETRY_ENV

# a hung server must not hang a run: bounded per-request time and retries (seconds)
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
# no network call the user did not ask for: MLflow's usage telemetry is off unless asked for
if os.environ.get(TELEMETRY_ENV) != "1":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
