"""Evaluate a logged or registered model on a test split, into an evaluation run.

    tracker evaluate models:/mnist-mnist-small-batch@champion --dataset mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from . import plots
from .data import EVAL_BATCH, Batches, load_split
from .datasets import DATASETS
from .tracking import names

GALLERY = 20


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
    true = test.labels
    k = len(DATASETS[dataset].classes)
    matrix = torch.bincount(true * k + predicted, minlength=k * k).view(k, k)
    n = len(true)
    per_class = (matrix.diag().float() / matrix.sum(1).clamp(min=1)).tolist()
    accuracy, loss = matrix.diag().sum().item() / n, loss_sum / n
    run = live.start_run(experiment, "eval-" + uri.replace("/", "_").replace(":", ""),
                         {names.KIND: names.EVALUATE, names.MODEL_URI: uri})
    try:
        run.log_params({"model_uri": uri, "dataset": dataset, "n_test": n})
        run.log_metrics(0, {"test_acc": accuracy, "test_loss": loss,
                            **{f"test_acc_class_{i}": a for i, a in enumerate(per_class)}})
        run.log_text(json.dumps({"classes": DATASETS[dataset].classes, "matrix": matrix.tolist()}),
                     "confusion_matrix.json")
        run.log_figure(plots.confusion(matrix.numpy(), DATASETS[dataset].classes), "confusion_matrix.png")
        wrong = (predicted != true).nonzero().flatten()[:GALLERY]
        run.log_figure(plots.gallery(test.images[wrong], predicted[wrong].tolist(), true[wrong].tolist(),
                                     DATASETS[dataset].classes), "misclassified.png")
        run.wait()
    except BaseException as e:
        run.end("FAILED", f"{e.__class__.__name__}: {e}")
        raise
    run.end("FINISHED")
    return Report(run.run_id, accuracy, loss, per_class, matrix.tolist(), n)
