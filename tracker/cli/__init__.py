"""tracker: tracked PyTorch studies on MLflow. Each command parses its options, calls one
function and prints; heavy imports happen inside the commands, so `tracker --help` is instant.
The commands live by topic: runs.py (train, sweep, demo, resume, sync, summary), results.py
(compare, report, runs, show, experiments), models.py (models, evaluate), server.py.

    tracker demo --data-dir ../shared/datasets
"""
from __future__ import annotations

import click

from ..settings import apply_mlflow_env, cuda_env
from . import models, results, runs, server
from .options import Group, versions


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=versions,
              help="Print tracker's version, and those of MLflow, PyTorch and Python it runs with.")
def main():
    """Tracked, repeatable PyTorch studies on MLflow.

    Runs go to MLFLOW_TRACKING_URI, or to the embedded store ./mlruns (SQLite) when unset.
    MLflow's usage telemetry is off unless TRACKER_TELEMETRY=1.
    """
    apply_mlflow_env()  # before any command imports mlflow
    cuda_env()  # before any CUDA call: cuBLAS reads it once, at its first use


for _command in (*runs.COMMANDS, *results.COMMANDS, *models.COMMANDS, *server.COMMANDS):
    main.add_command(_command)
