"""[tune] read into a frozen Tune: its budget, its space (ranges and choices), and what it refuses,
each in one line."""
import pytest

from tracker.errors import ConfigError
from tracker.tune_spec import Range, Tune, parse

SPACE = {"lr": {"low": 0.001, "high": 0.5, "log": True}}


def test_a_table_is_read_with_its_defaults():
    t = parse({"trials": 8, "epochs": 2, "space": {**SPACE, "batch_size": {"low": 32, "high": 128},
                                                     "optimizer": ["sgd", "adam"]}})
    assert t == Tune(8, 2, {"lr": Range(0.001, 0.5, True), "batch_size": Range(32, 128),
                            "optimizer": ("sgd", "adam")}, sampler_seed=0, pruner="median")
    assert t.keys == ["lr", "batch_size", "optimizer"]
    assert not t.space["lr"].integer and t.space["batch_size"].integer
    assert t.budget() == {"keys": ["lr", "batch_size", "optimizer"], "trials": 8, "epochs": 2,
                          "space": {"lr": {"low": 0.001, "high": 0.5, "log": True},
                                    "batch_size": {"low": 32, "high": 128, "log": False},
                                    "optimizer": ["sgd", "adam"]}}
    assert parse({"trials": 1, "epochs": 1, "space": SPACE, "sampler_seed": 7, "pruner": "none"}).sampler_seed == 7


@pytest.mark.parametrize("table, grid, line", [
    ({"trials": 4, "epochs": 2, "space": SPACE, "trails": 3}, {}, "unknown tune key 'trails'; did you mean 'trials'?"),
    ({"trials": -1, "epochs": 2, "space": SPACE}, {}, "tune key 'trials': expected a positive whole number, got -1"),
    ({"trials": 4, "epochs": 0, "space": SPACE}, {}, "tune key 'epochs': expected a positive whole number, got 0"),
    ({"trials": 2.5, "epochs": 1, "space": SPACE}, {}, "tune key 'trials': expected a positive whole number, got 2.5"),
    ({"epochs": 1, "space": SPACE}, {}, "tune key 'trials': missing; [tune] needs trials (per condition) and epochs "
                                        "(per trial)"),
    ({"trials": 4, "epochs": 2, "space": SPACE, "pruner": "asha"}, {},
     "tune key 'pruner': unknown value 'asha'; expected one of median, hyperband, none"),
    ({"trials": 4, "epochs": 2, "space": {}}, {}, "tune key 'space': expected a non-empty table [tune.space], e.g. "
                                                   "lr = { low = 0.001, high = 0.5, log = true }"),
    ({"trials": 4, "epochs": 2, "space": {"lrr": [0.1]}}, {}, "unknown tune.space key 'lrr'; did you mean 'lr'?"),
    ({"trials": 4, "epochs": 2, "space": SPACE}, {"lr": [0.1, 0.2]},
     "tune.space key 'lr': it is a [grid] key too; a condition either fixes it (the grid) or has it tuned "
     "([tune.space]), not both"),
    ({"trials": 4, "epochs": 2, "space": {"seed": [1, 2]}}, {}, "tune.space key 'seed': not tunable (a trial's seed, "
     "epochs and val_split are set by [tune]; placement and naming keys do not change what a run computes)"),
    ({"trials": 4, "epochs": 2, "space": {"lr": {"low": 0.5, "high": 0.5}}}, {},
     "tune.space key 'lr': low must be below high, got low = 0.5, high = 0.5"),
    ({"trials": 4, "epochs": 2, "space": {"lr": {"low": 0.0, "high": 0.5, "log": True}}}, {},
     "tune.space key 'lr': a log range needs low > 0, got low = 0.0"),
    ({"trials": 4, "epochs": 2, "space": {"lr": {"low": "a", "high": 0.5}}}, {},
     "tune.space key 'lr': a range needs numbers low and high, e.g. { low = 0.001, high = 0.5, log = true }; "
     "got {'low': 'a', 'high': 0.5}"),
    ({"trials": 4, "epochs": 2, "space": {"lr": {"low": 0.1, "hi": 0.5}}}, {},
     "unknown tune.space.lr key 'hi'; did you mean 'high'?"),
    ({"trials": 4, "epochs": 2, "space": {"lr": []}}, {}, "tune.space key 'lr': a choice needs a non-empty list of values"),
    ({"trials": 4, "epochs": 2, "space": {"batch_size": {"low": 16.5, "high": 64}}}, {},
     "tune.space key 'batch_size': an integer key needs whole low and high, got 16.5, 64"),
    ({"trials": 4, "epochs": 2, "space": {"norm": {"low": 1, "high": 2}}}, {},
     "tune.space key 'norm': a str key takes a list of values to choose from, not a range"),
    ("x", {}, "config key 'tune': expected a table ([tune])"),
])
def test_refusals_are_one_line(table, grid, line):
    with pytest.raises(ConfigError) as e:
        parse(table, grid)
    assert str(e.value) == line
