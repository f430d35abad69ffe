"""A sweep's parent run carries the study where MLflow users look, against a real `mlflow
server` running tracker's app (as `tracker server` does): its description leads with the
findings, then the comparison table (updated while the sweep runs); each condition's curves
across its runs are a run of their own, which the experiment's chart view overlays;
compare.json / compare.md are the parent's artifacts. In headless Chromium, with plain links: the
experiment opens on its runs table, the chart view puts every condition in one chart, and the
run page shows the findings first. Every run also has system metrics and MLflow's source tags."""
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

from tracker.runs.parent import chart_link
from tracker.testkit.browser import charts, description, page
from tracker.testkit.servers import MlflowServer
from tracker.tracking.server import APP, app_installed

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
    assert app_installed(), f"tracker's mlflow.app {APP!r} is not installed: pip install -e . again"
    server = MlflowServer(f"sqlite:///{tmp_path}/server.db", str(tmp_path / "art"), extra=["--app-name", APP],
                          log=tmp_path / "server.log").start()
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
                if note.startswith("**Findings** after "):
                    seen.add(note.split("**Findings** after ", 1)[1].split(" planned", 1)[0])
            time.sleep(0.3)
        out, err = sweep.communicate()
        assert sweep.returncode == 0, err
        assert {"1 of 4", "4 of 4"} <= seen or len(seen) >= 3, seen  # updated as the children ended

        exp = c.get_experiment_by_name("parent")
        runs = c.search_runs([exp.experiment_id])
        (parent,) = [r for r in runs if r.data.tags["tracker.kind"] == "sweep"]
        kids = [r for r in runs if r.data.tags["tracker.kind"] == "train"]
        curves = {r.data.params["norm"]: r for r in runs if r.data.tags["tracker.kind"] == "condition"}
        assert len(runs) == 1 + 4 + 2 and sorted(curves) == ["batch", "group"]
        note = parent.data.tags["mlflow.note.content"]
        compared = subprocess.run([sys.executable, "-m", "tracker.cli", "compare", "--sweep", parent.info.run_id,
                                   "--format", "markdown"], env=env, capture_output=True, text=True).stdout
        rows = {r["norm"]: r for r in json.loads(subprocess.run(
            [sys.executable, "-m", "tracker.cli", "compare", "--sweep", parent.info.run_id, "--format", "json"],
            env=env, capture_output=True, text=True).stdout)}
        assert {r["n"] for r in rows.values()} == {2}  # the children only: no condition run counts

        # the description: the findings first, in a few lines, then the table as compare prints it
        (other,) = [norm for norm, r in rows.items() if not r["baseline"]]
        (base,) = [norm for norm, r in rows.items() if r["baseline"]]
        said = {"better": "is better: ", "worse": "is worse: ", "equivalent": "is equivalent within ±5 pp: ",
                "undecided": ": no difference established, "}[rows[other]["verdict"]]
        head = note.splitlines()
        assert head[0].startswith("**Findings** after 4 of 4 planned runs. Judged on the final test accuracy")
        assert f"against **norm={base}**" in head[0]
        assert head[1].startswith(f"- **norm={other}**{said}{rows[other]['diff_vs_baseline'] * 100:+.2f} pp")
        assert "| norm | n | test final % | 95% CI |" in note and "| verdict |" in note
        assert compared in note and note.index(head[1]) < note.index(compared)  # notes included
        listed = json.loads(subprocess.run([sys.executable, "-m", "tracker.cli", "runs", "--experiment", "parent",
                                            "--format", "json"], env=env, capture_output=True, text=True).stdout)
        assert {r["run_id"] for r in listed} == {parent.info.run_id} | {r.info.run_id for r in kids}

        # the curves: a run per condition, its children's mean and 95% band per epoch (alpha 0.05)
        assert not any(k.startswith(("norm-", "condition/")) for k in parent.data.metrics)
        for norm, run in curves.items():
            assert run.info.run_name == f"norm={norm}: mean of 2 runs" and run.info.status == "FINISHED"
            assert run.data.tags["tracker.condition_of"] == parent.info.run_id
            assert "mlflow.parentRunId" not in run.data.tags  # top level: where the chart view takes its runs
            mine = [r for r in kids if r.data.params["norm"] == norm]
            for key in ("test_acc", "test_loss"):
                values = np.array([history(c, r.info.run_id, key) for r in mine])
                mean = history(c, run.info.run_id, f"condition/{key}")
                low = history(c, run.info.run_id, f"condition/{key}_ci_low")
                high = history(c, run.info.run_id, f"condition/{key}_ci_high")
                assert mean == pytest.approx(values.mean(0), abs=1e-12) and len(mean) == 2
                half = stats.t.ppf(0.975, 1) * values.std(0, ddof=1) / np.sqrt(2)
                lo, hi = (0.0, 1.0) if key == "test_acc" else (-np.inf, np.inf)  # an accuracy's band: inside [0, 1]
                assert low == pytest.approx(np.clip(values.mean(0) - half, lo, hi), abs=1e-9)
                assert high == pytest.approx(np.clip(values.mean(0) + half, lo, hi), abs=1e-9)

        dest = tmp_path / "dl"
        logged = json.loads(Path(c.download_artifacts(parent.info.run_id, "compare.json", str(dest))).read_text())
        assert {r["norm"] for r in logged} == {"batch", "group"} and all("verdict" in r for r in logged)
        assert Path(c.download_artifacts(parent.info.run_id, "compare.md", str(dest))).read_text() == compared

        for r in [parent, *kids]:  # the UI's Source column
            assert r.data.tags["mlflow.source.type"] == "LOCAL" and r.data.tags["mlflow.source.name"] == str(path)
        for r in kids:  # system metrics, and tracker's own throughput and peak memory
            assert any(k.startswith("system/cpu_utilization") for k in r.data.metrics), sorted(r.data.metrics)
            assert r.data.metrics["train_images_per_s"] > 0 and r.data.metrics["peak_rss_mib"] > 100

        if shutil.which("chromium"):  # what a user sees, from plain links (no query string)
            ARTIFACTS.mkdir(exist_ok=True)
            named = [r.info.run_name for r in curves.values()]
            home = f"{server.url}/#/experiments/{exp.experiment_id}"
            table = page(home, tmp_path / "chrome-home", ARTIFACTS / "experiment-page.png",
                         until=lambda dom: parent.info.run_name in dom)
            assert all(n in table for n in named) and parent.info.run_name in table  # the runs table
            assert "Detect Issues" not in table  # not the GenAI overview
            view = page(f"{server.url}/{chart_link(exp.experiment_id)}", tmp_path / "chrome-charts",
                        ARTIFACTS / "chart-view.png",  # the charts are drawn after the page: until they are
                        until=lambda dom: charts(dom).get("condition/test_acc", ((), 0))[1] > 0)
            legend, lines = charts(view)["condition/test_acc"]  # the first chart: each condition's mean
            assert set(named) <= set(legend) and lines >= len(named)
            shown = description(page(f"{home}/runs/{parent.info.run_id}", tmp_path / "chrome-run",
                                     ARTIFACTS / "parent-run-page.png", until=lambda dom: bool(description(dom))))
            assert shown.startswith("<p><strong>Findings</strong> after 4 of 4 planned runs.")
            assert shown.index(f"<strong>norm={other}</strong>") < shown.index("<table") and "verdict" in shown
            assert f'href="{chart_link(exp.experiment_id)}"' in shown  # the chart view loaded above

            # the same store behind a plain `mlflow server`: the GenAI view, though the experiment carries the tag
            assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
            server.stop()
            server.extra = []
            server.start()
            genai = page(home, tmp_path / "chrome-plain", ARTIFACTS / "experiment-page-plain-server.png",
                         until=lambda dom: "Detect Issues" in dom)
            assert "Detect Issues" in genai and not any(n in genai for n in named)
    finally:
        server.stop()


def test_a_server_restart_mid_sweep_loses_nothing_of_the_parent(tmp_path, mnist_dir):
    """The server goes away after the first child and comes back: the children's calls wait in
    their outboxes, the parent's updates that fall in the outage are skipped and caught up, and
    at the end the parent holds every child and compare.json as compare prints it, and each
    condition has one run of curves over all its epochs."""
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
        curves = {r.data.params["norm"]: r for r in runs if r.data.tags["tracker.kind"] == "condition"}
        assert len(kids) == 4 and all(r.info.status == "FINISHED" for r in kids)
        assert len(runs) == 1 + 4 + 2 and sorted(curves) == ["batch", "group"]  # one run of curves each
        for r in kids:  # every epoch of every child, once
            assert [m.step for m in c.get_metric_history(r.info.run_id, "test_acc")] == [1, 2, 3]
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["mlflow.note.content"].startswith("**Findings** after 4 of 4 planned runs.")
        for run in curves.values():
            assert [m.step for m in c.get_metric_history(run.info.run_id, "condition/test_acc")] == [1, 2, 3]
        compared = subprocess.run([sys.executable, "-m", "tracker.cli", "compare", "--sweep", parent.info.run_id,
                                   "--format", "json"], env=env, capture_output=True, text=True).stdout
        dest = tmp_path / "dl"
        logged = Path(c.download_artifacts(parent.info.run_id, "compare.json", str(dest))).read_text()
        assert json.loads(logged) == json.loads(compared)
    finally:
        server.stop()
