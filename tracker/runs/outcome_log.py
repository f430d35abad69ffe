"""A model's outcomes on a test split (ml/outcomes.py) logged into a run: per-class accuracy,
the confusion matrix (JSON and PNG) and a gallery of misclassified images (PNG, and JSON with
their indices, predicted and true labels). A training run logs these from its final
evaluation, `tracker evaluate` from its own; `tracker report` shows them without the data.

    tracker evaluate models:/mnist-small-batch@champion --dataset mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

import json

import torch

from ..ml.datasets import DATASETS
from ..ml.outcomes import Outcomes, outcomes
from .. import names
from .drawing import draw


def log(run, step: int, dataset: str, images: torch.Tensor, true: torch.Tensor,
        predicted: torch.Tensor, figures: list | None = None) -> Outcomes:
    """Log the outcomes of `predicted` against `true` (the test split's order) at `step`; the
    two figures are drawn here, or appended to `figures` (runs/drawing.py) to draw apart."""
    classes = DATASETS[dataset].classes
    true, predicted = true.cpu(), predicted.cpu()
    out = outcomes(true, predicted, len(classes))
    run.log_metrics(step, {f"{names.CLASS_ACC}{i}": a for i, a in enumerate(out.per_class)})
    run.log_text(json.dumps({"classes": classes, "matrix": out.matrix.tolist()}), names.CONFUSION_JSON)
    drawn = [("confusion", run.local_path(names.CONFUSION_PNG), (out.matrix.numpy(), classes))]
    shown = out.shown
    run.log_text(json.dumps({"classes": classes, "n": len(true), "misclassified": len(out.wrong),
                             "indices": shown.tolist(), "predicted": predicted[shown].tolist(),
                             "true": true[shown].tolist()}), names.MISCLASSIFIED_JSON)
    drawn.append(("gallery", run.local_path(names.MISCLASSIFIED_PNG),
                  (images[shown].numpy(), predicted[shown].tolist(), true[shown].tolist(), classes)))
    if figures is None:
        for path in draw(drawn):
            run.log_artifact(path)
    else:
        figures += drawn
    return out
