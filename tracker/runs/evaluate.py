"""Evaluate a logged or registered model on a test split, into an evaluation run: through the
served model itself (the raw images in, as a client sends them), so a run's model evaluates to
the run's own final test accuracy (its EMA weights and TTA are inside it).

    tracker evaluate models:/mnist-small-batch@champion --dataset mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserError
from ..ml.data import EVAL_BATCH, Batches, Split, load_split
from ..ml.datasets import DATASETS
from ..ml.inference import as_served
from .. import names
from . import outcome_log
from .job import lifetime


@dataclass
class Evaluation:
    run_id: str
    accuracy: float
    loss: float
    per_class: list[float]
    matrix: list[list[int]]
    n: int
    served: bool  # through the served model (raw images in); False: a net logged before those


SERVED_BATCH = 1000  # images per call of a served model


def served_predictions(loaded, test: Split) -> tuple[torch.Tensor, float]:
    """The served model's class for every image, in order, and the summed cross-entropy of its
    probabilities (clamped at float32's smallest normal, where a probability underflows)."""
    preds, loss = [], 0.0
    for i in range(0, len(test), SERVED_BATCH):
        classes, probabilities = loaded.predict(as_served(test.images[i:i + SERVED_BATCH]))
        truth = test.labels[i:i + SERVED_BATCH].numpy()
        picked = probabilities[np.arange(len(truth)), truth].astype(np.float64)
        loss -= np.log(np.maximum(picked, np.finfo(np.float32).tiny)).sum()
        preds.append(torch.from_numpy(classes))
    return torch.cat(preds), float(loss)


@torch.no_grad()
def predictions(model, batches: Batches) -> tuple[torch.Tensor, float]:
    """A network logged before models served raw images (normalized images in, logits out):
    the predicted class of every image, in order, and the summed cross-entropy."""
    preds, loss = [], 0.0
    for x, y in batches:
        scores = model(x)
        loss += torch.nn.functional.cross_entropy(scores, y, reduction="sum").item()
        preds.append(scores.argmax(1))
    return torch.cat(preds), loss


def evaluate_uri(uri: str, dataset: str, data_dir: str, download: bool = True,
                 allow_pickle: bool = False, experiment: str = "evaluations") -> Evaluation:
    from ..tracking import live, logged_model

    loaded = logged_model.load(uri, allow_pickle)
    shape = DATASETS[dataset].stored_shape
    if loaded.served is not None and tuple(loaded.shape) != shape:
        raise UserError(f"model {uri} takes images of {' x '.join(map(str, loaded.shape))}, and "
                        f"{dataset} stores {' x '.join(map(str, shape))}: pick the model's --dataset")
    test = load_split(dataset, data_dir, train=False, download=download)
    if loaded.served is not None:
        predicted, loss_sum = served_predictions(loaded, test)
    else:
        batches = Batches(test, dataset, EVAL_BATCH, torch.device("cpu"))
        predicted, loss_sum = predictions(loaded.network, batches)
    n = len(test.labels)
    run = live.start_run(experiment, "eval-" + uri.replace("/", "_").replace(":", ""),
                         {names.KIND: names.EVALUATE, names.MODEL_URI: uri, **names.source(None, "tracker evaluate")})
    with lifetime(run):
        run.log_params({"model_uri": uri, "dataset": dataset, "n_test": n})
        out = outcome_log.log(run, 0, dataset, test.images, test.labels, predicted)
        run.log_metrics(0, {names.TEST_ACC: out.accuracy, names.TEST_LOSS: loss_sum / n})
        run.wait()
    return Evaluation(run.run_id, out.accuracy, loss_sum / n, out.per_class, out.matrix.tolist(), n,
                      loaded.served is not None)
