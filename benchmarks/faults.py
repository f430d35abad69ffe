"""Fault injection figures: kills at random moments, and a 60 s tracking-server outage.

    .venv/bin/python benchmarks/faults.py [--kills 20] [--outage 60]

1. A tiny 5-epoch run is killed --kills times at random moments (SIGTERM and SIGKILL mixed),
   each time brought back (SIGKILL: `tracker runs --stale --mark-killed`, then `tracker
   resume`), until it FINISHES. Reported: runs left RUNNING, unreadable checkpoints, and
   whether its final metrics equal an uninterrupted run's, value for value.
2. A run logs to a real `mlflow server` that is stopped for --outage seconds mid-run and then
   restarted. Reported: metrics expected, metrics found, duplicates.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tracker.testkit.fakedata import write_mnist
from tracker.testkit.servers import MlflowServer

KEYS = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "test_acc_best", "train_acc_best")


def tracker(*args, env, check=True):
    out = subprocess.run([sys.executable, "-m", "tracker.cli", *args], env=env, capture_output=True, text=True)
    if check and out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return out


def cfg_args(data: Path, experiment: str, epochs: int) -> list[str]:
    return ["--set", 'dataset="mnist"', "--set", 'arch="mnist-small"', "--set", f"epochs={epochs}",
            "--set", "batch_size=32", "--set", "dropout=0.1", "--set", f'data_dir="{data}"',
            "--set", "download=false", "--set", f'experiment="{experiment}"']


def metrics(client, run_id):
    return {k: [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, k), key=lambda m: m.step)]
            for k in KEYS}


def kills(n: int, tmp: Path, data: Path) -> None:
    """Rounds of one run each, killed again and again until it FINISHES, until n kills."""
    from mlflow.tracking import MlflowClient

    import torch

    store = tmp / "kills"
    env = {**os.environ, "TRACKER_STORE": str(store), "TRACKER_PROGRESS": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    tracker("train", *cfg_args(data, "reference", 5), env=env)
    c = MlflowClient(f"sqlite:///{store}/mlflow.db")
    ref = metrics(c, c.search_runs([c.get_experiment_by_name("reference").experiment_id])[0].info.run_id)
    rng = random.Random(7)
    sigs, identical, rounds = {"SIGTERM": 0, "SIGKILL": 0}, 0, 0
    while sum(sigs.values()) < n:
        rounds += 1
        exp = f"killed-{rounds}"
        cmd = ["train", *cfg_args(data, exp, 5)]
        while True:
            proc = subprocess.Popen([sys.executable, "-m", "tracker.cli", *cmd], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=rng.uniform(1.0, 10.0))
            except subprocess.TimeoutExpired:
                if sum(sigs.values()) < n:
                    sig = rng.choice([signal.SIGTERM, signal.SIGKILL])
                    proc.send_signal(sig)
                    sigs[sig.name] += 1
                proc.wait()
            e = c.get_experiment_by_name(exp)
            runs = c.search_runs([e.experiment_id]) if e else []  # newest first
            if not runs or proc.returncode == 2:  # killed before it recorded anything: anew
                cmd = ["train", *cfg_args(data, exp, 5)]
                continue
            run = runs[0]
            if run.info.status == "FINISHED":
                identical += metrics(c, run.info.run_id) == ref
                break
            if run.info.status == "RUNNING":  # SIGKILL: found stale, marked KILLED
                tracker("runs", "--experiment", exp, "--stale", "--mark-killed", env=env)
            cmd = ["resume", run.info.run_id]
    every = c.search_runs([e.experiment_id for e in c.search_experiments()])
    running = sum(r.info.status == "RUNNING" for r in every)
    unreadable = 0
    for path in store.glob("checkpoints/*/*.pt"):
        try:
            torch.load(path, weights_only=True)
        except Exception:
            unreadable += 1
    print(f"kills: {sum(sigs.values())} ({sigs['SIGTERM']} SIGTERM, {sigs['SIGKILL']} SIGKILL) over "
          f"{rounds} runs; runs left RUNNING: {running}; unreadable checkpoints: {unreadable}; "
          f"runs whose final metrics equal the uninterrupted run's: {identical} of {rounds}")


def outage(seconds: float, tmp: Path, data: Path) -> None:
    from mlflow.tracking import MlflowClient

    server = MlflowServer(f"sqlite:///{tmp}/outage.db", str(tmp / "outage-artifacts"), log=tmp / "server.log").start()
    env = {**os.environ, "TRACKER_STORE": str(tmp / "outage-store"), "TRACKER_PROGRESS": "0",
           "MLFLOW_TRACKING_URI": server.url, "TRACKER_OUTAGE_WAIT": "600"}
    epochs = 40
    proc = subprocess.Popen([sys.executable, "-m", "tracker.cli", "train", *cfg_args(data, "outage", epochs)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(15)
    server.stop()
    down = time.time()
    time.sleep(seconds)
    server.start()
    print(f"outage: server down {time.time() - down:.0f} s (restart included)")
    _, err = proc.communicate(timeout=1800)
    c = MlflowClient(server.url)
    (run,) = c.search_runs([c.get_experiment_by_name("outage").experiment_id])
    keys = KEYS + ("epoch_time_s", "epoch_time_mean_s")
    found = sum(len(c.get_metric_history(run.info.run_id, k)) for k in keys)
    distinct = sum(len({m.step for m in c.get_metric_history(run.info.run_id, k)}) for k in keys)
    print(f"outage: status {run.info.status}; metrics expected {epochs * len(keys)}, found {found}, "
          f"duplicates {found - distinct}; buffered-and-replayed lines in stderr: "
          f"{'replayed' in err}")
    server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--outage", type=float, default=60)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="faults-"))
    data = write_mnist(tmp / "data", n_train=2000, n_test=500)
    if args.kills:
        kills(args.kills, tmp, data)
    if args.outage:
        outage(args.outage, tmp, data)


if __name__ == "__main__":
    main()
