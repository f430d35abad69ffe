"""A condition's run: its metrics are the condition's band per epoch under the keys the MLflow
chart view overlays across conditions (the mean's chart first), its name what the legend shows."""
import pytest

from tracker import names
from tracker.results import per_epoch
from tracker.runs import conditions

RUNS = [{"test_acc": [0.50, 0.70], "test_loss": [1.9, 1.2]},
        {"test_acc": [0.56, 0.74], "test_loss": [1.7, 1.0]}]


def test_the_curves_are_the_band_per_epoch_under_one_key_each():
    steps = conditions.curves(RUNS, 0.9)
    assert sorted(steps) == [1, 2]
    for key in ("test_acc", "test_loss"):
        band = per_epoch.bands(RUNS, key, 0.9, (0.0, 1.0) if key == "test_acc" else None)
        for stat in ("mean", "ci_low", "ci_high"):
            assert [steps[e][names.condition_curve(key, stat)] for e in (1, 2)] == pytest.approx(band[stat], abs=0)
    # the chart view sorts a section's charts by key: each mean before its interval
    assert sorted(steps[1]) == ["condition/test_acc", "condition/test_acc_ci_high", "condition/test_acc_ci_low",
                                "condition/test_loss", "condition/test_loss_ci_high", "condition/test_loss_ci_low"]


def test_names_and_description():
    assert conditions.run_name("norm=batch", 3) == "norm=batch: mean of 3 runs"
    assert conditions.run_name("norm=batch", 1) == "norm=batch: mean of 1 run"
    text = conditions.description("norm=batch", 3, "abc", 0.9)
    assert "**norm=batch**" in text and "`abc`" in text and "90% t interval" in text
