"""Time to a target accuracy and test accuracy at the best validation epoch, from runs logged in a real
store and read by `tracker compare` (the figures by hand: tests/unit/results/test_per_epoch.py)."""
import numpy as np
import pytest


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
