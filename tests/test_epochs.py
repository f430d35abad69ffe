"""Time to a target accuracy and test accuracy at the best validation epoch, by hand."""
import math

import pytest

from tracker.config import UserError
from tracker.epochs import parse_target, at_best_val, time_to_target

H = {"test_acc": [0.95, 0.985, 0.991, 0.989, 0.994], "epoch_time_s": [10.0, 9.0, 9.5, 9.0, 8.5],
     "val_acc": [0.94, 0.98, 0.99, 0.992, 0.992]}


def test_time_to_target_sums_the_epochs_up_to_the_first_one_that_reaches_it():
    assert time_to_target(H, 0.99) == pytest.approx(10.0 + 9.0 + 9.5)
    assert time_to_target(H, 0.95) == pytest.approx(10.0)
    assert time_to_target(H, 0.994) == pytest.approx(46.0)
    assert time_to_target(H, 0.995) is None
    assert time_to_target({}, 0.5) is None


def test_the_test_accuracy_at_the_first_best_validation_epoch():
    assert at_best_val(H) == 0.989  # val 0.992 first at epoch 4
    assert math.isnan(at_best_val({"test_acc": [0.9]}))


@pytest.mark.parametrize("given,fraction", [(0.994, 0.994), (99.4, 0.994), (100, 1.0)])
def test_targets_as_fraction_or_percent(given, fraction):
    assert parse_target(given) == pytest.approx(fraction)


@pytest.mark.parametrize("bad", [0, -1, 101, math.inf, math.nan])
def test_a_target_that_is_no_accuracy_is_refused(bad):
    with pytest.raises(UserError, match="--target"):
        parse_target(bad)
