"""The analysis a study declares ([study]) from the command line: refused before any run, logged on the
sweep's parent, used by `compare --sweep` unless options override it (and then said so)."""
import json

from mlflow.entities import Param, RunTag

from tests.helpers import cli, log_run, store_client
from tracker.study import Study, parse

GRID = '[grid]\nnorm = ["batch", "group"]\n'


def test_the_file_refuses_a_bad_study_before_any_run(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GRID + '\n[study]\nmargin = "a tenth"\n')
    result = cli("sweep", str(path), "--dry-run")
    assert result.exit_code == 2 and "study key 'margin'" in result.stderr and result.stderr.count("\n") == 1


def test_declared_then_overridden(tmp_path):
    assert parse({"margin": 0.5, "looks": [3, 5]}) == Study(margin=0.5, looks=(3, 5))
    c = store_client()
    exp = c.create_experiment("declared")
    declared = Study(margin=10.0, baseline="batch").as_json()
    parent = c.create_run(exp, run_name="s", tags={"tracker.kind": "sweep", "tracker.sweep": "s-1",
                                                   "tracker.grid_keys": "norm,seed", "tracker.study": declared})
    pid = parent.info.run_id
    for norm, values in (("batch", [0.95, 0.951, 0.949]), ("group", [0.950, 0.952, 0.948])):
        for seed, v in enumerate(values, 1):
            rid = log_run(c, exp, norm, seed, v + 0.002)  # final = v
            c.log_batch(rid, tags=[RunTag("mlflow.parentRunId", pid), RunTag("tracker.sweep", "s-1")],
                        params=[Param("x", "1")])
    rows = {r["norm"]: r for r in json.loads(cli("compare", "--sweep", pid, "--format", "json").stdout)}
    assert rows["batch"]["verdict"] == "baseline"  # declared, though group has the better mean
    assert rows["group"]["verdict"] == "equivalent"  # within the declared ±10 points
    table = cli("compare", "--sweep", pid).stdout
    assert "margin ±10 pp" in table and "differs from the one the sweep declared" not in table
    narrow = cli("compare", "--sweep", pid, "--margin", "0.01", "--baseline", "group")
    assert "this analysis differs from the one the sweep declared: baseline group (declared batch); " \
           "margin 0.01 (declared 10.0)" in narrow.stdout
    assert "norm=batch vs norm=group: undecided" in narrow.stdout
    bad = cli("compare", "--sweep", pid, "--baseline", "layer")
    assert bad.exit_code == 2 and "no condition is 'layer'" in bad.stderr
    assert cli("compare", "--sweep", pid, "--alpha", "2").exit_code == 2
