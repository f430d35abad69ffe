"""A registered model served by MLflow's own `mlflow models serve` takes raw MNIST digits as
the IDX files store them (uint8, N x 28 x 28; the same as floats 0-255, or with a channel axis)
and answers, digit for digit, what its run's final evaluation answered (EMA weights and
test-time augmentation inside the model); what it cannot take (pixels scaled to 0-1,
normalized, above 255, another shape) gets HTTP 400 naming what it takes, never an answer.
`tracker evaluate` goes through the same model and reproduces the run's test accuracy exactly."""
import json
import re

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from tests.helpers import REAL_MNIST
from tests.helpers import all_runs, cli, sets, store_client
from tracker.testkit.servers import ModelServer

pytestmark = [pytest.mark.server, pytest.mark.slow,  # real digits: the clone must sit beside ../shared
              pytest.mark.skipif(not (REAL_MNIST / "MNIST" / "raw").is_dir(), reason="real MNIST not present")]

NAME = "mnist-fast-batch"
SENT = 300  # digits sent to the server
TAKES = "uint8 pixels 0-255 (whole numbers), N x 28 x 28 as mnist stores them, or N x 1 x 28 x 28"


def idx(path) -> np.ndarray:
    """An IDX file as it is stored: big-endian dims after a 4-byte magic, then uint8 values."""
    raw = path.read_bytes()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def artifact(c, run_id: str, path: str, dest) -> dict:
    return json.load(open(c.download_artifacts(run_id, path, str(dest))))


def test_served_model_answers_raw_digits_as_its_run_did_and_refuses_what_it_cannot_take(tmp_path):
    cfg = {"dataset": "mnist", "arch": "mnist-fast", "epochs": 2, "batch_size": 128,
           "optimizer": "adam", "lr": 0.01, "dropout": 0.0, "train_limit": 6000, "ema": 0.9,
           "tta": True, "data_dir": str(REAL_MNIST), "download": False, "experiment": "served"}
    trained = cli("train", *sets(cfg))
    assert trained.exit_code == 0, trained.output
    (run,) = all_runs()
    rid = run.info.run_id
    assert cli("models", "register", rid, "--alias", "champion").exit_code == 0
    c = store_client()

    mlmodel = Model.load(mlflow.artifacts.download_artifacts(
        artifact_uri=c.get_model_version_download_uri(NAME, "1") + "/MLmodel", tracking_uri=c.tracking_uri))
    # no input schema: MLflow's server would cast a request to its dtype before the model sees
    # it (0.37 -> 0 for uint8); the model checks what it is sent, against what its facts say
    assert mlmodel.signature.inputs is None
    assert mlmodel.signature.outputs.input_names() == ["class", "probabilities"]
    facts = mlmodel.metadata["tracker"]
    assert facts["shape"] == [28, 28] and facts["input"] == TAKES
    assert mlmodel.flavors["python_function"]["config"]["input"] == TAKES

    # the run's own final predictions: every digit right but the misclassified it logged (all of
    # them before the last index it lists)
    wrong = artifact(c, rid, "misclassified.json", tmp_path / "run")
    listed = dict(zip(wrong["indices"], wrong["predicted"]))
    sent = SENT if wrong["misclassified"] <= len(listed) else min(SENT, wrong["indices"][-1] + 1)
    assert sent >= 100 and run.data.metrics["test_acc"] > 0.95
    raw = REAL_MNIST / "MNIST" / "raw"
    digits = idx(raw / "t10k-images-idx3-ubyte")[:sent]
    labels = idx(raw / "t10k-labels-idx1-ubyte")[:sent]
    expected = [listed.get(i, int(labels[i])) for i in range(sent)]
    assert expected != list(labels) or wrong["misclassified"] == 0  # the run's own answers, not the truth

    scaled = digits[:5] / 255.0
    refused = {  # what is sent -> why the model refuses it (after what it takes)
        "floats 0-1": (scaled, "got fractions from 0 to 1 (pixels scaled to 0-1?)"),
        "normalized floats": ((scaled - 0.1307) / 0.3081, "got fractions from -0.4242 to 2.821 (normalized?)"),
        "values above 255": (digits[:5].astype(np.int64) * 4, "got values from 0 to 1020"),
        "binarized 0-1": ((digits[:5] > 127).astype(np.float64), "image 0's brightest pixel is 1"),
        "flattened": (digits[:5].reshape(5, -1), "got shape 5 x 784"),
    }
    server = ModelServer(f"models:/{NAME}@champion", c.tracking_uri, log=tmp_path / "serve.log").start()
    try:
        answers = {}
        for what, images in (("uint8 pixels", digits), ("floats 0-255", digits.astype(np.float64)),
                             ("a channel axis", digits[:, None])):
            status, answers[what] = server.invoke({"inputs": images.tolist()})
            assert status == 200, (what, answers[what])
        rows = answers["uint8 pixels"]["predictions"]
        classes = [r["class"] for r in rows]
        probabilities = np.array([r["probabilities"] for r in rows])
        assert probabilities.shape == (sent, 10)
        assert np.allclose(probabilities.sum(1), 1, atol=1e-5) and (probabilities >= 0).all()
        assert classes == probabilities.argmax(1).tolist()
        assert classes == expected  # digit for digit what the run answered
        assert answers["floats 0-255"] == answers["a channel axis"] == answers["uint8 pixels"]

        for what, (images, why) in refused.items():
            status, answer = server.invoke({"inputs": images.tolist()})
            assert status == 400 and f"this model takes {TAKES}; {why}" in answer["message"], (what, answer)
    finally:
        server.stop()

    # the same rule in Python: pyfunc.predict refuses what the server refuses, in the same words
    local = mlflow.artifacts.download_artifacts(artifact_uri=c.get_model_version_download_uri(NAME, "1"),
                                                tracking_uri=c.tracking_uri)
    with pytest.raises(MlflowException, match=re.escape(refused["floats 0-1"][1])):
        mlflow.pyfunc.load_model(local).predict(scaled)

    evaluated = cli("evaluate", f"models:/{NAME}@champion", "--dataset", "mnist",
                    "--data-dir", str(REAL_MNIST), "--no-download")
    assert evaluated.exit_code == 0, evaluated.output
    (ev,) = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "evaluate"]
    assert ev.data.metrics["test_acc"] == run.data.metrics["test_acc"]  # TTA and EMA included
    again = artifact(c, ev.info.run_id, "misclassified.json", tmp_path / "ev")
    assert (again["indices"], again["predicted"]) == (wrong["indices"], wrong["predicted"])
