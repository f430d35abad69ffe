"""Which run `tracker models register --best` chooses, on hand-made runs: the condition by its
mean and the verdicts, never one run's maximum; in it, the run by validation, else the one
closest to the median; runs whose config differs left out."""
import pytest

from tracker.results.counted import best_runs
from tracker.runs.promote import pick_condition, pick_run, same_config
from tracker.study import JUDGED
from tracker.tracking.records import RunRecord


def run(rid: str, test_acc: float, val_acc: float | None = None, **params) -> RunRecord:
    metrics = {"test_acc": test_acc, **({"val_acc": val_acc} if val_acc is not None else {})}
    return RunRecord(rid, rid, "FINISHED", params={"norm": "batch", "epochs": "3", "seed": rid, **params},
                     metrics=metrics)


def test_without_a_validation_split_the_run_closest_to_the_median():
    runs = [run("1", 0.914), run("2", 0.402), run("3", 0.780)]
    chosen, why = pick_run(runs, JUDGED["final"])
    assert chosen.run_id == "3" and chosen is not max(runs, key=lambda r: r.metrics["test_acc"])
    assert why == "the closest of the condition's 3 runs to their median test final % (78.00; this run 78.00)"


def test_an_even_count_ties_go_to_the_higher_value():
    chosen, why = pick_run([run("1", 0.90), run("2", 0.80), run("3", 0.70), run("4", 0.60)], JUDGED["final"])
    assert chosen.run_id == "2" and "median test final % (75.00; this run 80.00)" in why


def test_with_a_validation_split_the_best_validation_accuracy_of_the_logged_model():
    runs = [run("1", 0.95, 0.90), run("2", 0.91, 0.97), run("3", 0.93, 0.93)]
    chosen, why = pick_run(runs, JUDGED["best_val"])
    assert chosen.run_id == "2"  # not the best test accuracy: the test set does not choose
    assert why == ("the best validation accuracy of its logged model of the condition's 3 runs "
                   "(97.00%, the last epoch's)")
    mixed = [run("1", 0.95, 0.90), run("2", 0.91), run("3", 0.93, 0.93)]  # one held none out
    assert pick_run(mixed, JUDGED["final"])[0].run_id == "3"


def test_runs_whose_config_differs_are_left_out():
    runs = [run("1", 0.9), run("2", 0.8), run("9", 0.99, epochs="4", lr="0.1"), run("3", 0.7)]
    kept, differ = same_config(runs)
    assert [r.run_id for r in kept] == ["1", "2", "3"] and differ == ["epochs", "lr"]
    assert same_config(runs[:2]) == (runs[:2], [])


ROWS = [  # compare's rows, best mean first
    {"n": 3, "test_acc_final_mean": 0.88, "verdict": "baseline"},
    {"n": 3, "test_acc_final_mean": 0.85, "verdict": "undecided"},
    {"n": 3, "test_acc_final_mean": 0.699, "verdict": "worse"},
]
LABELS = ["norm=layer", "norm=group", "norm=batch"]


def test_the_condition_with_the_best_mean_when_it_is_the_baseline():
    chosen, why = pick_condition(ROWS, LABELS, "norm=layer", JUDGED["final"])
    assert chosen == "norm=layer"
    assert why == ("norm=layer has the best mean test final % (88.00, n = 3); "
                   "norm=group undecided, norm=batch worse")


def test_a_declared_baseline_stands_unless_a_condition_is_judged_better():
    rows = [{**ROWS[0], "verdict": "undecided"}, {**ROWS[1], "verdict": "baseline"}, ROWS[2]]
    chosen, why = pick_condition(rows, LABELS, "norm=group", JUDGED["final"])
    assert chosen == "norm=group"  # a higher mean that the study cannot tell apart does not win
    assert why.startswith("norm=group is the study's baseline (85.00, n = 3) and no condition is judged better")
    rows = [{**ROWS[0], "verdict": "better"}, {**ROWS[1], "verdict": "better"}, {**ROWS[2], "verdict": "baseline"}]
    chosen, why = pick_condition(rows, LABELS, "norm=batch", JUDGED["final"])
    assert chosen == "norm=layer"
    assert why == ("norm=layer is judged better than the baseline norm=batch (mean test final % 88.00, "
                   "n = 3; baseline 69.90, n = 3), the best mean of the 2 judged better")


def test_the_rule_it_replaces_picks_a_lucky_seed():
    """The rule deliberately wrong, as `register --best` had it: one run's maximum. On the
    issue's numbers it picks batch's 91.4% seed of a condition whose mean is 69.9%."""
    batch = [run("b1", 0.914), run("b2", 0.402), run("b3", 0.781)]
    layer = [run(f"l{i}", v, norm="layer") for i, v in enumerate((0.88, 0.89, 0.87), 1)]
    assert best_runs(batch + layer, JUDGED["final"], [])[0].run_id == "b1"
    means = {"norm=batch": sum(r.metrics["test_acc"] for r in batch) / 3, "norm=layer": 0.88}
    assert means["norm=batch"] == pytest.approx(0.699)
    rows = [{"n": 3, "test_acc_final_mean": means["norm=layer"], "verdict": "baseline"},
            {"n": 3, "test_acc_final_mean": means["norm=batch"], "verdict": "undecided"}]
    chosen, _ = pick_condition(rows, ["norm=layer", "norm=batch"], "norm=layer", JUDGED["final"])
    assert chosen == "norm=layer" and pick_run(layer, JUDGED["final"])[0].run_id == "l1"
