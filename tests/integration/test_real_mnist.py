"""On the real MNIST in ../shared/datasets: one epoch of s8 with batch norm, and a small tuned sweep
through the CLI."""
import json

import pytest

from tests.helpers import REAL_MNIST
from tests.helpers import all_runs, cli, sets
from tracker import names

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not (REAL_MNIST / "MNIST" / "raw").is_dir(), reason="real MNIST not present")
def test_s8_batchnorm_one_epoch_reaches_97_percent():
    result = cli("train", *sets({"dataset": "mnist", "arch": "s8", "norm": "batch", "epochs": 1,
                                 "data_dir": str(REAL_MNIST), "download": False, "experiment": "real"}))
    assert result.exit_code == 0, result.output
    (run,) = all_runs()
    assert run.data.params["params_total"] == "47890"
    assert run.data.metrics["test_acc"] >= 0.97


TUNED = """
dataset = "mnist"
arch = "mnist-fast"
epochs = 2
batch_size = 128
optimizer = "sgd"
momentum = 0.9
schedule = "onecycle"
dropout = 0.0
train_limit = 6000
test_limit = 2000
download = false
data_dir = "{data}"
experiment = "real-tuned"

[grid]
norm = ["batch", "group"]
seed = [1]

[tune]
trials = 2
epochs = 2
pruner = "none"
[tune.space]
lr = {{ low = 0.02, high = 0.2, log = true }}
"""


@pytest.mark.skipif(not (REAL_MNIST / "MNIST" / "raw").is_dir(), reason="real MNIST not present")
def test_a_small_tuned_sweep_on_real_mnist_through_the_cli(tmp_path):
    path = tmp_path / "tuned.toml"
    path.write_text(TUNED.format(data=REAL_MNIST))
    result = cli("sweep", str(path))
    assert result.exit_code == 0, result.output
    runs = all_runs()
    trials = [r for r in runs if r.data.tags[names.KIND] == names.TRIAL_KIND]
    seeds = {r.data.params["norm"]: r for r in runs if r.data.tags[names.KIND] == names.TRAIN}
    assert sorted(r.data.tags[names.TUNE_CONDITION] for r in trials) == ["norm=batch"] * 2 + ["norm=group"] * 2
    acc = {c: [r.data.metrics[names.VAL_ACC_BEST] for r in trials if r.data.tags[names.TUNE_CONDITION] == c]
           for c in ("norm=batch", "norm=group")}
    assert all(0.2 < a <= 1 for a in acc["norm=batch"] + acc["norm=group"]), acc  # real digits: above chance
    assert all(max(a) > 0.9 for a in acc.values()), acc  # and the best of each norm learned them
    (parent,) = [r for r in runs if r.data.tags[names.KIND] == names.SWEEP_KIND]
    best = json.loads(parent.data.tags[names.TUNED])["best"]
    assert {n: float(r.data.params["lr"]) for n, r in seeds.items()} == {
        n: best[f"norm={n}"]["lr"] for n in ("batch", "group")}  # each seed run at its norm's best lr
    assert all(r.data.metrics["test_acc"] > 0.9 for r in seeds.values()), {n: r.data.metrics["test_acc"] for n, r in seeds.items()}
