"""Shared test helpers: CLI arguments and a client on the test store."""
from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets"  # beside the clone


def sets(overrides: dict) -> list[str]:
    """--set arguments for the CLI, TOML-quoted."""
    out = []
    for k, v in overrides.items():
        if isinstance(v, bool):
            v = str(v).lower()
        elif isinstance(v, str):
            v = f'"{v}"'
        out += ["--set", f"{k}={v}"]
    return out


def store_client(store: str | os.PathLike | None = None):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{store or os.environ['TRACKER_STORE']}/mlflow.db")


def all_runs(store: str | os.PathLike | None = None) -> list:
    """Every run in the test store; none when the store was never created."""
    db = Path(store or os.environ["TRACKER_STORE"]) / "mlflow.db"
    if not db.exists():
        return []
    c = store_client(store)
    ids = [e.experiment_id for e in c.search_experiments()]
    return list(c.search_runs(ids)) if ids else []


def cli(*args: str, env: dict | None = None):
    """Run the tracker CLI in-process; returns click's Result."""
    from tracker.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)
