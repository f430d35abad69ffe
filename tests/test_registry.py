"""Train, register, alias, look up, load and evaluate; and each registry error."""
import json

import mlflow
import pytest

from helpers import all_runs, cli, sets, store_client


@pytest.fixture
def trained_run(tiny):
    result = cli("train", *sets(tiny))
    assert result.exit_code == 0, result.output
    (run,) = all_runs()
    return run


def test_register_alias_load_and_evaluate(trained_run, tiny, tmp_path):
    rid = trained_run.info.run_id
    result = cli("models", "register", rid, "--alias", "champion")
    assert result.exit_code == 0, result.output
    assert "models:/mnist-mnist-small-batch/1" in result.output
    again = cli("models", "register", rid)
    assert "already registered as models:/mnist-mnist-small-batch/1" in again.output

    c = store_client()
    mv = c.get_model_version_by_alias("mnist-mnist-small-batch", "champion")
    assert str(mv.version) == "1" and mv.run_id == rid and mv.tags["source_run"] == rid
    assert json.loads(mv.tags["config"])["norm"] == "batch"
    assert len(c.search_model_versions("name = 'mnist-mnist-small-batch'")) == 1

    mlflow.set_tracking_uri(c.tracking_uri)
    model = mlflow.pytorch.load_model("models:/mnist-mnist-small-batch@champion")
    assert callable(model)

    out = cli("evaluate", "models:/mnist-mnist-small-batch@champion", "--dataset", "mnist",
              "--data-dir", tiny["data_dir"], "--no-download")
    assert out.exit_code == 0, out.output
    evals = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "evaluate"]
    assert len(evals) == 1
    ev = evals[0]
    assert ev.data.tags["tracker.model_uri"] == "models:/mnist-mnist-small-batch@champion"
    final = c.get_run(rid).data.metrics["test_acc"]
    assert abs(ev.data.metrics["test_acc"] - final) < 1e-6
    local = c.download_artifacts(ev.info.run_id, "", str(tmp_path / "ev"))
    cm = json.load(open(f"{local}/confusion_matrix.json"))["matrix"]
    assert sum(map(sum, cm)) == 200  # the tiny test split
    assert sum(cm[i][i] for i in range(10)) == round(final * 200)
    for name in ("confusion_matrix.png", "misclassified.png"):
        assert open(f"{local}/{name}", "rb").read(4) == b"\x89PNG"
    per_class = [ev.data.metrics[f"test_acc_class_{i}"] for i in range(10)]
    assert per_class == pytest.approx([cm[i][i] / sum(cm[i]) for i in range(10)])

    listing = cli("models", "list").output
    assert "mnist-mnist-small-batch" in listing and "champion->v1" in listing
    shown = cli("models", "show", "mnist-mnist-small-batch/1").output
    assert f"source_run: {rid}" in shown and "params_total: 14864" in shown and "tensor" in shown

    assert cli("models", "alias", "mnist-mnist-small-batch", "1", "staging").exit_code == 0
    assert str(c.get_model_version_by_alias("mnist-mnist-small-batch", "staging").version) == "1"
    assert cli("models", "alias", "--delete", "mnist-mnist-small-batch", "staging").exit_code == 0
    bad = cli("models", "show", "mnist-mnist-small-batch@staging")
    assert bad.exit_code == 2 and "no alias 'staging'" in bad.stderr


def test_register_best_by_condition(tiny):
    for norm in ("batch", "group"):
        assert cli("train", *sets({**tiny, "norm": norm, "epochs": 1})).exit_code == 0
    result = cli("models", "register", "--best", "--experiment", "tiny", "--by-condition")
    assert result.exit_code == 0, result.output
    names = {m.name for m in store_client().search_registered_models()}
    assert names == {"mnist-mnist-small-batch", "mnist-mnist-small-group"}


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
    result = cli("models", *args)
    assert result.exit_code == 2 and words in result.stderr, result.output
    assert all_runs() == [] or store_client().search_registered_models() == []


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
