"""An experiment file read once into one value: its base config, its [grid] in the file's order,
its [study] and [tune]; what it refuses (one line each); and one point of its grid."""
import pytest

from tracker.errors import ConfigError
from tracker.experiment import Experiment, point, read
from tracker.study import Study
from tracker.tune_spec import Range, Tune

FILE = """
epochs = 3
lr = 0.1

[grid]
seed = [1, 2, 3]
norm = ["group", "batch"]

[study]
margin = 0.1
alpha = 0.1

[tune]
trials = 4
epochs = 2

[tune.space]
lr = { low = 0.001, high = 0.5, log = true }
"""


def write(tmp_path, text, name="norms.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_file_is_read_into_its_parts_in_the_files_order(tmp_path):
    exp = read(write(tmp_path, FILE))
    assert exp.base == {"epochs": 3, "lr": 0.1}
    assert list(exp.grid) == ["seed", "norm"] and exp.grid["norm"] == ["group", "batch"]  # not sorted
    assert exp.study == Study(margin=0.1, alpha=0.1)
    assert exp.tune == Tune(4, 2, {"lr": Range(0.001, 0.5, True)})
    assert (exp.name, exp.points) == ("norms.toml", 6)


def test_no_file_and_no_grid():
    exp = read(None)
    assert exp == Experiment(None) and exp.name == "(no file)" and exp.points == 1
    assert exp.study is None and exp.tune is None
    assert Experiment("x.toml", {"epochs": 1}).points == 1


@pytest.mark.parametrize("text, line", [
    ("epchs = 2\n", "unknown config key 'epchs'; did you mean 'epochs'?"),
    ("zzz = 2\n", "unknown config key 'zzz'; known keys: dataset, arch, norm, groups, epochs, batch_size, "
                   "optimizer, momentum, weight_decay, lr, schedule, step_size, gamma, warmup, nesterov, "
                   "label_smoothing, ema, tta, val_split, dropout, augment, seed, device, precision, deterministic, "
                   "tf32, compile, system_metrics, data_dir, download, train_limit, test_limit, pretrained, max_params, "
                   "stop_on_nan, experiment, run_name"),
    ("grid = [1]\n", "config key 'grid': expected a table of lists"),
    ("[grid]\nnrom = ['batch']\n", "unknown grid key 'nrom'; did you mean 'norm'?"),
    ("[grid]\nnorm = []\n", "grid key 'norm': expected a non-empty list, got []"),
    ("[grid]\nnorm = 'batch'\n", "grid key 'norm': expected a non-empty list, got 'batch'"),
    ("tune = 3\n", "config key 'tune': expected a table ([tune])"),
    ("[study]\nmargins = 1\n", "unknown study key 'margins'; did you mean 'margin'?"),
])
def test_bad_files_are_one_line(tmp_path, text, line):
    with pytest.raises(ConfigError) as e:
        read(write(tmp_path, text))
    assert str(e.value) == line


def test_a_missing_or_malformed_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as e:
        read(str(tmp_path / "nope.toml"))
    assert str(e.value) == f"config file {str(tmp_path / 'nope.toml')!r} not found"
    with pytest.raises(ConfigError, match="malformed TOML"):
        read(write(tmp_path, "epochs = \n"))


def test_an_empty_study_table_is_declared_with_the_defaults(tmp_path):
    assert read(write(tmp_path, "[study]\n")).study == Study()
    assert read(write(tmp_path, "epochs = 1\n")).study is None  # no [study]: none declared


def test_one_point_of_the_grid_says_which(tmp_path):
    exp = read(write(tmp_path, FILE))
    cfg, note = point(exp, {"norm": "batch"})
    assert (cfg.seed, cfg.norm, cfg.epochs, cfg.lr) == (1, "batch", 3, 0.1)
    assert note == (f"norms.toml has a [grid] of 6 runs; this is one of them: seed=1 (the grid's first), "
                    f"norm=batch (--set). `tracker sweep {exp.path}` runs them all")
    cfg, _ = point(exp, {"epochs": 5})  # an override of a base key
    assert (cfg.norm, cfg.epochs) == ("group", 5)
    plain, note = point(read(write(tmp_path, "epochs = 4\n", "one.toml")))
    assert plain.epochs == 4 and note == ""


def test_a_grid_value_is_checked_when_its_point_is_made(tmp_path):
    exp = read(write(tmp_path, "[grid]\nnorm = ['batch', 'instance']\n"))  # read: fine
    with pytest.raises(ConfigError, match="config key 'norm': unknown value 'instance'"):
        point(exp, {"norm": "instance"})
