"""Parameter counts against the seeds' published summaries; the norm is a config field."""
import pytest
from torch import nn

from tracker.config import RunConfig
from tracker.errors import ConfigError
from tracker.ml.models import IN_SHAPE, build_model, count_params, receptive_field

SEED_COUNTS = [  # arch, dataset, norm, params, the seed that published it
    ("s8", "cifar10", "batch", 48_178),  # seed 003
    ("s8", "cifar10", "group", 48_178),  # seed 003, G = 4
    ("s8", "cifar10", "layer", 48_178),  # seed 003, G = 1
    ("dws", "cifar10", "batch", 120_330),  # seed 001
    ("novice", "cifar10", "batch", 18_064),  # seed 002
    ("fashion-v1", "fashion_mnist", "none", 39_358),  # seed 004
    ("fashion-v1-5-5", "fashion_mnist", "none", 25_993_898),  # seed 004
    ("fashion-v1-5-5-bn", "fashion_mnist", "batch", 25_994_986),  # seed 004
    ("resnet18", "fashion_mnist", "batch", 11_175_370),  # seed 004
]


@pytest.mark.parametrize("arch,dataset,norm,expected", SEED_COUNTS)
def test_seed_parameter_counts(arch, dataset, norm, expected):
    total, trainable = count_params(build_model(RunConfig(arch=arch, dataset=dataset, norm=norm)))
    assert (total, trainable) == (expected, expected)


def test_receptive_field_is_computed():
    dws = build_model(RunConfig(arch="dws", dataset="cifar10"))
    assert receptive_field(dws, IN_SHAPE["cifar10"]) == 45  # seed 001's figure
    plain = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    assert receptive_field(plain, (1, 28, 28)) == 1 + 2 + 2 + 1 + 2 * 2


def test_norm_is_a_field_of_one_block():
    kinds = {}
    for norm in ("batch", "layer", "group", "none"):
        model = build_model(RunConfig(arch="s8", dataset="cifar10", norm=norm))
        kinds[norm] = {type(m).__name__ for m in model.modules()
                       if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.Identity))}
        assert type(model) is nn.Sequential
    assert kinds == {"batch": {"BatchNorm2d"}, "layer": {"GroupNorm"}, "group": {"GroupNorm"},
                     "none": {"Identity"}}
    groups = {m.num_groups for m in build_model(RunConfig(arch="s8", norm="layer")).modules()
              if isinstance(m, nn.GroupNorm)}
    assert groups == {1}


def test_mnist_small_is_under_20k_params():
    for norm in ("batch", "layer", "group"):
        total, _ = count_params(build_model(RunConfig(arch="mnist-small", norm=norm)))
        assert total == 14_864


def test_groups_must_divide_channels():
    with pytest.raises(ConfigError, match="'groups': 3 groups do not divide"):
        build_model(RunConfig(arch="s8", norm="group", groups=3))
