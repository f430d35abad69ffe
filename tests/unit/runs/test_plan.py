"""A sweep's plan, a pure function of an Experiment built here: its points and their run names,
the sweep's id (stable: a sweep run again finds its parent by it), what it refuses before any
run, its conditions, the seeds an adaptive plan runs up to, and the tags it writes."""
import json

import pytest

from tracker.errors import ConfigError, UserError
from tracker.experiment import Experiment
from tracker.runs.plan import child_tags, parent_tags, plan, seeds
from tracker.study import Study

GRID = {"norm": ["group", "batch"], "seed": [2, 1]}


def norms(base=None, grid=None, study=None, path="exps/norms.toml"):
    return Experiment(path, {"epochs": 1, "data_dir": "/d", **(base or {})}, dict(grid or GRID), study)


def test_every_point_with_its_config_and_name_in_the_grids_order():
    p = plan(norms())
    assert [pt.values for pt in p.points] == [{"norm": "group", "seed": 2}, {"norm": "group", "seed": 1},
                                              {"norm": "batch", "seed": 2}, {"norm": "batch", "seed": 1}]
    assert [pt.cfg.name for pt in p.points] == ["mnist-small-group-seed2", "mnist-small-group-seed1",
                                                "mnist-small-batch-seed2", "mnist-small-batch-seed1"]
    assert all(pt.cfg.epochs == 1 and pt.cfg.data_dir == "/d" for pt in p.points)
    assert (p.file, p.grid, p.grid_keys, p.by, p.adaptive) == ("exps/norms.toml", GRID, ["norm", "seed"], ["norm"], False)
    assert p.resume_command() == "tracker sweep exps/norms.toml"


def test_a_grid_key_that_does_not_name_a_run_is_added_to_its_name():
    p = plan(norms(grid={"lr": [0.1, 0.01], "norm": ["batch"]}))
    assert [pt.cfg.name for pt in p.points] == ["mnist-small-batch-seed1-lr0.1",
                                                "mnist-small-batch-seed1-lr0.01"]
    assert [pt.cfg.lr for pt in p.points] == [0.1, 0.01] and p.by == ["lr", "norm"]


def test_two_runs_of_one_name_are_refused():
    # a sweep finds a run again by its name (finished: skipped; killed: resumed): one name, one run
    with pytest.raises(ConfigError) as e:
        plan(norms(base={"run_name": "mine"}))
    assert str(e.value) == ("norms.toml: 4 runs of its [grid] would be named 'mine'; each run of a sweep needs its "
                            "own name (remove run_name, or a value the grid lists twice)")
    with pytest.raises(ConfigError, match="2 runs of its \\[grid\\] would be named 'mnist-small-batch-seed1'"):
        plan(norms(grid={"norm": ["batch"], "seed": [1, 1]}))
    assert plan(norms(base={"run_name": "mine"}, grid={"norm": ["batch"]})).points[0].cfg.name == "mine"


def test_the_conditions_in_the_grids_order_seeds_ascending():
    p = plan(norms())
    conditions = p.conditions()
    assert list(conditions) == ["norm=group", "norm=batch"]
    assert [pt.cfg.seed for pt in conditions["norm=group"]] == [1, 2]
    assert p.planned() == {"norm=group": {"mnist-small-group-seed1", "mnist-small-group-seed2"},
                           "norm=batch": {"mnist-small-batch-seed1", "mnist-small-batch-seed2"}}


def test_the_sweeps_id_is_stable():
    p = plan(norms())
    assert p.name == "norms-6b8ea402"  # changing this orphans every sweep already logged: on purpose only
    assert plan(norms(), ("epochs=1",)).name == p.name  # the same config, said again
    # where a run executes, the analysis and until-decided do not change what its runs compute
    assert plan(norms(base={"data_dir": "/elsewhere", "device": "cpu", "download": False})).name == p.name
    assert plan(norms(study=Study(margin=0.3, alpha=0.1))).name == p.name
    assert plan(norms(), until_decided=True).name == p.name
    assert plan(norms(base={"epochs": 1, "data_dir": "/x"}), extra={"system_metrics": False}).name == p.name
    # what the runs compute does
    assert plan(norms(base={"epochs": 2})).name != p.name
    assert plan(norms(), ("lr=0.1",)).name != p.name
    assert plan(norms(), extra={"epochs": 3}).name != p.name
    assert plan(norms(grid={"norm": ["group", "batch"], "seed": [2, 1, 3]})).name != p.name
    assert plan(norms(path="other/norms.toml")).name == p.name  # the stem, not the folder
    assert plan(norms(path="exps/norms2.toml")).name == "norms2-6b8ea402"


def test_refusals_before_any_run():
    with pytest.raises(ConfigError) as e:
        plan(norms(), ("norm=layer",))
    assert str(e.value) == ("--set norm=...: norm is a [grid] key of norms.toml (group, batch), so a sweep runs "
                            "every value; edit the grid, or train one point with `tracker train exps/norms.toml "
                            "--set norm=...`")
    with pytest.raises(UserError) as e:
        plan(norms(grid={"seed": [1, 2]}), until_decided=True)
    assert str(e.value) == ("--until-decided compares conditions, but the [grid] of exps/norms.toml has no key "
                            "besides seed; add the key whose values are compared (e.g. norm)")
    with pytest.raises(ConfigError, match="^metric 'rmse': say whether higher or lower is better"):
        plan(norms(study=Study(metric_key="rmse")))
    with pytest.raises(UserError) as e:
        plan(norms(study=Study(baseline="layer")))
    assert str(e.value) == ("study key 'baseline' 'layer': no condition is 'layer'; the conditions are norm=group, "
                            "norm=batch")
    with pytest.raises(ConfigError, match="config key 'norm': unknown value 'instance'"):
        plan(norms(grid={"norm": ["batch", "instance"]}))
    with pytest.raises(ConfigError, match="unknown config key 'epoch'"):
        plan(norms(), ("epoch=2",))
    assert plan(norms(study=Study(baseline="batch"))).study.baseline == "batch"


def test_a_plain_sweep_is_one_look_whatever_the_file_declares():
    p = plan(norms(study=Study(looks=(3, 5), margin=0.2)))
    assert p.study == Study(margin=0.2) and p.grid["seed"] == [2, 1] and len(p.points) == 4
    assert plan(norms()).study == Study()


def test_an_adaptive_plan_runs_seeds_up_to_its_last_look():
    p = plan(norms(), until_decided=True)
    assert p.adaptive and p.study.looks == (3, 5, 10)  # the default looks
    assert p.grid == {"norm": ["group", "batch"], "seed": [2, 1, 3, 4, 5, 6, 7, 8, 9, 10]}
    assert len(p.points) == 20 and [pt.cfg.seed for pt in p.conditions()["norm=batch"]] == list(range(1, 11))
    assert p.resume_command() == "tracker sweep exps/norms.toml --until-decided"
    declared = plan(norms(study=Study(looks=(2, 4), alpha=0.1)), until_decided=True)
    assert declared.study == Study(looks=(2, 4), alpha=0.1) and declared.grid["seed"] == [2, 1, 3, 4]
    # no seed in the grid: the file's seed first, then the next ones
    single = plan(norms(base={"seed": 7}, grid={"norm": ["batch", "group"]}), until_decided=True)
    assert single.grid["seed"] == [7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    assert [pt.cfg.seed for pt in single.points[:3]] == [7, 8, 9]
    assert plan(norms(grid={"norm": ["batch", "group"]}), until_decided=True).grid["seed"][:2] == [1, 2]


def test_seeds():
    assert seeds([5, 3], 5) == [5, 3, 6, 7, 8]
    assert seeds([1, 2, 3, 4, 5], 3) == [1, 2, 3]
    assert seeds(["4"], 2) == [4, 5]


def test_the_tags_of_the_parent_and_of_each_child():
    p = plan(norms(study=Study(margin=0.1)))
    study = Study(margin=0.1).as_json()
    assert child_tags(p, p.points[1], "PARENT") == {
        "mlflow.parentRunId": "PARENT", "tracker.sweep": "norms-6b8ea402", "tracker.grid_keys": "norm,seed",
        "tracker.grid.norm": "group", "tracker.grid.seed": "1", "tracker.study": study}
    tags = parent_tags(p)
    assert tags == {"tracker.kind": "sweep", "tracker.sweep": "norms-6b8ea402", "tracker.grid_keys": "norm,seed",
                    "mlflow.source.name": "exps/norms.toml", "mlflow.source.type": "LOCAL",
                    "tracker.grid.norm": '["group", "batch"]', "tracker.grid.seed": "[2, 1]", "tracker.study": study}
    assert json.loads(tags["tracker.grid.seed"]) == [2, 1]
    adaptive = plan(norms(), until_decided=True)
    assert json.loads(parent_tags(adaptive)["tracker.study"])["looks"] == [3, 5, 10]
