"""Config keys: an unknown one suggests the near one; the names a run and a model get."""
import pytest

from tracker.config import make_config, model_name, parse_overrides
from tracker.errors import ConfigError
from tracker.study import parse


@pytest.mark.parametrize("read, line", [
    (lambda: parse_overrides(["epoch=3"]), "unknown config key 'epoch'; did you mean 'epochs'?"),
    (lambda: parse_overrides(["batchsize=64"]), "unknown config key 'batchsize'; did you mean 'batch_size'?"),
    (lambda: make_config({"learning_rate": 0.1}), "unknown config key 'learning_rate'; did you mean 'lr'?"),
    (lambda: make_config({"nrom": "group"}), "unknown config key 'nrom'; did you mean 'norm'?"),
    (lambda: parse({"baselin": "batch"}), "unknown study key 'baselin'; did you mean 'baseline'?"),
])
def test_an_unknown_key_suggests_the_near_one(read, line):
    with pytest.raises(ConfigError) as e:
        read()
    assert str(e.value) == line


def test_a_key_near_none_lists_them():
    with pytest.raises(ConfigError) as e:
        parse_overrides(["xyzzy=1"])
    assert str(e.value).startswith("unknown config key 'xyzzy'; known keys: dataset, arch, norm, ")
    assert "did you mean" not in str(e.value)


@pytest.mark.parametrize("dataset, arch, model", [
    ("mnist", "mnist-fast", "mnist-fast-batch"),  # the arch names the dataset: said once
    ("mnist", "mnist-small", "mnist-small-batch"),
    ("mnist", "s8", "mnist-s8-batch"),
    ("cifar10", "resnet18", "cifar10-resnet18-batch"),
    ("fashion_mnist", "mnist-small", "fashion_mnist-mnist-small-batch"),  # another dataset's arch
    ("fashion_mnist", "fashion-v1", "fashion_mnist-fashion-v1-batch"),
])
def test_a_model_and_a_run_name_say_the_dataset_once(dataset, arch, model):
    assert model_name({"dataset": dataset, "arch": arch, "norm": "batch"}) == model
    cfg = make_config({"dataset": dataset, "arch": arch, "seed": 3})
    assert cfg.name == f"{model}-seed3"
    assert make_config({"run_name": "mine"}).name == "mine"
