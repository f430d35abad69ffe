"""Which runs count, on hand-made records: the reason each run left out is left out, a seed run
twice counted once (the newest), runs that name no seed, the conditions and their labels, the
baseline named by label or value, and each condition's best run by the goal."""
import math

import pytest

from tests.helpers import record, tracker_run
from tracker.errors import UserError
from tracker.results.counted import (baseline_label, best_runs, conditions, count, default_by,
                                     has_validation, label, runs_frame)
from tracker.study import JUDGED, custom
from tracker.tracking.records import FLOAT_MAX, Selection

FINAL = JUDGED["final"]


def counted(runs, by=(), judged=FINAL, grid_keys=(), seed="seed"):
    return count(Selection(runs, "e", list(grid_keys)), by, judged, seed)


def test_each_run_left_out_says_why_and_the_footnote_counts_them():
    runs = [tracker_run("batch", 1, 0.97), tracker_run("batch", 2, 0.96), tracker_run("batch", 2, 0.98),
            tracker_run("group", 1, 0.95, "FAILED"), tracker_run("group", 2, math.nan),
            tracker_run("group", 3, 0.9, metrics={"test_acc": -FLOAT_MAX}), tracker_run("group", 4, 0.94),
            tracker_run("group", 5, 0.93, "RUNNING")]
    del runs[6].metrics["test_acc"]
    c = counted(runs)
    assert c.reason.tolist() == ["", "a duplicate of a seed already counted", "", "status FAILED",
                                 "non-finite test_acc", "non-finite test_acc", "no test_acc", "status RUNNING"]
    assert c.excluded == {"non-finite test_acc": 2, "a duplicate of a seed already counted": 1,
                          "status FAILED": 1, "status RUNNING": 1, "no test_acc": 1}
    assert c.footnote() == ("left out 6 run(s) that did not count: 1 a duplicate of a seed already counted, "
                            "1 with no test_acc, 2 with non-finite test_acc, 1 with status FAILED, "
                            "1 with status RUNNING")
    assert c.values() == {"norm=batch": [0.97, 0.98]}  # seed 2's newer run counts
    assert c.frame["_test_acc"][5] == -math.inf  # MLflow's -FLOAT_MAX is -inf again
    assert counted(runs[:1]).footnote() == ""


def test_the_newest_run_of_a_seed_counts_whatever_the_order_read():
    old, new = tracker_run("batch", 1, 0.90, start=5000), tracker_run("batch", 1, 0.99, start=9000)
    c = counted([new, old, tracker_run("batch", 2, 0.95, start=1)])
    assert c.reason.tolist() == ["", "a duplicate of a seed already counted", ""]
    assert sorted(c.values()["norm=batch"]) == [0.95, 0.99]


def test_the_same_seed_of_another_config_is_no_duplicate_but_another_device_is():
    runs = [tracker_run("batch", 1, 0.97, lr=0.1), tracker_run("batch", 1, 0.96, lr=0.01),
            tracker_run("batch", 1, 0.95, lr=0.1, device="cuda"), tracker_run("batch", 1, 0.94, lr=0.1, data_dir="/x")]
    # lr is config (another run of seed 1, pooled in norm=batch); device and data_dir say where it ran
    assert counted(runs).reason.tolist() == ["a duplicate of a seed already counted", "",
                                             "a duplicate of a seed already counted", ""]


def test_runs_tracker_did_not_make_are_one_point_per_params_but_the_seed():
    runs = [record({"model": "a", "lr": "0.1", "rs": "1"}, {"rmse": 0.3}),
            record({"model": "a", "lr": "0.1", "rs": "1"}, {"rmse": 0.2}),
            record({"model": "a", "lr": "0.2", "rs": "1"}, {"rmse": 0.4}),
            record({"model": "a", "lr": "0.1", "rs": "2"}, {"rmse": 0.5})]
    c = counted(runs, ("model",), custom("rmse", "minimize"), seed="rs")
    assert c.reason.tolist() == ["a duplicate of a seed already counted", "", "", ""]
    assert c.seeded and c.seed == "rs" and c.values() == {"model=a": [0.2, 0.4, 0.5]}


def test_runs_that_name_no_seed_each_count_once():
    runs = [record({"model": "a"}, {"rmse": v}) for v in (0.3, 0.3, 0.2)]
    c = counted(runs, ("model",), custom("rmse", "minimize"))
    assert not c.seeded and (c.reason == "").all() and c.values() == {"model=a": [0.3, 0.3, 0.2]}


def test_best_val_missing_is_no_validation_split():
    runs = [tracker_run("batch", 1, 0.97, metrics={"test_acc_at_best_val": 0.96}), tracker_run("batch", 2, 0.97)]
    c = counted(runs, judged=JUDGED["best_val"])
    assert c.reason.tolist() == ["", "no validation split"] and c.values() == {"norm=batch": [0.96]}
    assert c.column == "_test_acc_at_best_val"


def test_runs_frame_marks_what_was_logged_from_what_was_not():
    a, b = tracker_run("batch", 1, 0.97), record({"norm": "x"}, {"test_acc": FLOAT_MAX})
    frame = runs_frame([a, b], ["norm"], FINAL)
    assert frame["_test_acc"].tolist() == [0.97, math.inf]
    assert frame["_has_test_acc_best"].tolist() == [True, False] and math.isnan(frame["_test_acc_best"][1])
    assert frame["_seed"].tolist() == ["1", ""] and frame["_params_total"].tolist() == ["47890", ""]
    assert frame["_start"].tolist() == [a.start_time, b.start_time]


def test_has_validation():
    assert not has_validation([tracker_run("batch", 1, 0.9)])
    assert has_validation([tracker_run("batch", 1, 0.9), tracker_run("batch", 2, 0.9, metrics={"val_acc": 0.9})])


def test_conditions_in_the_order_they_first_appear():
    runs = [tracker_run(n, s, 0.9 + s / 100, lr=lr) for s in (1, 2) for n, lr in (("layer", 0.1), ("batch", 0.1),
                                                                                  ("layer", 0.2))]
    c = counted(runs, ("norm,lr",))
    assert list(c.values()) == ["norm=layer lr=0.1", "norm=batch lr=0.1", "norm=layer lr=0.2"]
    assert [r.run_id for r in c.groups()["norm=layer lr=0.2"]] == [runs[2].run_id, runs[5].run_id]


def test_default_by_and_label():
    assert default_by(("norm,lr", " seed "), []) == ["norm", "lr", "seed"]
    assert default_by(("norm", "lr"), ["x"]) == ["norm", "lr"]
    assert default_by((), ["lr", "seed", "norm"]) == ["lr", "norm"]
    assert default_by((), ["seed"]) == ["norm"] and default_by((), []) == ["norm"]
    assert label(["norm", "lr"], ("batch", "0.1")) == "norm=batch lr=0.1"


def test_conditions_refuse_the_seed_and_a_param_no_run_has():
    found = Selection([tracker_run("batch", 1, 0.9)], "e", [])
    with pytest.raises(UserError) as e:
        conditions(found, ("seed",))
    assert str(e.value) == "--by 'seed': the seed is what each condition is repeated over, not a condition"
    with pytest.raises(UserError) as e:
        conditions(found, ("norm,optimiser",))
    assert str(e.value) == ("--by 'optimiser': no run here has that param; they have: arch, dataset, epochs, "
                            "norm, params_total, seed")
    assert conditions(Selection([], "e", []), ("anything",)) == ["anything"]  # no runs: nothing to check
    with pytest.raises(UserError, match="^--by 'rs': the seed"):
        conditions(found, ("rs",), seed="rs")


def test_a_baseline_is_named_by_its_label_or_by_its_value_when_one_key_defines_a_condition():
    labels = ["norm=batch", "norm=group"]
    assert baseline_label(labels, ["norm"], "group") == "norm=group"
    assert baseline_label(labels, ["norm"], "norm=batch") == "norm=batch"
    two = ["norm=batch lr=0.1", "norm=batch lr=0.2"]
    assert baseline_label(two, ["norm", "lr"], "norm=batch lr=0.2") == "norm=batch lr=0.2"
    with pytest.raises(UserError) as e:
        baseline_label(two, ["norm", "lr"], "batch")  # a value alone names no condition of two keys
    assert str(e.value) == ("--baseline 'batch': no condition is 'batch'; the conditions are "
                            "norm=batch lr=0.1, norm=batch lr=0.2")
    with pytest.raises(UserError, match="^study key 'baseline' 'layer': no condition"):
        baseline_label(labels, ["norm"], "layer", "study key 'baseline'")


def test_best_runs_by_the_goal_skipping_what_is_not_finite():
    runs = [tracker_run("batch", 1, 0.97), tracker_run("batch", 2, 0.99), tracker_run("batch", 3, math.inf),
            tracker_run("group", 1, 0.95), tracker_run("group", 2, 0.95), tracker_run("group", 3, math.nan)]
    best = best_runs(runs, FINAL, ["norm"])
    assert [r.run_id for r in best] == [runs[1].run_id, runs[3].run_id]  # a tie: the first stays
    assert [r.run_id for r in best_runs(runs, FINAL, [])] == [runs[1].run_id]
    loss = custom("test_acc", "minimize")
    assert [r.run_id for r in best_runs(runs, loss, [])] == [runs[3].run_id]
    assert best_runs([record({}, {})], FINAL, []) == []
