"""`tracker compare` wall time (process start included) over N runs of 20 epochs each.

    .venv/bin/python benchmarks/compare_speed.py --runs 1000 10000
    .venv/bin/python benchmarks/compare_speed.py --runs 1000 --foreign   # runs tracker did not make

--foreign logs them as a plain MLflow user would (params model and seed, an `rmse` per step, no
tracker tags) and times `tracker compare --by model --metric-key rmse --goal minimize`.

Each N gets its own SQLite store with N FINISHED runs (3 norms x N/3 seeds, 20 steps of 9
metrics each, as tracker logs them); then `tracker compare` runs 3 times and the median counts.
Up to 1,000 runs are written through MlflowClient; beyond that the store grows by copying
those runs, rows and all, under new run ids in SQL (the client takes about 0.15 s a run).
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

KEYS = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time_s",
        "test_acc_best", "train_acc_best", "epoch_time_mean_s")


def populate(store: Path, n: int, foreign: bool = False) -> None:
    c = MlflowClient(f"sqlite:///{store}/mlflow.db")
    exp = c.create_experiment("bench")
    rng = random.Random(0)
    for i in range(n):
        norm = ("batch", "layer", "group")[i % 3]
        rid = c.create_run(exp, run_name=f"mnist-s8-{norm}-seed{i}").info.run_id
        metrics, best = [], 0.0
        for step in range(1, 21):
            acc = 0.9 + 0.09 * step / 20 + rng.gauss(0, 0.002)
            best = max(best, acc)
            values = ({"rmse": 60 - 5 * acc, "mae": 40 - 4 * acc} if foreign else
                      dict(zip(KEYS, (1 - acc, acc, 1 - acc, acc, 0.01, 10.0, best, acc, 10.0))))
            metrics += [Metric(k, v, 0, step) for k, v in values.items()]
        params = ([Param("model", norm), Param("seed", str(i)), Param("alpha", "0.1")] if foreign else
                  [Param("norm", norm), Param("seed", str(i)), Param("epochs", "20"), Param("params_total", "47890")])
        for j in range(0, len(metrics), 1000):
            c.log_batch(rid, metrics=metrics[j:j + 1000], params=params if j == 0 else [],
                        tags=[] if foreign or j else [RunTag("tracker.kind", "train")])
        c.set_terminated(rid, "FINISHED")


def grow(db: Path, n: int) -> None:
    """Copy the store's runs under new ids until it holds n."""
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT run_uuid FROM runs ORDER BY run_uuid")]
    tables = {t: [c[1] for c in con.execute(f"PRAGMA table_info({t})")]
              for t in ("runs", "params", "tags", "metrics", "latest_metrics")}
    copy, have = 1, len(ids)
    while have < n:
        batch = ids[:n - have]
        con.execute("CREATE TEMP TABLE IF NOT EXISTS pick (id TEXT PRIMARY KEY)")
        con.execute("DELETE FROM pick")
        con.executemany("INSERT INTO pick VALUES (?)", [(i,) for i in batch])
        for table, cols in tables.items():
            select = ", ".join(f"substr(run_uuid, 1, 28) || printf('%04x', {copy})" if c == "run_uuid"
                               else c for c in cols)
            con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {table} "
                        "WHERE run_uuid IN (SELECT id FROM pick)")
        have += len(batch)
        copy += 1
    con.commit()
    con.close()


def time_compare(store: Path, foreign: bool = False) -> float:
    env = {**os.environ, "TRACKER_STORE": str(store)}
    env.pop("MLFLOW_TRACKING_URI", None)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        what = ["--by", "model", "--metric-key", "rmse", "--goal", "minimize"] if foreign else ["--by", "norm"]
        out = subprocess.run([str(Path(sys.executable).with_name("tracker")), "compare", "--experiment",
                              "bench", *what], env=env, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t)
    print(out.stdout)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, nargs="+", default=[1000])
    ap.add_argument("--foreign", action="store_true", help="runs a plain MLflow user logged (rmse, model)")
    args = ap.parse_args()
    for n in args.runs:
        store = Path(tempfile.mkdtemp(prefix=f"compare-{n}-"))
        t = time.perf_counter()
        populate(store, min(n, 1000), args.foreign)
        if n > 1000:
            grow(store / "mlflow.db", n)
        print(f"{n} runs x 20 epochs written in {time.perf_counter() - t:.0f} s")
        print(f"tracker compare over {n} runs: {time_compare(store, args.foreign):.2f} s "
              "(median of 3, process start included)")


if __name__ == "__main__":
    main()
