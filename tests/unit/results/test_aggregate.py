"""The rows of a comparison on hand-made records, every figure computed here again with scipy:
each condition's mean, spread and interval (alpha 0.1, unequal seeds), the order by the goal,
the baseline rule, the decisions an adaptive plan carried, the runs each condition lost, the
metric's resolution, the confounds named in a verdict and the time to a target."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sp

from tests.helpers import record, runs_of, tracker_run
from tracker.errors import UserError
from tracker.results import sequential
from tracker.results.aggregate import aggregate, choose_baseline, lost, resolution
from tracker.results.counted import count
from tracker.results.verdicts import Judgement
from tracker.study import JUDGED, TRAIN, Study, custom
from tracker.tracking.records import Selection

FINAL = JUDGED["final"]
VALUES = {"batch": [0.990, 0.985, 0.988, 0.987], "group": [0.975, 0.970, 0.978], "layer": [0.960]}


def counted(runs, by=(), judged=FINAL):
    return count(Selection(runs, "e", []), by, judged)


def rows_of(runs, study=Study(alpha=0.1), grid=None, judged=FINAL, **kwargs):
    rows, judging = aggregate(counted(runs, judged=judged), study, grid or {}, **kwargs)
    return {r["norm"] if "norm" in r else r["model"]: r for r in rows.to_dict("records")}, rows, judging


def test_each_row_against_scipy_at_alpha_0_1_with_unequal_seeds():
    rows, table, judging = rows_of(runs_of(VALUES))
    assert list(table["norm"]) == ["batch", "group", "layer"]  # the best mean first
    for norm, r in rows.items():
        v = np.array(VALUES[norm])
        assert r["n"] == len(v) and r["test_acc_final_mean"] == pytest.approx(v.mean(), abs=1e-15)
        assert r["train_acc_best_mean"] == pytest.approx(v.mean() + 0.005, abs=1e-15)  # for reference
        assert (r["params"], r["epochs"], r["epoch_time_s"]) == (47890, 2, 10.0)
        if len(v) == 1:
            assert math.isnan(r["test_acc_final_std"]) and math.isnan(r["test_acc_final_ci_low"])
            continue
        half = sp.t.ppf(0.95, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))  # a 90% interval
        assert r["test_acc_final_std"] == pytest.approx(v.std(ddof=1), rel=1e-12)
        assert (r["test_acc_final_ci_low"], r["test_acc_final_ci_high"]) == pytest.approx(
            (v.mean() - half, v.mean() + half), rel=1e-12)
    welch = sp.ttest_ind(VALUES["group"], VALUES["batch"], equal_var=False)
    g = rows["group"]
    assert g["p_vs_baseline"] == pytest.approx(welch.pvalue, rel=1e-9) == g["p_holm"]  # layer is no test: m = 1
    assert g["verdict"] == "worse" and g["decision_ci_level"] == pytest.approx(0.9)
    b, gr = np.array(VALUES["batch"]), np.array(VALUES["group"])
    vb, vg = b.var(ddof=1) / 4, gr.var(ddof=1) / 3
    df = (vb + vg) ** 2 / (vb ** 2 / 3 + vg ** 2 / 2)
    low, high = gr.mean() - b.mean() + np.array([-1, 1]) * sp.t.ppf(0.95, df) * math.sqrt(vb + vg)
    assert g["verdict_reason"] == (f"worse: {(gr.mean() - b.mean()) * 100:+.2f} pp (90% CI {low * 100:+.2f} to "
                                   f"{high * 100:+.2f}), Holm p {welch.pvalue:.3g} < 0.1")
    assert rows["layer"]["verdict"] == "undecided" and math.isnan(rows["layer"]["p_vs_baseline"])
    assert (judging.baseline, judging.rule) == ("norm=batch", "the first condition in sorted order")
    assert judging.resolution == pytest.approx(1e-4)  # one of MNIST's 10,000 test images


def test_the_rows_carry_hsus_intervals_to_the_best_of_the_others():
    rows, _, judging = rows_of(runs_of(VALUES))
    b, g = np.array(VALUES["batch"]), np.array(VALUES["group"])
    se = math.sqrt(b.var(ddof=1) / 4 + g.var(ddof=1) / 3)
    reach = sp.t.ppf(0.9, 2) * se  # one-sided at alpha / (k - 1), min(n) - 1 df; layer (n = 1) left out
    assert rows["batch"]["best_ci_high"] == pytest.approx(b.mean() - g.mean() + reach, rel=1e-9)
    assert rows["batch"]["best_ci_low"] == 0.0 and rows["group"]["best_ci_high"] == 0.0
    assert [r["could_be_best"] for r in rows.values()] == [True, False, False]
    assert judging.best.left_out == ("norm=layer",) and math.isnan(rows["layer"]["best_ci_low"])


def test_minimize_puts_the_lowest_first_and_calls_it_better():
    loss = custom("loss", "minimize")
    runs = [record({"model": m, "seed": str(s)}, {"loss": v}) for m, vs in
            (("a", [0.30, 0.32, 0.31]), ("b", [0.20, 0.21, 0.19]), ("c", [0.40, 0.41, 0.42])) for s, v in enumerate(vs, 1)]
    rows, judging = aggregate(count(Selection(runs, "e", []), ("model",), loss), Study(alpha=0.1), {})
    assert list(rows["model"]) == ["b", "a", "c"]
    assert judging.baseline == "model=a" and judging.resolution is None  # not an accuracy: unknown
    assert list(rows["verdict"]) == ["better", "baseline", "worse"]
    assert list(rows["loss_mean"]) == pytest.approx([0.2, 0.31, 0.41])
    assert "loss_ci_low" in rows and rows["loss_ci_low"][0] == pytest.approx(
        0.2 - sp.t.ppf(0.95, 2) * 0.01 / math.sqrt(3))  # no bounds: not clamped to [0, 1]
    assert judging.best.could_be_best == ("model=b",)


def test_an_accuracy_interval_stays_inside_0_and_1():
    rows, _, _ = rows_of(runs_of({"batch": [0.5, 0.999]}), Study(alpha=0.2))
    assert (rows["batch"]["test_acc_final_ci_low"], rows["batch"]["test_acc_final_ci_high"]) == (0.0, 1.0)


def test_mixed_values_in_a_condition_are_joined():
    runs = [tracker_run("batch", 1, 0.9, params_total=47890, epochs=2),
            tracker_run("batch", 2, 0.91, params_total=50000, epochs=3)]
    rows, _, _ = rows_of(runs)
    assert (rows["batch"]["params"], rows["batch"]["epochs"]) == ("47890/50000", "2/3")


@pytest.mark.parametrize("declared, grid, by, expected", [
    ("group", {}, ["norm"], ("norm=group", "declared")),
    ("norm=layer", {}, ["norm"], ("norm=layer", "declared")),
    (None, {"norm": ["layer", "group", "batch"]}, ["norm"], ("norm=layer", "the grid's first value")),
    (None, {"norm": ["x", "group"]}, ["norm"], ("norm=group", "the grid's first value")),  # x never ran
    # no condition in the grid (runs of another grid): sorted, never the order of the means
    (None, {"norm": ["other"]}, ["norm"], ("norm=batch", "the first condition in sorted order")),
    (None, {"lr": ["0.1"]}, ["norm"], ("norm=batch", "the first condition in sorted order")),
    (None, {}, ["norm"], ("norm=batch", "the first condition in sorted order")),
])
def test_the_baseline_rule(declared, grid, by, expected):
    assert choose_baseline(["norm=layer", "norm=group", "norm=batch"], by, declared, grid) == expected


def test_the_baseline_of_two_keys_follows_each_keys_grid_order():
    labels = ["norm=batch lr=0.1", "norm=group lr=0.01", "norm=group lr=0.1", "norm=batch lr=0.01"]
    grid = {"norm": ["group", "batch"], "lr": ["0.1", "0.01"]}
    assert choose_baseline(labels, ["norm", "lr"], None, grid) == ("norm=group lr=0.1", "the grid's first value")
    with pytest.raises(UserError, match="no condition is 'group'"):
        choose_baseline(labels, ["norm", "lr"], "group", grid)


def test_the_baseline_is_fixed_before_the_data_whatever_the_means():
    rows, _, judging = rows_of(runs_of(VALUES), grid={"norm": ["layer", "group", "batch"]})
    assert judging.baseline == "norm=layer" and rows["layer"]["verdict"] == "baseline"
    assert rows["batch"]["verdict"] == "undecided"  # against one seed: no test
    rows, _, _ = rows_of(runs_of(VALUES), Study(alpha=0.1, baseline="group"))
    assert rows["batch"]["verdict"] == "better" and rows["group"]["baseline"]


def test_runs_lost_are_named_in_the_row_and_a_duplicate_is_not_lost():
    runs = runs_of(VALUES) + [tracker_run("group", 4, 0.5, "FAILED"), tracker_run("group", 5, math.nan),
                              tracker_run("group", 6, 0.1, "KILLED"), tracker_run("batch", 1, 0.99)]
    c = counted(runs)
    assert lost(c) == {"norm=group": {"status FAILED": 1, "non-finite test_acc": 1, "status KILLED": 1}}
    rows, _, _ = rows_of(runs)
    assert rows["group"]["runs_left_out"] == 3 and rows["batch"]["runs_left_out"] == 0
    assert rows["group"]["verdict_reason"].endswith(
        "; judged on the 3 seeds that survived: 1 run left out (status FAILED), 1 run left out "
        "(non-finite test_acc), 1 run left out (status KILLED)")


def test_a_confound_is_named_in_the_verdict():
    runs = runs_of({"batch": VALUES["batch"]}) + runs_of({"group": VALUES["group"]}, epochs=3)
    rows, _, judging = rows_of(runs)
    assert judging.confounds == {"epochs": {"norm=batch": frozenset({"2"}), "norm=group": frozenset({"3"})}}
    assert rows["group"]["confounds"] == ["epochs"] and rows["batch"]["confounds"] == []
    assert rows["group"]["verdict_reason"].endswith("; the conditions also differ in epochs")


@pytest.mark.parametrize("params, expected", [
    ({}, 1e-4), ({"test_limit": 500}, 1 / 500), ({"test_limit": 20000}, 1e-4), ({"dataset": "cifar10"}, 1e-4),
])
def test_resolution_is_one_test_image(params, expected):
    runs = [tracker_run("batch", 1, 0.9, **params), tracker_run("batch", 2, 0.9, **params)]
    assert resolution(counted(runs)) == pytest.approx(expected, rel=1e-12)


def test_resolution_is_of_the_smallest_test_set_and_of_test_accuracies_only():
    runs = [tracker_run("batch", 1, 0.9, test_limit=2000), tracker_run("batch", 2, 0.91, test_limit=500)]
    assert resolution(counted(runs)) == pytest.approx(1 / 500, rel=1e-12)
    assert resolution(counted(runs, judged=custom("test_loss", "minimize"))) is None
    assert resolution(counted(runs, judged=TRAIN)) is None  # the training set's size, not the test's
    foreign = record({"norm": "batch", "seed": "3"}, {"test_acc": 0.9})
    assert resolution(counted(runs + [foreign])) is None  # one run of unknown data: unknown


def decision(verdict, baseline="norm=batch", look=1, seeds=3):
    j = Judgement(verdict, f"{verdict}: decided earlier", -0.01, -0.02, -0.001, 0.01, 0.01, None, None,
                  0.005, None, -0.02, -0.001, 0.98)
    return sequential.Decision(j, look, seeds, seeds, baseline)


def test_a_decision_an_adaptive_plan_made_is_carried_as_it_was_made():
    study = Study(alpha=0.1, looks=(3, 5), margin=0.5)
    made = sequential.dump({"norm=group": decision("worse")})
    # the data now say otherwise: group as good as batch, with 5 seeds
    runs = runs_of({"batch": [0.99, 0.985, 0.988, 0.987, 0.986], "group": [0.99, 0.985, 0.988, 0.987, 0.986]})
    rows, _, _ = rows_of(runs, study, decisions=made)
    g = rows["group"]
    assert (g["verdict"], g["decided_at_look"], g["p_vs_baseline"]) == ("worse", 1, 0.01)
    assert g["verdict_reason"] == "decided at look 1 (3 seeds): worse: decided earlier"
    assert (g["decision_ci_low"], g["decision_ci_high"], g["decision_ci_level"]) == (-0.02, -0.001, 0.98)
    assert str(rows_of(runs, study)[1]["decided_at_look"].dtype) == "Int64"
    other = sequential.dump({"norm=group": decision("worse", baseline="norm=group")})
    rows, _, _ = rows_of(runs, study, decisions=other)  # made against another baseline: not this plan's
    assert rows["group"]["verdict"] == "equivalent" and pd.isna(rows["group"]["decided_at_look"])


def test_spreads_beyond_the_range_an_adaptive_level_holds_are_named():
    rng = np.random.default_rng(3)
    wild = list(0.95 + 0.02 * rng.standard_normal(10))
    calm = [0.95 + 0.0003 * k for k in range(10)]
    runs = runs_of({"batch": calm, "group": wild})
    _, _, judging = rows_of(runs, Study(alpha=0.1, looks=(3, 5, 10)))
    assert judging.unheld == ("norm=group",)
    assert rows_of(runs, Study(alpha=0.1))[2].unheld == ()  # one look: the plain alpha holds


def test_time_to_target_from_each_runs_epochs():
    runs = runs_of({"batch": [0.99, 0.99, 0.99]})
    history = {runs[0].run_id: {"test_acc": [0.9, 0.995], "epoch_time_s": [10.0, 12.0]},
               runs[1].run_id: {"test_acc": [0.996, 0.99], "epoch_time_s": [9.0, 9.0]},
               runs[2].run_id: {"test_acc": [0.9, 0.98], "epoch_time_s": [9.0, 9.0]}}
    rows, _, _ = rows_of(runs, target=0.995, history=history)
    r = rows["batch"]
    assert (r["time_to_target"], r["time_to_target_reached"]) == (0.995, 2)
    assert r["time_to_target_mean_s"] == pytest.approx(15.5) and r["time_to_target_std_s"] == pytest.approx(
        np.std([22.0, 9.0], ddof=1))
