"""The declared analysis ([study]) on hand-made values: what it refuses and how it says so, the
metric it judges (tracker's accuracies, any logged metric with its goal), a baseline given as a
number, the command line's options over it, and its JSON form."""
import json

import pytest

from tracker import names
from tracker.errors import ConfigError
from tracker.study import JUDGED, REFERENCE, TRAIN, Study, check_looks, custom, from_json, parse


@pytest.mark.parametrize("values, line", [
    ({"metric": "best"}, "study key 'metric': unknown value 'best'; expected one of final, best_val, "
                         "best_test (or metric_key for any logged metric)"),
    ({"metric": "final", "metric_key": "rmse"}, "study keys 'metric' and 'metric_key': give one (metric for "
                                                "tracker's accuracies, metric_key for any logged metric)"),
    ({"goal": "max"}, "study key 'goal': unknown value 'max'; expected one of maximize, minimize"),
    ({"at": "first"}, "study key 'at': unknown value 'first'; expected one of last, best"),
    ({"metric_key": " "}, "study key 'metric_key': expected a metric's name, got ' '"),
    ({"baseline": ""}, "study key 'baseline': expected a condition's value, got ''"),
    ({"margin": 0}, "study key 'margin': expected a positive number in the metric's display units "
                    "(percentage points for accuracies, e.g. 0.1); got 0"),
    ({"margin": float("inf")}, "study key 'margin': expected a positive number in the metric's display "
                               "units (percentage points for accuracies, e.g. 0.1); got inf"),
    ({"alpha": 0.5}, "study key 'alpha': expected a number in (0, 0.5), e.g. 0.05; got 0.5"),
    ({"alpha": True}, "study key 'alpha': expected a number in (0, 0.5), e.g. 0.05; got True"),
    ({"looks": (3, 3)}, "study key 'looks': must be strictly increasing whole numbers of seeds >= 2, "
                        "e.g. [3, 5, 10]; got [3, 3]"),
    ({"looks": (1, 3)}, "study key 'looks': must be strictly increasing whole numbers of seeds >= 2, "
                        "e.g. [3, 5, 10]; got [1, 3]"),
])
def test_a_bad_value_is_one_line_naming_its_key(values, line):
    with pytest.raises(ConfigError) as e:
        Study(**values)
    assert str(e.value) == line


def test_check_looks_takes_whole_numbers_only():
    assert check_looks([2, 4, 9]) == (2, 4, 9)
    for bad in ([], [3.0, 5], [True, 3], [5, 4]):
        with pytest.raises(ConfigError, match="study key 'looks'"):
            check_looks(bad)


def test_a_baseline_given_as_a_number_is_the_param_mlflow_logged():
    # MLflow logs every param as text: lr = 0.1 is the param "0.1", a bool "True"
    assert Study(baseline=0.1).baseline == "0.1"
    assert Study(baseline=3).baseline == "3"
    assert Study(baseline=True).baseline == "True"
    assert parse({"baseline": 0.01}).baseline == "0.01"
    assert Study(baseline=0.1).differences(Study(baseline="0.1")) == []


def test_parse_reads_a_table_and_refuses_what_is_not_one():
    assert parse(None) == Study()
    assert parse({"margin": 0.5, "looks": [3, 5], "alpha": 0.1}) == Study(margin=0.5, looks=(3, 5), alpha=0.1)
    with pytest.raises(ConfigError, match=r"^config key 'study': expected a table \(\[study\]\)$"):
        parse([1])
    with pytest.raises(ConfigError, match="^unknown study key 'margins'; did you mean 'margin'\\?$"):
        parse({"margins": 0.1})
    with pytest.raises(ConfigError, match="^unknown study key 'xyz'; known keys: metric, metric_key, goal, at, "
                                          "baseline, margin, alpha, looks$"):
        parse({"xyz": 0.1})
    with pytest.raises(ConfigError, match=r"expected a list of seeds per look, e.g. \[3, 5, 10\]; got 3$"):
        parse({"looks": 3})


def test_judged_default_is_final_or_best_val_when_the_runs_held_out_validation():
    assert Study().judged() is JUDGED["final"]
    assert Study().judged(has_validation=True) is JUDGED["best_val"]
    assert Study(metric="best_test").judged(has_validation=True) is JUDGED["best_test"]
    final = JUDGED["final"]
    assert (final.metric, final.column, final.title) == ("test_acc", "test_acc_final", "test final %")
    assert JUDGED["best_test"].on_test and not JUDGED["best_val"].on_test
    assert JUDGED["best_val"].metric == names.TEST_ACC_AT_BEST_VAL


def test_a_metric_key_of_tracker_is_its_record_unless_judged_otherwise():
    # test_acc is the final accuracy's metric: the same record, shown in percent
    assert Study(metric_key="test_acc").judged() is JUDGED["final"]
    assert Study(metric_key="train_acc_best", goal="maximize").judged() is TRAIN
    # the same metric at its best step, or minimized, is judged in its own units
    best = Study(metric_key="test_acc", at="best").judged()
    assert (best.goal, best.at, best.unit, best.scale, best.bounds) == ("maximize", "best", "", 1.0, None)
    assert Study(metric_key="test_acc", goal="minimize").judged().goal == "minimize"


def test_a_custom_metric_needs_its_goal_and_is_shown_in_its_own_units():
    with pytest.raises(ConfigError) as e:
        Study(metric_key="rmse").judged()
    assert str(e.value) == ("metric 'rmse': say whether higher or lower is better (--goal maximize|minimize, "
                            "or goal in [study])")
    rmse = Study(metric_key="rmse", goal="minimize").judged()
    assert rmse == custom("rmse", "minimize")
    assert (rmse.metric, rmse.column, rmse.title) == ("rmse", "rmse", "rmse (last)")
    assert rmse.description == "rmse, its last logged value, lower is better"
    assert custom("f1", "maximize", "best").description == ("f1, its best step (picked on f1 itself), "
                                                            "higher is better")
    assert not rmse.percent and rmse.shown(0.012345, sign=True) == "+0.01235" and rmse.shown(12345.678) == "1.235e+04"
    assert rmse.better(-0.1) and not rmse.better(0.1) and not rmse.better(0.0)
    final = JUDGED["final"]
    assert final.shown(0.98765) == "98.77" and final.shown(-0.0012, sign=True) == "-0.12 pp"
    assert final.better(0.001) and not final.better(0.0)


def test_with_options_over_the_declared_analysis():
    declared = Study(metric_key="rmse", goal="minimize", margin=0.5, baseline="batch", alpha=0.1)
    assert declared.with_options(margin=None, alpha=None) == declared  # None: not given
    used = declared.with_options(metric="final", alpha=0.01)
    assert (used.metric, used.metric_key, used.goal, used.alpha, used.margin) == ("final", None, "minimize", 0.01, 0.5)
    back = Study(metric="best_val").with_options(metric_key="loss", goal="minimize")
    assert (back.metric, back.metric_key) == (None, "loss")
    assert used.differences(used) == []
    assert declared.differences(used) == ["metric final (declared default)", "metric_key default (declared rmse)",
                                          "alpha 0.01 (declared 0.1)"]
    with pytest.raises(ConfigError, match="study key 'alpha'"):
        declared.with_options(alpha=0.7)


def test_json_round_trip_and_what_a_sweep_logged():
    s = Study(metric_key="rmse", goal="minimize", at="best", baseline="2", margin=0.25, alpha=0.1, looks=(3, 6))
    assert json.loads(s.as_json())["looks"] == [3, 6]
    assert from_json(s.as_json()) == s
    assert from_json(None) is None and from_json("") is None
    # a key written by a later version is ignored, not an error
    assert from_json(json.dumps({"alpha": 0.1, "looks": None, "power": 0.9})) == Study(alpha=0.1)


def test_every_reference_metric_has_its_own_column_and_title():
    assert [j.key for j in REFERENCE] == ["final", "best_val", "best_test", "train_best"]
    assert len({j.column for j in REFERENCE}) == len({j.title for j in REFERENCE}) == 4


@pytest.mark.parametrize("table,words", [
    ({"margins": 0.1}, "unknown study key 'margins'"),
    ({"metric": "best"}, "study key 'metric': unknown value 'best'"),
    ({"margin": -1}, "study key 'margin'"),
    ({"alpha": 0.7}, "study key 'alpha'"),
    ({"looks": [5, 3]}, "study key 'looks'"),
    ({"looks": 3}, "study key 'looks'"),
])
def test_a_bad_study_table_names_the_key(table, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        parse(table)
