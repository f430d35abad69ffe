"""The bad-input catalogue: one line naming the input, exit 2, no run in the store."""
import shutil

import pytest
import torch

from tests.helpers import all_runs, cli, sets, store_client

CASES = [  # (extra `tracker train` args, words the one-line error must hold)
    (["--set", "dataset=svhn"], "'dataset'"),
    (["--set", "arch=vgg"], "'arch'"),
    (["--set", "norm=instance"], "'norm'"),
    (["--set", "optimizer=rmsprop"], "'optimizer'"),
    (["--set", "schedule=cosine"], "'schedule'"),
    (["--set", "norm=group", "--set", "groups=3"], "'groups'"),
    (["--set", "epochs=0"], "'epochs'"),
    (["--set", "lr=-0.1"], "'lr'"),
    (["--set", "batch_size=-8"], "'batch_size'"),
    (["--set", "max_params=1000"], "'max_params'"),
    (["--set", "colour=red"], "'colour'"),
    (["--set", "epochs=two"], "'epochs'"),
    (["--set", "lr=true"], "'lr'"),
    (["--set", "experiment=a/b"], "'experiment'"),
    (["--set", "run_name=x:y"], "'run_name'"),
    (["--set", "data_dir=/nonexistent", "--set", "download=false"], "train-images-idx3-ubyte"),
    (["--set", "pretrained=true"], "'pretrained'"),
    (["--set", "noequals"], "key=value"),
    (["--set", "arch=resnet18", "--set", "pretrained=true"], "resnet18-f37072fd.pth"),
    (["--set", f"data_dir={'d' * 7000}"], "'data_dir'"),
    (["--set", "lr=inf"], "'lr': must be a finite number, got inf"),
    (["--set", "momentum=nan"], "'momentum': must be a finite number"),
    (["--set", "batch_size=100000"], "'batch_size': 100,000 is larger than the training set (600 images)"),
]
if not torch.cuda.is_available():  # a device this machine does not have, and what it has
    CASES.append((["--set", "device=cuda"], "'device': cuda is not available on this machine; it has cpu"))
if torch.cuda.device_count() < 8:  # a GPU index this machine does not have, on any machine
    CASES.append((["--set", "device=cuda:7"], "'device': cuda:7 is not available on this machine; it has "))
CASES.append((["--set", "device=gpu"], "'device': unknown value 'gpu'; expected one of auto, cpu, cuda, mps, or cuda:N"))

OTHER = [  # (a whole command, extra environment, words of the error)
    (["resume", "0" * 32], {}, "not found"),
    (["show", "0" * 32], {}, "not found"),
    (["compare", "--sweep", "0" * 32], {}, "not found"),
    (["models", "register", "0" * 32, "--alias", "latest"], {}, "reserved"),
    (["models", "register", "0" * 32, "--name", "a:b"], {}, "invalid"),
    (["train"], {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, "unreachable"),
]


@pytest.mark.parametrize("args,words", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input(tiny, args, words):
    base = sets({k: v for k, v in tiny.items() if k not in "".join(args)})
    result = cli("train", *base, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert all_runs() == []


@pytest.mark.parametrize("args,env,words", OTHER, ids=[" ".join(a[:2]) for a, _, _ in OTHER])
def test_bad_input_other_commands(tiny, args, env, words):
    if args == ["train"]:
        args = ["train", *sets(tiny)]
    store_client().search_experiments()  # a store with no runs (with none: test_new_user.py)
    result = cli(*args, env=env)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert all_runs() == []


def test_malformed_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("norm = [unclosed\n")
    for path, words in ((bad, "malformed TOML"), (tmp_path / "none.toml", "not found")):
        result = cli("train", str(path))
        assert result.exit_code == 2 and words in result.stderr
    assert all_runs() == []


def test_unknown_key_in_toml(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('norm = "batch"\nlearning_rate = 0.1\n')
    result = cli("summary", str(cfg))
    assert result.exit_code == 2 and result.stderr == "error: unknown config key 'learning_rate'; did you mean 'lr'?\n"
    cfg.write_text('norm = "batch"\nepoch = 3\n')
    assert cli("summary", str(cfg)).stderr == "error: unknown config key 'epoch'; did you mean 'epochs'?\n"
    assert cli("summary", "--set", "epoch=3").stderr == "error: unknown config key 'epoch'; did you mean 'epochs'?\n"


def test_a_damaged_dataset_file_is_named(tiny, tmp_path):
    data = tmp_path / "damaged"
    shutil.copytree(tiny["data_dir"], data)
    images = data / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])  # a download cut short
    result = cli("train", *sets({**tiny, "data_dir": str(data)}))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.count("\n") == 0 and f"file {images} is damaged" in line
    assert "600 x 28 x 28 bytes (470,416 in all), but it has 5,000" in line
    assert all_runs() == []


def test_a_batch_that_does_not_fit_in_memory_is_refused_with_the_estimate(tiny, monkeypatch):
    from tracker.ml import memory

    monkeypatch.setattr(memory, "available_bytes", lambda device: 64 * 1024 ** 2)  # 64 MiB free
    result = cli("train", *sets({**tiny, "batch_size": 512}))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "'batch_size': a batch of 512 needs about" in line and "0.1 GiB free; use at most about" in line
    assert all_runs() == []
    fitting = int(line.rsplit("about ", 1)[1].replace(",", ""))
    assert 0 < fitting < 512
