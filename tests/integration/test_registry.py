"""Train, register, alias, look up, load and evaluate; and each registry error. docs/models.md's
registry commands run on the default store (MLFLOW_TRACKING_URI unset) from another folder."""
import json
import os
from pathlib import Path

import mlflow
import numpy as np
import pytest

from tests.helpers import all_runs, cli, may_differ, sets, store_client


def unset_global_uris(monkeypatch) -> None:
    """MLflow's global tracking and registry URIs unset, as in a new `tracker` process (a test
    elsewhere in this one may have set them, which would hide a call that relies on them)."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)


@pytest.fixture(autouse=True)
def fresh_mlflow(monkeypatch):
    unset_global_uris(monkeypatch)


@pytest.fixture
def trained_run(tiny):
    result = cli("train", *sets(tiny))
    assert result.exit_code == 0, result.output
    (run,) = all_runs()
    return run


@pytest.fixture
def elsewhere(isolated, monkeypatch):
    """Another working folder than the one the runs were trained in (the store is TRACKER_STORE)."""
    folder = isolated / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def stray_databases(root) -> list:
    """mlflow.db files under root but the store's own (MLflow's default store is ./mlflow.db)."""
    return [p for p in root.rglob("mlflow.db") if p.parent.name != "mlruns"]


def test_register_alias_load_and_evaluate(trained_run, tiny, tmp_path, elsewhere):
    rid = trained_run.info.run_id
    result = cli("models", "register", rid, "--alias", "champion")
    assert result.exit_code == 0, result.output
    assert "models:/mnist-small-batch/1" in result.output
    again = cli("models", "register", rid)
    assert "already registered as models:/mnist-small-batch/1" in again.output

    c = store_client()
    mv = c.get_model_version_by_alias("mnist-small-batch", "champion")
    assert str(mv.version) == "1" and mv.run_id == rid and mv.tags["source_run"] == rid
    assert json.loads(mv.tags["config"])["norm"] == "batch"
    assert len(c.search_model_versions("name = 'mnist-small-batch'")) == 1

    where = c.get_model_version_download_uri("mnist-small-batch", "1")
    local = mlflow.artifacts.download_artifacts(artifact_uri=where, tracking_uri=c.tracking_uri)
    served = mlflow.pyfunc.load_model(local)
    answers = served.predict(tiny_images(tiny))
    assert list(answers.columns) == ["class", "probabilities"]
    # the images the run (on a GPU) and the CPU may answer otherwise: none when it trained on the CPU
    ties = may_differ(trained_run.data.params, np.stack(served.predict(split_images(tiny))["probabilities"]))

    out = cli("evaluate", "models:/mnist-small-batch@champion", "--dataset", "mnist",
              "--data-dir", tiny["data_dir"], "--no-download")
    assert out.exit_code == 0, out.output
    evals = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "evaluate"]
    assert len(evals) == 1
    ev = evals[0]
    assert ev.data.tags["tracker.model_uri"] == "models:/mnist-small-batch@champion"
    final = c.get_run(rid).data.metrics["test_acc"]
    assert abs(ev.data.metrics["test_acc"] - final) <= len(ties) / 200 + 1e-9
    local = c.download_artifacts(ev.info.run_id, "", str(tmp_path / "ev"))
    cm = json.load(open(f"{local}/confusion_matrix.json"))["matrix"]
    assert sum(map(sum, cm)) == 200  # the tiny test split
    assert abs(sum(cm[i][i] for i in range(10)) - round(final * 200)) <= len(ties)
    for name in ("confusion_matrix.png", "misclassified.png"):
        assert open(f"{local}/{name}", "rb").read(4) == b"\x89PNG"
    per_class = [ev.data.metrics[f"test_acc_class_{i}"] for i in range(10)]
    assert per_class == pytest.approx([cm[i][i] / sum(cm[i]) for i in range(10)])

    listing = cli("models", "list").output
    assert "mnist-small-batch" in listing and "champion->v1" in listing
    shown = cli("models", "show", "mnist-small-batch/1").output
    assert f"source_run: {rid}" in shown and "params_total: 14864" in shown
    assert "signature: inputs uint8 pixels 0-255 (whole numbers), N x 28 x 28" in shown
    assert '"name": "probabilities"' in shown
    assert cli("models", "show", "mnist-small-batch@champion").output == shown

    assert cli("models", "alias", "mnist-small-batch", "1", "staging").exit_code == 0
    assert str(c.get_model_version_by_alias("mnist-small-batch", "staging").version) == "1"
    assert cli("models", "alias", "--delete", "mnist-small-batch", "staging").exit_code == 0
    bad = cli("models", "show", "mnist-small-batch@staging")
    assert bad.exit_code == 2 and "no alias 'staging'" in bad.stderr
    assert stray_databases(tmp_path) == []


def split_images(tiny):
    """The tiny test split as a served model takes it (uint8 N x 28 x 28)."""
    from tracker.ml.data import load_split

    return load_split("mnist", tiny["data_dir"], train=False, download=False).images[:, 0].numpy()


def tiny_images(tiny):
    return split_images(tiny)[:4]


SWEEP = """
dataset = "mnist"
arch = "mnist-small"
epochs = 1
batch_size = 32
lr = 0.05
dropout = 0.0
download = false
experiment = "tiny"

[grid]
norm = ["batch", "group"]
seed = [1, 2]
"""


def test_best_registers_what_the_sweep_supports_and_leaves_out_runs_outside_it(tiny, tmp_path, monkeypatch):
    """A sweep and a stray run of the same config beside it in one experiment: --best takes the
    experiment's one sweep, judges its conditions as compare does, and registers the run closest
    to the condition's median (no validation split here); the stray never counts."""
    path = tmp_path / "tiny-norms.toml"
    path.write_text(SWEEP.replace("download = false", f'download = false\ndata_dir = "{tiny["data_dir"]}"'))
    assert cli("sweep", str(path)).exit_code == 0
    stray = cli("train", *sets({**tiny, "epochs": 1, "seed": 3}))
    assert stray.exit_code == 0, stray.output
    runs = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "train"]
    (parent,) = {r.data.tags.get("mlflow.parentRunId") for r in runs} - {None}
    (outside,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    rows = {r["norm"]: r for r in json.loads(cli("compare", "--sweep", parent, "--format", "json").stdout)}
    result = cli("models", "register", "--best", "--experiment", "tiny", "--by-condition", "--alias", "champion")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"left out 1 run(s) of experiment 'tiny' outside sweep {parent}"
    c = store_client()
    for norm, row in rows.items():
        mine = sorted((r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent
                       and r.data.params["norm"] == norm), key=lambda r: (r.info.start_time, r.info.run_id))
        values = sorted(r.data.metrics["test_acc"] for r in mine)
        median = sum(values) / 2
        closest = min(mine, key=lambda r: (abs(r.data.metrics["test_acc"] - median), -r.data.metrics["test_acc"]))
        chosen = closest.info.run_id
        (why,) = [line for line in lines if line.startswith(f"chose norm={norm}:")]
        assert why == (f"chose norm={norm}: mean test final % {row['test_acc_final_mean'] * 100:.2f}, n = 2, "
                       f"{row['verdict']}; run {chosen} (seed {closest.data.params['seed']}): the closest of the "
                       f"condition's 2 runs to their median test final % ({median * 100:.2f}; this run "
                       f"{closest.data.metrics['test_acc'] * 100:.2f})")
        mv = c.get_model_version_by_alias(f"mnist-small-{norm}", "champion")
        assert mv.run_id == chosen != outside.info.run_id

    # the baseline (the grid's first value, batch) stands unless a condition is judged better
    better = [r for r in rows.values() if r["verdict"] == "better"]
    best = max(better, key=lambda r: r["test_acc_final_mean"])["norm"] if better else "batch"
    single = cli("models", "register", "--best", "--sweep", parent)
    assert single.exit_code == 0, single.output
    (why,) = [line for line in single.output.splitlines() if line.startswith("chose ")]
    assert why.startswith(f"chose norm={best} is judged better than the baseline norm=batch" if better else
                          "chose norm=batch ")
    assert f"already registered as models:/mnist-small-{best}/1" in single.output
    assert stray_databases(tmp_path) == []

    for args, words in ((["--sweep", outside.info.run_id], "is not a sweep's parent run"),
                        (["--experiment", "nothing"], "experiment 'nothing' not found"),
                        (["--sweep", parent, "--experiment", "other"], "is in experiment 'tiny', not 'other'")):
        refused = cli("models", "register", "--best", *args)
        assert refused.exit_code == 2 and words in refused.stderr, refused.output


def test_best_without_a_sweep_leaves_out_runs_whose_config_differs(tiny, tmp_path, monkeypatch):
    for seed, lr in ((1, 0.05), (2, 0.05), (3, 0.1)):
        assert cli("train", *sets({**tiny, "epochs": 1, "seed": seed, "lr": lr})).exit_code == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = cli("models", "register", "--best", "--experiment", "tiny", "--by-condition",
                 "--alias", "champion")
    assert result.exit_code == 0, result.output
    assert "left out 1 run(s) of norm=batch whose config differs (lr)" in result.output
    assert "chose norm=batch: mean test final %" in result.output
    assert "the closest of the condition's 2 runs" in result.output
    c = store_client()
    mv = c.get_model_version_by_alias("mnist-small-batch", "champion")
    assert c.get_run(mv.run_id).data.params["lr"] == "0.05"
    assert stray_databases(tmp_path) == []


def test_mlflow_pytorch_load_model_gives_the_trained_net(trained_run, tiny, elsewhere, monkeypatch):
    """A registered model has MLflow's pytorch flavor beside the served pyfunc: the bare net with
    the run's final weights (a torch.export GraphModule, no tracker needed): normalized float32
    N x 1 x 28 x 28 in, logits out, answering the served model's classes; gradients reach every
    weight, so it can be fine-tuned."""
    import torch

    from tracker.config import make_config
    from tracker.ml import checkpoint
    from tracker.ml.data import load_split
    from tracker.ml.models import build_model

    rid = trained_run.info.run_id
    assert cli("models", "register", rid, "--alias", "champion").exit_code == 0
    uri = "models:/mnist-small-batch@champion"
    c = store_client()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", c.tracking_uri)  # a user's, in a fresh process
    net = mlflow.pytorch.load_model(uri)
    assert isinstance(net, torch.nn.Module)
    (out,) = c.get_run(rid).outputs.model_outputs
    for other in (f"runs:/{rid}/model", f"models:/{out.model_id}"):  # the run's page, the model's page
        assert mlflow.pytorch.load_model(other).state_dict().keys() == net.state_dict().keys()

    state = checkpoint.load(checkpoint.folder(rid) / checkpoint.LAST)
    trained = build_model(make_config(state["config"]))
    trained.load_state_dict(state["model"])
    weights = dict(net.named_parameters())
    assert weights.keys() == dict(trained.named_parameters()).keys()
    assert all(torch.equal(weights[k], v) for k, v in trained.named_parameters())

    test = load_split("mnist", tiny["data_dir"], train=False, download=False)
    facts = mlflow.models.Model.load(mlflow.artifacts.download_artifacts(f"{uri}/MLmodel")).metadata["tracker"]
    x = (test.images.float() / 255 - facts["mean"][0]) / facts["std"][0]  # what the net takes
    logits = net(x)
    assert logits.shape == (len(x), 10)
    assert torch.allclose(logits, trained.eval()(x), atol=1e-5)
    served = mlflow.pyfunc.load_model(uri).predict(test.images[:, 0].numpy())
    assert logits.argmax(1).tolist() == served["class"].tolist()

    torch.nn.functional.cross_entropy(net(x[:32]), test.labels[:32]).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    assert logged_model_loads(uri)


def logged_model_loads(uri: str) -> bool:
    """tracker's own loader takes a model with both flavors as its served model."""
    from tracker.tracking import logged_model

    return logged_model.load(uri).served is not None


@pytest.mark.parametrize("failing", ["create_model_version", "set_registered_model_alias"])
def test_a_failed_register_leaves_no_registered_model(trained_run, tmp_path, elsewhere, monkeypatch, failing):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    def refuse(*args, **kwargs):
        raise MlflowException("the store refused the version")

    monkeypatch.setattr(MlflowClient, failing, refuse)
    result = cli("models", "register", trained_run.info.run_id, "--alias", "champion")
    assert result.exit_code == 2 and "the store refused the version" in result.stderr
    assert store_client().search_registered_models() == [] and stray_databases(tmp_path) == []


def test_a_model_whose_code_was_changed_loads_only_when_allowed(trained_run, tiny, elsewhere):
    """A served model runs its code file when it loads: tracker runs its own, byte for byte."""
    from pathlib import Path
    from urllib.parse import urlparse

    rid = trained_run.info.run_id
    c = store_client()
    (out,) = c.get_run(rid).outputs.model_outputs
    code = Path(urlparse(c.get_logged_model(out.model_id).artifact_location).path) / "model_code.py"
    code.write_text(code.read_text() + "\nprint('any code at all')\n")
    args = ["evaluate", f"runs:/{rid}/model", "--dataset", "mnist", "--data-dir", tiny["data_dir"],
            "--no-download"]
    refused = cli(*args)
    assert refused.exit_code == 2 and "runs code other than this tracker's served model" in refused.stderr
    assert [r for r in all_runs() if r.data.tags.get("tracker.kind") == "evaluate"] == []
    assert cli(*args, "--allow-pickle").exit_code == 0


def test_a_model_logged_before_models_served_raw_images_still_evaluates(trained_run, tiny, elsewhere,
                                                                        monkeypatch):
    """A model of the earlier format (MLflow's pytorch flavor, pt2: normalized float32 images
    in, logits out) is evaluated as it was: through its own input."""
    import torch

    from tracker.config import make_config
    from tracker.ml import checkpoint
    from tracker.ml.data import Batches, load_split
    from tracker.ml.models import build_model

    rid = trained_run.info.run_id
    state = checkpoint.load(checkpoint.folder(rid) / checkpoint.LAST)
    net = build_model(make_config(state["config"]))
    net.load_state_dict(state["model"])
    x = next(iter(Batches(load_split("mnist", tiny["data_dir"], train=False, download=False), "mnist", 2,
                          torch.device("cpu"))))[0].numpy()
    c = store_client()
    mlflow.set_tracking_uri(c.tracking_uri)  # how tracker logged models then
    mlflow.pytorch.log_model(net.eval(), name="old", input_example=x, run_id=rid,
                             serialization_format="pt2", pip_requirements=["torch"])
    unset_global_uris(monkeypatch)
    out = cli("evaluate", f"runs:/{rid}/old", "--dataset", "mnist", "--data-dir", tiny["data_dir"],
              "--no-download")
    assert out.exit_code == 0, out.output
    assert "note: a model logged before models carried their run's preprocessing" in out.output
    (ev,) = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "evaluate"]
    with torch.no_grad():  # the CPU's answers, for the near-ties a GPU run may answer otherwise
        whole = next(iter(Batches(load_split("mnist", tiny["data_dir"], train=False, download=False),
                                  "mnist", 200, torch.device("cpu"))))[0]
        ties = may_differ(trained_run.data.params, torch.softmax(net(whole), 1).numpy())
    assert abs(ev.data.metrics["test_acc"] - c.get_run(rid).data.metrics["test_acc"]) <= len(ties) / 200


@pytest.mark.parametrize("args,words", [
    (["register", "RID", "--name", "a/b"], "model name 'a/b' is invalid"),
    (["register", "RID", "--name", "a:b"], "model name 'a:b' is invalid"),
    (["register", "RID", "--alias", "latest"], "alias 'latest' is reserved"),
    (["register", "RID", "--alias", "v1"], "alias 'v1' is reserved"),
    (["show", "nosuchmodel"], "model 'nosuchmodel' is not registered"),
    (["register", "0" * 32], "not found"),
])
def test_registry_errors_leave_nothing_behind(args, words):
    args = [a.replace("RID", "f" * 32) for a in args]  # names are checked before the run
    store_client().search_experiments()  # a store with no runs (with none: test_new_user.py)
    result = cli("models", *args)
    assert result.exit_code == 2 and words in result.stderr, result.output
    assert all_runs() == []
    store = Path(os.environ["TRACKER_STORE"]) / "mlflow.db"  # no store at all: nothing registered either
    assert not store.exists() or store_client().search_registered_models() == []


def test_run_without_a_model_cannot_be_registered(tiny):
    cli("train", *sets({**tiny, "lr": 1e6, "epochs": 1}))  # diverges: FAILED, no model
    (run,) = all_runs()
    result = cli("models", "register", run.info.run_id)
    assert result.exit_code == 2 and "has no logged model" in result.stderr
    assert store_client().search_registered_models() == []


def test_evaluate_unknown_model(tiny):
    result = cli("evaluate", "models:/nothing@champion", "--dataset", "mnist", "--data-dir", tiny["data_dir"])
    assert result.exit_code == 2 and "models:/nothing@champion" in result.stderr
    assert all_runs() == []
