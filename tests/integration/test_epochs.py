"""Time to a target accuracy and test accuracy at the best validation epoch, by hand."""
import math

import numpy as np

import pytest

from tracker.errors import UserError
from tracker.results.per_epoch import parse_target, at_best_val, time_to_target

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


def _history_run(c, exp, norm, seed, accs, times, vals=None):
    from mlflow.entities import Metric, Param

    rid = c.create_run(exp, run_name=f"{norm}-{seed}").info.run_id
    metrics = [Metric("test_acc", a, 0, i) for i, a in enumerate(accs, 1)]
    metrics += [Metric("epoch_time_s", t, 0, i) for i, t in enumerate(times, 1)]
    metrics += [Metric("val_acc", v, 0, i) for i, v in enumerate(vals or [], 1)]
    metrics += [Metric("test_acc_best", max(accs), 0, len(accs))]
    c.log_batch(rid, metrics=metrics, params=[Param("norm", norm), Param("seed", str(seed))])
    c.set_terminated(rid, "FINISHED")


def test_compare_target_and_best_val_from_the_logged_epochs():
    import json

    from tests.helpers import cli, store_client

    c = store_client()
    exp = c.create_experiment("speed")
    _history_run(c, exp, "batch", 1, [0.98, 0.993, 0.995], [10, 10, 10], [0.97, 0.99, 0.989])
    _history_run(c, exp, "batch", 2, [0.99, 0.994, 0.996], [12, 11, 10], [0.98, 0.991, 0.993])
    _history_run(c, exp, "group", 1, [0.97, 0.99, 0.992], [8, 8, 8], [0.96, 0.98, 0.99])
    result = cli("compare", "--experiment", "speed", "--target", "99.4", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["norm"]: r for r in json.loads(result.stdout)}
    batch, group = rows["batch"], rows["group"]
    assert batch["time_to_target"] == pytest.approx(0.994)
    assert batch["time_to_target_reached"] == 2  # seed 1 at epoch 3 (30 s), seed 2 at epoch 2 (23 s)
    assert batch["time_to_target_mean_s"] == pytest.approx(26.5)
    assert batch["time_to_target_std_s"] == pytest.approx(np.std([30, 23], ddof=1))
    assert group["time_to_target_reached"] == 0 and group["time_to_target_mean_s"] is None
    assert batch["test_acc_at_best_val_mean"] == pytest.approx((0.993 + 0.996) / 2)
    assert group["test_acc_at_best_val_mean"] == pytest.approx(0.992)
    table = cli("compare", "--experiment", "speed", "--target", "0.994").stdout
    assert "s to 99.40% (reached)" in table and "26.5 ± 4.9 (2/2)" in table and "— (0/1)" in table
    bad = cli("compare", "--experiment", "speed", "--target", "140")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --target 140.0: expected a test accuracy")
