"""What compare says of a tuned sweep, on hand-made records: the tuned key is no confound, the
budget and each condition's values are shown, and an unequal budget is a confound of its own."""
import json

from tests.helpers import compared, tracker_run
from tracker.results import tuning

SPACE = {"lr": {"low": 0.001, "high": 0.5, "log": True}}


def tuned(values: dict, trials: int = 8, epochs: int = 2, complete: bool = True, space=SPACE) -> dict:
    return {"tracker.tuned": json.dumps({"keys": ["lr"], "trials": trials, "epochs": epochs, "space": space,
                                         "complete": complete, "values": values})}


def runs(budgets: dict):
    """Three seeds per norm; each norm's lr its own; budgets: norm -> tuned() keywords, or None."""
    out = []
    for i, (norm, lr) in enumerate((("batch", 0.05), ("group", 0.2))):
        for seed, acc in enumerate((0.97, 0.975, 0.972), 1):
            kw = budgets.get(norm, {})
            tags = {} if kw is None else tuned({"lr": lr}, **kw)
            out.append(tracker_run(norm, seed, acc - 0.01 * i, tags=tags, lr=lr))
    return out


def test_a_key_tuned_per_condition_is_no_confound_and_its_values_are_shown():
    c = compared(runs({}), by=("norm",), grid={"norm": ["batch", "group"]})
    assert c.confounds == {} and list(c.rows["confounds"]) == [[], []]
    text = c.render("table")
    assert ("tuned per condition: lr (8 trials each, 2 epochs per trial; each trial judged on its validation "
            "accuracy, never the test set): norm=batch lr=0.05; norm=group lr=0.2") in text
    assert "confound" not in text


def test_the_same_lr_differing_untuned_is_a_confound():
    c = compared(runs({"batch": None, "group": None}), by=("norm",), grid={"norm": ["batch", "group"]})
    assert set(c.confounds) == {"lr"} and "tuned per condition" not in c.render("table")


def test_an_unequal_budget_is_a_confound_named_in_the_verdict():
    for budgets, shown in (({"group": {"trials": 4}}, "4 trials x 2 epochs"),
                           ({"group": {"epochs": 1}}, "8 trials x 1 epochs"),
                           ({"group": {"complete": False}}, "unfinished"),
                           ({"group": {"space": {"lr": {"low": 0.01, "high": 0.5, "log": True}}}}, '"low": 0.01'),
                           ({"group": None}, "norm=group not tuned")):
        c = compared(runs(budgets), by=("norm",), grid={"norm": ["batch", "group"]})
        assert set(c.confounds) == {tuning.BUDGET}, budgets
        text = c.render("table")
        assert "confound: tuning budget differs between conditions (norm=batch 8 trials x 2 epochs" in text
        assert shown in text, (budgets, text)
        group = c.rows.set_index("norm").loc["group"]
        assert group["confounds"] == [tuning.BUDGET] and "also differ in tuning budget" in group["verdict_reason"]
        assert "unequal budgets, see the confound" in text


def test_read_is_none_without_tuning_and_ignores_a_malformed_tag():
    assert tuning.read({"batch": runs({"batch": None, "group": None})[:3]}) is None
    broken = tracker_run("batch", 1, 0.9, tags={"tracker.tuned": "{not json"})
    assert tuning.read({"batch": [broken]}) is None
