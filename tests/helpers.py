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


def without_conditions(runs: list) -> list:
    """The runs but the runs of a sweep's condition curves (tracker/runs/conditions.py): a
    sweep's parent and children, and runs outside sweeps."""
    from tracker import names

    return [r for r in runs if r.data.tags.get(names.KIND) != names.CONDITION_KIND]


def cli(*args: str, env: dict | None = None):
    """Run the tracker CLI in-process; returns click's Result."""
    from tracker.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def records(values: dict[str, list[float]], extra: list | None = None) -> list:
    """Hand-made training runs of a sweep over norm and seed: the final test accuracies of each
    norm's seeds (1, 2, ...); `extra` runs (RunRecords) come after them."""
    from tracker import names
    from tracker.tracking.records import RunRecord

    out = []
    for norm, accs in values.items():
        for seed, acc in enumerate(accs, 1):
            out.append(RunRecord(f"{norm}-{seed}", f"{norm}-seed{seed}", "FINISHED",
                                 params={"norm": norm, "seed": str(seed), "epochs": "2", "params_total": "1000"},
                                 metrics={names.TEST_ACC: acc, names.TEST_ACC_BEST: acc, names.TRAIN_ACC_BEST: acc,
                                          names.EPOCH_TIME_MEAN: 1.0},
                                 tags={names.KIND: names.TRAIN, names.GRID_KEYS: "norm,seed"},
                                 start_time=len(out)))
    return out + (extra or [])


def comparison(values: dict[str, list[float]], study=None, extra: list | None = None):
    """`compare` on hand-made runs (records), without a store: the Comparison it returns."""
    from tracker.results.aggregate import aggregate
    from tracker.results.compare import Comparison
    from tracker.results.counted import count
    from tracker.study import Study
    from tracker.tracking.records import keep

    study = study or Study()
    found = keep(records(values, extra), "hand-made", None)
    counted = count(found, (), study.judged())
    rows, judging = aggregate(counted, study, found.grid)
    return Comparison(counted, rows, "hand-made", study, None, judging)