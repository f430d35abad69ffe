"""A sweep's parent run carries the study where MLflow users look, against a real `mlflow
server`: its description is the comparison table (updated while the sweep runs), its metrics
are each condition's seed-aggregated curves, compare.json / compare.md are its artifacts, and
the MLflow UI's run page, loaded in headless Chromium, shows the table. Every run also has
system metrics and MLflow's source tags."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from tracker.testkit.browser import page
from tracker.testkit.servers import MlflowServer

pytestmark = pytest.mark.server
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

SWEEP = """
dataset = "mnist"
arch = "mnist-small"
epochs = 2
batch_size = 32
dropout = 0.0
download = false
data_dir = "{data}"
experiment = "parent"

[grid]
norm = ["batch", "group"]
seed = [1, 2]

[study]
margin = 5.0
"""


def history(c, run_id, key):
    return [m.value for m in sorted(c.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))]


def test_the_parent_run_shows_the_study_live(tmp_path, mnist_dir):
    server = MlflowServer(f"sqlite:///{tmp_path}/server.db", str(tmp_path / "art"), log=tmp_path / "server.log").start()
    try:
        path = tmp_path / "sweep.toml"
        path.write_text(SWEEP.format(data=mnist_dir))
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.5"}
        sweep = subprocess.Popen([sys.executable, "-m", "tracker.cli", "sweep", str(path)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        c = MlflowClient(server.url)
        seen = set()  # the descriptions' progress lines, polled while the sweep runs
        while sweep.poll() is None:
            exp = c.get_experiment_by_name("parent")
            runs = c.search_runs([exp.experiment_id], "tags.`tracker.kind` = 'sweep'") if exp else []
            for r in runs:
                note = r.data.tags.get("mlflow.note.content", "")
                if "planned runs ended" in note:
                    seen.add(note.split("**Study:** ", 1)[1].split(" planned", 1)[0])
            time.sleep(0.3)
        out, err = sweep.communicate()
        assert sweep.returncode == 0, err
        assert {"1 of 4", "4 of 4"} <= seen or len(seen) >= 3, seen  # updated as the children ended

        exp = c.get_experiment_by_name("parent")
        runs = c.search_runs([exp.experiment_id])
        (parent,) = [r for r in runs if r.data.tags["tracker.kind"] == "sweep"]
        kids = [r for r in runs if r.data.tags["tracker.kind"] == "train"]
        note = parent.data.tags["mlflow.note.content"]
        assert "**Study:** 4 of 4 planned runs ended; updated " in note
        assert "| norm | n | test final % | 95% CI |" in note and "| verdict |" in note
        compared = subprocess.run([sys.executable, "-m", "tracker.cli", "compare", "--sweep", parent.info.run_id,
                                   "--format", "markdown"], env=env, capture_output=True, text=True).stdout
        assert compared in note  # the table as compare prints it, notes included

        # the curves: each condition's mean and 95% band per epoch, from its children
        for norm in ("batch", "group"):
            mine = [r for r in kids if r.data.params["norm"] == norm]
            for key in ("test_acc", "test_loss"):
                values = np.array([history(c, r.info.run_id, key) for r in mine])
                mean = history(c, parent.info.run_id, f"norm-{norm}/{key}_mean")
                low = history(c, parent.info.run_id, f"norm-{norm}/{key}_ci_low")
                assert mean == pytest.approx(values.mean(0), abs=1e-12) and len(mean) == 2
                half = stats.t.ppf(0.975, 1) * values.std(0, ddof=1) / np.sqrt(2)
                assert low == pytest.approx(values.mean(0) - half, abs=1e-9)

        dest = tmp_path / "dl"
        rows = json.loads(Path(c.download_artifacts(parent.info.run_id, "compare.json", str(dest))).read_text())
        assert {r["norm"] for r in rows} == {"batch", "group"} and all("verdict" in r for r in rows)
        assert Path(c.download_artifacts(parent.info.run_id, "compare.md", str(dest))).read_text() == compared

        for r in [parent, *kids]:  # the UI's Source column
            assert r.data.tags["mlflow.source.type"] == "LOCAL" and r.data.tags["mlflow.source.name"] == str(path)
        for r in kids:  # system metrics, and tracker's own throughput and peak memory
            assert any(k.startswith("system/cpu_utilization") for k in r.data.metrics), sorted(r.data.metrics)
            assert r.data.metrics["train_images_per_s"] > 0 and r.data.metrics["peak_rss_mib"] > 100

        if shutil.which("chromium"):
            url = (f"{server.url}/#/experiments/{exp.experiment_id}/runs/{parent.info.run_id}"
                   "?workflowType=machine_learning")
            ARTIFACTS.mkdir(exist_ok=True)
            dom = page(url, tmp_path / "chrome", ARTIFACTS / "parent-run-page.png")
            assert "planned runs ended" in dom and "<table" in dom and "verdict" in dom
    finally:
        server.stop()


def test_a_server_restart_mid_sweep_loses_nothing_of_the_parent(tmp_path, mnist_dir):
    """The server goes away after the first child and comes back: the children's calls wait in
    their outboxes, the parent's updates that fall in the outage are skipped and caught up, and
    at the end the parent holds every child, its curves and compare.json as compare prints it."""
    server = MlflowServer(f"sqlite:///{tmp_path}/server.db", str(tmp_path / "art"), log=tmp_path / "server.log").start()
    try:
        path = tmp_path / "sweep.toml"
        path.write_text(SWEEP.format(data=mnist_dir).replace("epochs = 2", "epochs = 3"))
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "TRACKER_OUTAGE_WAIT": "240"}
        sweep = subprocess.Popen([sys.executable, "-m", "tracker.cli", "sweep", str(path)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        c = MlflowClient(server.url)
        deadline = time.time() + 180
        while time.time() < deadline:  # the first child FINISHED: pull the server away
            exp = c.get_experiment_by_name("parent")
            runs = c.search_runs([exp.experiment_id], "attributes.status = 'FINISHED'") if exp else []
            if any(r.data.tags.get("tracker.kind") == "train" for r in runs):
                break
            time.sleep(0.5)
        server.stop()
        time.sleep(10)
        server.start()
        out, err = sweep.communicate(timeout=600)
        assert sweep.returncode == 0, out[-2000:] + err[-2000:]
        assert "unreachable" in err  # the sweep saw the outage (a child waited, or its calls did)

        exp = c.get_experiment_by_name("parent")
        runs = c.search_runs([exp.experiment_id])
        (parent,) = [r for r in runs if r.data.tags["tracker.kind"] == "sweep"]
        kids = [r for r in runs if r.data.tags["tracker.kind"] == "train"]
        assert len(kids) == 4 and all(r.info.status == "FINISHED" for r in kids)
        for r in kids:  # every epoch of every child, once
            assert [m.step for m in c.get_metric_history(r.info.run_id, "test_acc")] == [1, 2, 3]
        assert parent.info.status == "FINISHED"
        assert "**Study:** 4 of 4 planned runs ended" in parent.data.tags["mlflow.note.content"]
        for norm in ("batch", "group"):
            assert len(history(c, parent.info.run_id, f"norm-{norm}/test_acc_mean")) == 3
        compared = subprocess.run([sys.executable, "-m", "tracker.cli", "compare", "--sweep", parent.info.run_id,
                                   "--format", "json"], env=env, capture_output=True, text=True).stdout
        dest = tmp_path / "dl"
        logged = Path(c.download_artifacts(parent.info.run_id, "compare.json", str(dest))).read_text()
        assert json.loads(logged) == json.loads(compared)
    finally:
        server.stop()
