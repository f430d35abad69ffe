"""tracker train end to end into a real MLflow store in tmp_path, read back with MlflowClient."""
import json

import mlflow
import numpy as np
import pytest
import torch

from tests.helpers import all_runs, cli, may_differ, sets, store_client
from tracker import names

CONFIG_TOML = 'dataset = "mnist"\narch = "mnist-small"\nnorm = "group"\nseed = 7\n'


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    """One 3-epoch run, shared by the tests that read it back."""
    home = tmp_path_factory.mktemp("trained")
    cfg = home / "exp.toml"
    cfg.write_text(CONFIG_TOML)
    tiny = {"epochs": 3, "batch_size": 32, "dropout": 0.0, "data_dir": str(mnist_dir),
            "experiment": "tiny", "download": False}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        mp.setenv("TRACKER_STORE", str(home / "mlruns"))
        mp.setenv("TRACKER_PROGRESS", "0")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = cli("train", str(cfg), *sets(tiny))
        assert result.exit_code == 0, result.output
    (run,) = all_runs(home / "mlruns")
    return run, tiny, store_client(home / "mlruns")


def test_run_logs_config_counts_and_versions(trained):
    run, tiny, c = trained
    p = run.data.params
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "mnist-small-group-seed7"
    assert (p["norm"], p["seed"], p["epochs"], p["batch_size"]) == ("group", "7", "3", "32")
    assert (p["params_total"], p["params_trainable"], p["receptive_field"]) == ("14864", "14864", "32")
    assert p["torch_version"] == torch.__version__ and p["mlflow_version"] == mlflow.__version__
    assert len(p["git_commit"]) in (40, 7) or p["git_commit"] == "unknown"
    # device = "auto": whatever this host has (CUDA, then MPS, then the CPU), asked of torch here
    here = "cuda:0" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert (p["device_used"], p["precision_used"], p["compile"]) == (here, "fp32", "False")
    assert p["deterministic"] == "True"
    # full fp32 and deterministic kernels, on this host's device whatever it is (docs/deployment.md)
    assert (p["tf32"], p[names.TF32_USED], p[names.DETERMINISTIC_USED]) == ("False", "False", "True")
    assert names.NONDETERMINISTIC not in run.data.tags  # no op ran without a deterministic kernel
    assert p["channels_last"] == str(here == "cpu")  # GroupNorm in fp32: channels_last on the CPU only
    exp = c.get_experiment(run.info.experiment_id)
    assert exp.name == "tiny" and exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_every_metric_at_every_step(trained):
    run, _, c = trained
    every_epoch = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time_s", "train_images_per_s",
                   "test_acc_best", "train_acc_best", "epoch_time_mean_s")  # written here, not read from the code
    for key in every_epoch:
        history = c.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in history) == [1, 2, 3], key
    acc = [m.value for m in sorted(c.get_metric_history(run.info.run_id, "test_acc"), key=lambda m: m.step)]
    best = [m.value for m in sorted(c.get_metric_history(run.info.run_id, "test_acc_best"), key=lambda m: m.step)]
    assert all(0 <= a <= 1 for a in acc)
    assert best == list(np.maximum.accumulate(acc))
    assert acc[-1] > 0.5  # the tiny dataset is learnable: chance is 0.1


def test_artifacts_and_checkpoints(trained, tmp_path):
    run, _, c = trained
    rid = run.info.run_id
    top = {a.path for a in c.list_artifacts(rid)}
    assert {"summary.txt", "curves.png", "config", "checkpoints"} <= top
    assert {a.path for a in c.list_artifacts(rid, "checkpoints")} == {"checkpoints/last.pt", "checkpoints/best.pt"}
    assert {a.path for a in c.list_artifacts(rid, "config")} == {"config/exp.toml", "config/resolved.json"}
    local = c.download_artifacts(rid, "", str(tmp_path / "dl"))
    assert "Total params: 14,864" in open(f"{local}/summary.txt").read()
    assert json.load(open(f"{local}/config/resolved.json"))["norm"] == "group"
    assert open(f"{local}/curves.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    state = torch.load(f"{local}/checkpoints/last.pt", weights_only=True)
    assert state["epoch"] == 3 and state["config"]["seed"] == 7
    assert len(state["history"]["test_acc"]) == 3


def test_logged_model_serves_raw_images_as_the_run_evaluated(trained, tmp_path):
    """The run's model loads with MLflow alone (pyfunc, no tracker), takes the test images as the
    IDX file stores them (uint8 N x 28 x 28, any batch size; the same as floats) and gives the run's
    own answers; normalized floats are refused."""
    run, tiny, c = trained
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    from tracker.ml.data import load_split

    (out,) = c.get_run(run.info.run_id).outputs.model_outputs
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=c.get_logged_model(out.model_id).artifact_location, tracking_uri=c.tracking_uri)
    code = open(f"{local}/model_code.py").read()
    assert "import tracker" not in code and "from tracker" not in code
    example = np.asarray(Model.load(local).load_input_example(local))
    assert example.shape == (2, 28, 28) and 0 <= example.min() <= example.max() <= 255
    test = load_split("mnist", tiny["data_dir"], train=False, download=False)
    raw = test.images[:, 0].numpy()
    model = mlflow.pyfunc.load_model(local)
    answers = model.predict(raw)
    assert list(answers.columns) == ["class", "probabilities"] and len(answers) == len(raw) == 200
    probabilities = np.stack(answers["probabilities"])
    assert probabilities.shape == (200, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    predicted = answers["class"].to_numpy()
    assert (predicted == probabilities.argmax(1)).all()
    ties = may_differ(run.data.params, probabilities)  # none when the run trained on the CPU
    accuracy = (predicted == test.labels.numpy()).mean()
    assert abs(accuracy - c.get_run(run.info.run_id).data.metrics["test_acc"]) <= len(ties) / len(raw)
    wrong = json.load(open(c.download_artifacts(run.info.run_id, "misclassified.json", str(tmp_path))))
    missed = (predicted != test.labels.numpy()).nonzero()[0][:len(wrong["indices"])]
    if not ties:  # the run's very answers
        assert missed.tolist() == wrong["indices"] and predicted[missed].tolist() == wrong["predicted"]
    else:  # a GPU run: only a near-tie may be answered otherwise, within the images the run listed
        shown = dict(zip(wrong["indices"], wrong["predicted"]))
        served = {int(i): int(predicted[i]) for i in (predicted != test.labels.numpy()).nonzero()[0]
                  if i <= max(shown, default=len(raw))}
        assert {i for i in shown.keys() | served.keys() if shown.get(i) != served.get(i)} <= ties
    assert (model.predict(raw[:3])["class"].to_numpy() == predicted[:3]).all()  # another batch size
    assert (model.predict(raw.astype(np.float32))["class"].to_numpy() == predicted).all()  # the same pixels
    with pytest.raises(MlflowException, match=r"takes uint8 pixels 0-255 \(whole numbers\).*\(normalized\?\)"):
        model.predict((raw / 255 - 0.1307) / 0.3081)  # normalized floats are not what it takes


def test_nan_loss_ends_the_run_failed(tiny):
    result = cli("train", *sets({**tiny, "lr": 1e6, "epochs": 1}))
    assert result.exit_code == 1
    assert "loss is nan" in result.stderr and "Traceback" not in result.output
    (run,) = all_runs()
    assert run.info.status == "FAILED"
    assert "loss is" in run.data.tags["tracker.error"]


def test_an_op_without_a_deterministic_kernel_is_tagged_on_the_run(tiny, monkeypatch):
    """deterministic = true, and an op that has no deterministic kernel runs (on a GPU; here the
    CPU's put_, which torch flags the same way): the run finishes and says it may not repeat."""
    from tracker.runs import epochs

    real, before = epochs.train_one, torch.are_deterministic_algorithms_enabled()

    def train_one(p, loop, epoch):
        if epoch == 2:  # deterministic algorithms on, as use() sets them on a GPU
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.zeros(4).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]))
        return real(p, loop, epoch)

    monkeypatch.setattr(epochs, "train_one", train_one)
    try:
        result = cli("train", *sets(tiny))
    finally:
        torch.use_deterministic_algorithms(before)
    assert result.exit_code == 0, result.output
    (run,) = all_runs()
    assert run.info.status == "FINISHED" and run.data.tags[names.NONDETERMINISTIC] == "put_"
    assert "warning: ran without a deterministic kernel: put_ (tracker.nondeterministic on the run)" in result.stderr
