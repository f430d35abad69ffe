"""The flags under the table, on hand-made records: a condition whose seeds disagree wildly
(against the other conditions' spread), and a large gap between training and test accuracy."""
import numpy as np

from tests.helpers import compared, record, runs_of, tracker_run
from tracker.results.flags import GAP_PP, WILD, lines, outlying
from tracker.study import Study


def test_a_spread_over_wild_times_the_others_median_names_the_farthest_seed():
    calm = np.array([0.99, 0.991, 0.989])  # sd 0.001
    assert outlying({"a": calm, "b": np.array([0.97, 0.971, 0.90])}) == {"b": 2}
    assert outlying({"a": calm, "b": np.array([0.90, 0.97, 0.971, 0.972])}) == {"b": 0}
    # just under and just over WILD x the other's sd (0.001): 3 seeds at m - d, m, m + d have sd d
    assert outlying({"a": calm, "b": np.array([0.9, 0.9 + 0.0049, 0.9 + 0.0098])}) == {}
    assert outlying({"a": calm, "b": np.array([0.9, 0.9 + 0.0051, 0.9 + 0.0102])}) == {"b": 0}
    assert WILD == 5.0


def test_no_flag_without_three_seeds_or_without_a_spread_to_compare_with():
    wild = np.array([0.5, 0.99, 0.1])
    assert outlying({"a": np.array([0.9, 0.91]), "b": wild[:2]}) == {}  # 2 seeds: not judged
    assert outlying({"a": np.array([0.9, 0.9, 0.9]), "b": wild}) == {}  # the others have no spread
    assert outlying({"b": wild}) == {} and outlying({"a": np.array([0.9]), "b": wild}) == {}
    # the median of the others, not their mean: one wild other does not hide a wild one
    others = {"a": np.array([0.9, 0.901, 0.899]), "c": np.array([0.9, 0.901, 0.899]), "d": wild}
    assert outlying({**others, "b": np.array([0.97, 0.971, 0.90])}) == {"b": 2, "d": 1}


def test_the_lines_of_a_comparison():
    runs = (runs_of({"batch": [0.99, 0.991, 0.989], "group": [0.97, 0.971, 0.90]})
            + [tracker_run("layer", 1, 0.90, train=0.99), tracker_run("layer", 2, 0.91, train=0.99)])
    assert lines(compared(runs)) == [
        "flag: norm=group: its seeds disagree wildly (90.00 to 97.10); seed 3 gave 90.00: check that run "
        "before trusting this row",
        "flag: norm=layer: train best 99.00% against test 90.50%, a gap of 8.5 pp (overfitting, or an unstable "
        "last epoch)"]


def test_the_gap_is_over_gap_pp_only():
    near = [tracker_run("batch", s, 0.90, train=0.949) for s in (1, 2)]
    over = [tracker_run("group", s, 0.90, train=0.951) for s in (1, 2)]
    assert lines(compared(near + over)) == [
        "flag: norm=group: train best 95.10% against test 90.00%, a gap of 5.1 pp (overfitting, or an unstable "
        "last epoch)"]
    assert GAP_PP == 5.0


def test_a_metric_in_its_own_units_has_no_gap_and_names_a_seed_by_its_index_when_none_is_given():
    runs = [record({"model": m}, {"loss": v}) for m, vs in (("a", [0.30, 0.301, 0.299]), ("b", [0.30, 0.31, 0.9]))
            for v in vs]
    comparison = compared(runs, Study(metric_key="loss", goal="minimize"), by=("model",))
    assert lines(comparison) == ["flag: model=b: its seeds disagree wildly (0.3 to 0.9); seed 3 gave 0.9: check "
                                 "that run before trusting this row"]
