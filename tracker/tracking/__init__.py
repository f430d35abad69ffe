"""The one package that talks to MLflow. Its modules, lightest first:

records (runs as plain rows), uri (where the store is, is it up), sqlite_reader and
rest_reader (the embedded store and a server read without mlflow), query (one answer per
query, whichever path), client (mlflow's client and its errors), live (a run being logged,
its sender thread and outbox), store (runs searched and changed), logged_model (a run's model
logged and loaded), model_code (the code every logged model carries: run where it is served,
never imported by tracker), registry, inputs, artifacts, server (an mlflow server process). MLflow's own
environment (bounded HTTP calls, no telemetry) is set by the CLI at start
(settings.apply_mlflow_env), before anything imports mlflow.

    tracker runs --experiment mnist-demo --format markdown
"""
