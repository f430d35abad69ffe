"""Evaluate a logged or registered model on a test split, into an evaluation run.

    tracker evaluate models:/mnist-mnist-small-batch@champion --dataset mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..ml.data import EVAL_BATCH, Batches, load_split
from ..results import outcomes
from ..tracking import names
from .job import lifetime


@dataclass
class Evaluation:
    run_id: str
    accuracy: float
    loss: float
    per_class: list[float]
    matrix: list[list[int]]
    n: int


@torch.no_grad()
def predictions(model, batches: Batches) -> tuple[torch.Tensor, float]:
    """The predicted class of every image, in order, and the summed cross-entropy."""
    preds, loss = [], 0.0
    for x, y in batches:
        scores = model(x)
        loss += torch.nn.functional.cross_entropy(scores, y, reduction="sum").item()
        preds.append(scores.argmax(1))
    return torch.cat(preds), loss


def evaluate_uri(uri: str, dataset: str, data_dir: str, download: bool = True,
                 allow_pickle: bool = False, experiment: str = "evaluations") -> Evaluation:
    from ..tracking import live, logged_model

    model = logged_model.load(uri, allow_pickle)
    test = load_split(dataset, data_dir, train=False, download=download)
    predicted, loss_sum = predictions(model, Batches(test, dataset, EVAL_BATCH, torch.device("cpu")))
    n = len(test.labels)
    run = live.start_run(experiment, "eval-" + uri.replace("/", "_").replace(":", ""),
                         {names.KIND: names.EVALUATE, names.MODEL_URI: uri})
    with lifetime(run):
        run.log_params({"model_uri": uri, "dataset": dataset, "n_test": n})
        out = outcomes.log(run, 0, dataset, test.images, test.labels, predicted)
        run.log_metrics(0, {names.TEST_ACC: out.accuracy, names.TEST_LOSS: loss_sum / n})
        run.wait()
    return Evaluation(run.run_id, out.accuracy, loss_sum / n, out.per_class, out.matrix.tolist(), n)
