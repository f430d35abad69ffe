"""Evaluate a logged or registered model on a test split, into an evaluation run.

    tracker evaluate models:/mnist-mnist-small-batch@champion --dataset mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import outcomes
from .data import EVAL_BATCH, Batches, load_split
from .tracking import names


@dataclass
class Report:
    run_id: str
    accuracy: float
    loss: float
    per_class: list[float]
    matrix: list[list[int]]
    n: int


@torch.no_grad()
def predict(model, batches: Batches) -> tuple[torch.Tensor, float]:
    preds, loss = [], 0.0
    for x, y in batches:
        logits = model(x)
        loss += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
        preds.append(logits.argmax(1))
    return torch.cat(preds), loss


def evaluate_uri(uri: str, dataset: str, data_dir: str, download: bool = True,
                 allow_pickle: bool = False, experiment: str = "evaluations") -> Report:
    from .tracking import live, logged_model

    model = logged_model.load(uri, allow_pickle)
    test = load_split(dataset, data_dir, train=False, download=download)
    cpu = torch.device("cpu")
    predicted, loss_sum = predict(model, Batches(test, dataset, EVAL_BATCH, cpu))
    n = len(test.labels)
    run = live.start_run(experiment, "eval-" + uri.replace("/", "_").replace(":", ""),
                         {names.KIND: names.EVALUATE, names.MODEL_URI: uri})
    try:
        run.log_params({"model_uri": uri, "dataset": dataset, "n_test": n})
        out = outcomes.log(run, 0, dataset, test.images, test.labels, predicted)
        run.log_metrics(0, {"test_acc": out.accuracy, "test_loss": loss_sum / n})
        run.wait()
    except BaseException as e:
        run.end("FAILED", f"{e.__class__.__name__}: {e}")
        raise
    run.end("FINISHED")
    return Report(run.run_id, out.accuracy, loss_sum / n, out.per_class, out.matrix.tolist(), n)
