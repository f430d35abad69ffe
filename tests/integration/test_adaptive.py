"""`tracker sweep --until-decided` on real MNIST digits, through the CLI: a condition that is
clearly worse stops at the first look, close ones get the later seeds, every look is logged on
the parent run, and a killed adaptive sweep continues where it stopped."""
import json

import pytest

from tests.helpers import REAL_MNIST
from tests.helpers import all_runs, cli, store_client, without_conditions
from tracker.results.sequential import level
from tracker.testkit.fakedata import real_subset

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (REAL_MNIST / "MNIST" / "raw").is_dir(), reason="real MNIST not present")]

STUDY = """
dataset = "mnist"
arch = "mnist-fast"
epochs = 1
batch_size = 128
optimizer = "adam"
dropout = 0.0
download = false
data_dir = "{data}"
experiment = "adaptive"

[grid]
lr = [0.01, 0.008, 0.00001]  # two close, one far too small

[study]
baseline = "0.01"
margin = 1.0
looks = [2, 3]
"""


def children(c, exp_id):
    runs = c.search_runs([exp_id])
    (parent,) = [r for r in runs if r.data.tags["tracker.kind"] == "sweep"]
    kids = [r for r in runs if r.data.tags["tracker.kind"] == "train"]
    return parent, kids


def test_the_clear_condition_stops_at_the_first_look(tmp_path):
    data = real_subset(REAL_MNIST, tmp_path / "data", n_train=3000, n_test=1000)
    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(data=data))
    dry = cli("sweep", str(path), "--until-decided", "--dry-run")
    assert "9 runs over lr, seed" in dry.stdout and "looks of 2, 3 seeds per condition" in dry.stdout
    result = cli("sweep", str(path), "--until-decided")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "look 1: lr=0.01 2, lr=0.008 2, lr=1e-05 2 seeds" in out
    c = store_client()
    exp = c.get_experiment_by_name("adaptive")
    parent, kids = children(c, exp.experiment_id)
    seeds = {}
    for r in kids:
        seeds.setdefault(r.data.params["lr"], []).append(int(r.data.params["seed"]))
    assert sorted(seeds["1e-05"]) == [1, 2]  # decided at the first look: no more seeds
    rows = {r["lr"]: r for r in json.loads(cli("compare", "--sweep", parent.info.run_id, "--format", "json").stdout)}
    assert rows["1e-05"]["verdict"] == "worse" and rows["1e-05"]["n"] == 2
    assert rows["0.01"]["verdict"] == "baseline"
    # the close pair went on to the next look, unless the first already decided it
    looks = int(parent.data.tags["tracker.look"])
    if rows["0.008"]["n"] == 3:
        assert looks == 2 and "look 2: lr=0.01 3, lr=0.008 3, lr=1e-05 2 seeds" in out
    else:
        assert looks == 1 and rows["0.008"]["verdict"] != "undecided"
    logged = {a.path for a in c.list_artifacts(parent.info.run_id, "looks")}
    assert {f"looks/look-{k}.md" for k in range(1, looks + 1)} <= logged
    study = json.loads(parent.data.tags["tracker.study"])
    assert study["looks"] == [2, 3] and study["margin"] == 1.0 and study["baseline"] == "0.01"
    assert f"per-look level {level((2, 3)):.3g}" in rows["1e-05"]["verdict_reason"]  # not 0.05
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["mlflow.note.content"].startswith("**Findings** after ")

    # killed in its last run, as a stop during that look leaves it: the run KILLED, the look's
    # seeds recorded on the parent and its comparison not decided yet. Run again, the sweep
    # completes the look, resuming that run, and decides the same way
    last = max(kids, key=lambda r: r.info.start_time)
    c.set_terminated(last.info.run_id, "KILLED")
    stopped = f"lr={last.data.params['lr']}"
    decisions = json.loads(parent.data.tags["tracker.decisions"])
    c.set_tag(parent.info.run_id, "tracker.decisions", json.dumps({k: d for k, d in decisions.items() if k != stopped}))
    c.set_tag(parent.info.run_id, "tracker.look_targets", json.dumps({stopped: len(seeds[last.data.params["lr"]]),
                                                                       "lr=0.01": len(seeds["0.01"])}))
    again = cli("sweep", str(path), "--until-decided")
    assert again.exit_code == 0, again.output
    assert f"completing the look a stop interrupted: {stopped} to {len(seeds[last.data.params['lr']])} seeds" in again.stdout
    assert f"1 to run, 1 of them resumed (parent run {parent.info.run_id})" in again.stdout
    assert c.get_run(last.info.run_id).info.status == "FINISHED"
    assert len(without_conditions(all_runs())) == len(kids) + 1  # no new run: the same children, and the parent
