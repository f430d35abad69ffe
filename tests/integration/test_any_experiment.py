"""Verdicts for runs tracker did not make: examples/plain_mlflow.py logs a study with plain MLflow
calls (RMSE, lower is better), into MLflow's own default store and into a real `mlflow server`,
and `tracker compare` judges it in the metric's units, by its goal; `tracker.compare()` gives
the same numbers to a notebook."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plain_mlflow.py"
ARGS = ("--experiment", "plain-mlflow", "--by", "model", "--metric-key", "rmse", "--goal", "minimize")


def _log_example(env: dict, seeds: int = 4) -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE), "--seeds", str(seeds)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]


def _last_values(uri: str) -> dict[str, list[float]]:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(uri)
    exp = c.get_experiment_by_name("plain-mlflow")
    out: dict[str, list[float]] = {}
    for r in c.search_runs([exp.experiment_id]):
        out.setdefault(r.data.params["model"], []).append(r.data.metrics["rmse"])
    return out


def _judge(rows: list[dict], values: dict[str, list[float]]) -> None:
    by_model = {r["model"]: r for r in rows}
    for model, v in values.items():  # the mean of each run's last value
        assert by_model[model]["rmse_mean"] == pytest.approx(np.mean(v), rel=1e-12)
    # the mean predictor is clearly worse although its number is larger: the goal decides
    assert by_model["mean"]["verdict"] == "worse" and by_model["mean"]["diff_vs_baseline"] > 10
    assert by_model["mean"]["could_be_best"] is False


def test_plain_mlflow_runs_in_mlflows_default_store_are_judged(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_STORE")  # the README's defaults: no URI, no tracker store here
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "TRACKER_STORE")}
    _log_example(env)
    assert (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
    result = cli("compare", *ARGS, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "reading MLflow's default store" in result.stderr
    rows = json.loads(result.stdout)
    _judge(rows, _last_values(f"sqlite:///{tmp_path}/mlflow.db"))
    table = cli("compare", *ARGS).stdout
    assert "judged on rmse, its last logged value, lower is better" in table
    assert "model=mean vs model=gradient-boosting: worse: +" in table and " pp" not in table  # its own units
    assert "rmse (last)" in table and "test final %" not in table

    best = {r["model"]: r for r in json.loads(cli("compare", *ARGS, "--at", "best", "--format", "json").stdout)}
    from mlflow.tracking import MlflowClient

    c = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = c.get_experiment_by_name("plain-mlflow")
    boosted = [min(m.value for m in c.get_metric_history(r.info.run_id, "rmse"))
               for r in c.search_runs([exp.experiment_id]) if r.data.params["model"] == "gradient-boosting"]
    assert best["gradient-boosting"]["rmse_mean"] == pytest.approx(np.mean(boosted), rel=1e-12)
    assert len(c.get_metric_history(c.search_runs([exp.experiment_id])[0].info.run_id, "rmse")) >= 1

    report = cli("report", *ARGS, "--output", str(tmp_path / "report"))
    assert report.exit_code == 0, report.output
    readme = (tmp_path / "report" / "README.md").read_text()
    assert "## Findings" in readme and "**model=mean** is worse than **model=gradient-boosting**" in readme
    assert "curves.png" in readme and "## Models" not in readme  # no tracker model to show
    assert "`model`: mean, ridge, random-forest, gradient-boosting" in readme
    assert "These runs logged no dataset inputs" in readme

    # the notebook's function: the same rows as the JSON, and torch never imported
    code = ("import json, sys, tracker; df = tracker.compare(experiment='plain-mlflow', by='model', "
            "metric_key='rmse', goal='minimize'); print(json.dumps({'torch': 'torch' in sys.modules, "
            "'rows': json.loads(df.to_json(orient='records', double_precision=15)), 'analysis': df.attrs['analysis']}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert got["torch"] is False
    assert got["analysis"]["baseline"] == "model=gradient-boosting" and got["analysis"]["goal"] == "minimize"
    for mine, theirs in zip(got["rows"], rows):
        assert mine.keys() == theirs.keys()
        for k, v in theirs.items():
            assert mine[k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v), k


def test_missing_goal_and_an_unlogged_key_are_one_line(tmp_path, monkeypatch):
    from tests.helpers import store_client

    c = store_client()
    exp = c.create_experiment("foreign")
    for seed, (loss, acc) in enumerate(((0.5, 0.8), (0.4, math.nan)), 1):
        run = c.create_run(exp, tags={"mlflow.source.name": "train.py"})
        c.log_param(run.info.run_id, "opt", "adam")
        c.log_param(run.info.run_id, "seed", str(seed))
        c.log_metric(run.info.run_id, "loss", loss, step=0)
        c.log_metric(run.info.run_id, "acc", acc, step=0)
        c.set_terminated(run.info.run_id)
    missing = cli("compare", "--experiment", "foreign", "--by", "opt", "--metric-key", "loss")
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert "say whether higher or lower is better (--goal maximize|minimize" in missing.stderr
    unknown = cli("compare", "--experiment", "foreign", "--by", "opt", "--metric-key", "los", "--goal", "minimize")
    assert unknown.exit_code == 2 and "no run of experiment 'foreign' logged it; they logged: acc, loss" in unknown.stderr
    nan = cli("compare", "--experiment", "foreign", "--by", "opt", "--metric-key", "acc", "--goal", "maximize",
              "--format", "json")  # NaN at the last step: left out, and said, as for tracker's runs
    assert nan.exit_code == 0 and json.loads(nan.stdout)[0]["n"] == 1
    assert "left out 1 run(s) that did not count: 1 with non-finite acc" in nan.stderr


@pytest.mark.server
def test_plain_mlflow_runs_on_a_real_server_are_judged(tmp_path):
    from tracker.testkit.servers import MlflowServer

    server = MlflowServer(f"sqlite:///{tmp_path}/server.db", str(tmp_path / "art"), log=tmp_path / "server.log").start()
    try:
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
        _log_example(env, seeds=3)
        result = cli("compare", *ARGS, "--format", "json", env={"MLFLOW_TRACKING_URI": server.url})
        assert result.exit_code == 0, result.output
        _judge(json.loads(result.stdout), _last_values(server.url))
    finally:
        server.stop()
