"""The one package that talks to MLflow. Its modules, lightest first:

names (tags and metric names), records (runs as plain rows and DataFrames), uri (where the
store is, is it up), fast (the embedded store and the REST API read without mlflow), query
(one answer per query, whichever path), client (mlflow's client and its errors), live (a
run being logged, its sender thread and outbox), store (runs searched and changed),
logged_model, registry, sync.

    tracker runs --experiment mnist-demo --format markdown
"""
import os

from ..settings import mlflow_env

os.environ.update(mlflow_env())  # before any module here imports mlflow
