"""A real mlflow server is killed mid-run and restarted: nothing lost, nothing duplicated."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from tests.helpers import sets
from tracker.testkit.servers import MlflowServer

pytestmark = pytest.mark.server
EPOCHS = 8
KEYS = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time_s", "test_acc_best")


def checkpoints_at(epoch: int) -> int:
    n = 0
    for path in Path(os.environ["TRACKER_STORE"]).glob("checkpoints/*/last.pt"):
        try:
            n += torch.load(path, weights_only=True)["epoch"] >= epoch
        except OSError:  # its run's folder went away between glob and load; a checkpoint is never half-written
            pass
    return n


def wait_until(cond, timeout=180):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise TimeoutError
        time.sleep(0.1)


def test_outage_loses_nothing_and_sync_replays(tiny, tmp_path):
    server = MlflowServer(f"sqlite:///{tmp_path}/server.db", str(tmp_path / "server-artifacts"),
                          log=tmp_path / "server.log").start()
    try:
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
        cfg = {**tiny, "epochs": EPOCHS, "experiment": "outage"}
        cmd = [sys.executable, "-m", "tracker.cli", "train", *sets(cfg)]
        waits = subprocess.Popen(cmd + ["--set", "seed=1"], env={**env, "TRACKER_OUTAGE_WAIT": "600"},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        gives_up = subprocess.Popen(cmd + ["--set", "seed=2"], env={**env, "TRACKER_OUTAGE_WAIT": "0"},
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: checkpoints_at(2) == 2)
        server.stop()  # the outage
        _, err = gives_up.communicate(timeout=300)
        assert gives_up.returncode == 0, err
        assert "tracker sync" in err
        wait_until(lambda: checkpoints_at(EPOCHS) == 2)
        assert waits.poll() is None  # still waiting for the server, training done
        server.start()
        out, err = waits.communicate(timeout=300)
        assert waits.returncode == 0, err
        assert "replayed" in err

        c = MlflowClient(server.url)
        exp = c.get_experiment_by_name("outage")
        runs = {r.data.params["seed"]: r for r in c.search_runs([exp.experiment_id])}
        assert runs["1"].info.status == "FINISHED" and runs["2"].info.status == "RUNNING"

        sync = subprocess.run([sys.executable, "-m", "tracker.cli", "sync"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert sync.returncode == 0, sync.stderr
        assert "replayed" in sync.stdout
        for seed, run in runs.items():
            rid = run.info.run_id
            assert c.get_run(rid).info.status == "FINISHED"
            for key in KEYS:
                steps = sorted(m.step for m in c.get_metric_history(rid, key))
                assert steps == list(range(1, EPOCHS + 1)), (seed, key, steps)
            assert {a.path for a in c.list_artifacts(rid, "checkpoints")} == {
                "checkpoints/last.pt", "checkpoints/best.pt"}
            assert c.get_run(rid).outputs.model_outputs  # the model got logged, even via sync
        assert list(Path(os.environ["TRACKER_STORE"]).glob("outbox/*.jsonl")) == []
    finally:
        server.stop()


def test_offline_start_is_buffered_then_synced(tiny, tmp_path):
    server = MlflowServer(f"sqlite:///{tmp_path}/server.db", str(tmp_path / "server-artifacts"),
                          log=tmp_path / "server.log")  # not started yet: the server is down
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "TRACKER_OUTAGE_WAIT": "0"}
    cmd = [sys.executable, "-m", "tracker.cli", "train", *sets({**tiny, "epochs": 3, "experiment": "offline"})]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--offline" in refused.stderr
    done = subprocess.run(cmd + ["--offline"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list(Path(os.environ["TRACKER_STORE"]).glob("outbox/offline-*.jsonl"))) == 1
    server.start()
    try:
        sync = subprocess.run([sys.executable, "-m", "tracker.cli", "sync"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert sync.returncode == 0, sync.stderr
        c = MlflowClient(server.url)
        (run,) = c.search_runs([c.get_experiment_by_name("offline").experiment_id])
        assert run.info.status == "FINISHED" and run.data.params["epochs"] == "3"
        for key in KEYS:
            assert sorted(m.step for m in c.get_metric_history(run.info.run_id, key)) == [1, 2, 3]
        assert {"summary.txt", "curves.png", "checkpoints"} <= {a.path for a in c.list_artifacts(run.info.run_id)}
        assert c.get_run(run.info.run_id).outputs.model_outputs
        assert list(Path(os.environ["TRACKER_STORE"]).glob("outbox/*")) == []
    finally:
        server.stop()
