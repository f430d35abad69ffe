"""What a model got right and wrong on a test split, logged into a run: per-class accuracy, the
confusion matrix (JSON and PNG) and a gallery of misclassified images (PNG, and JSON with their
indices, predicted and true labels). A training run logs these from its final evaluation,
`tracker evaluate` from its own; `tracker report` shows them without the data.

    tracker evaluate models:/mnist-mnist-small-batch@champion --dataset mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from ..ml.datasets import DATASETS
from ..tracking import names
from .figures import draw

GALLERY = 20  # misclassified images shown


def confusion(true: torch.Tensor, predicted: torch.Tensor, k: int) -> torch.Tensor:
    """k x k counts, rows true and columns predicted, in one bincount."""
    return torch.bincount(true.cpu() * k + predicted.cpu(), minlength=k * k).view(k, k)


@dataclass
class Outcomes:
    matrix: torch.Tensor  # k x k, true x predicted

    @property
    def n(self) -> int:
        return int(self.matrix.sum())

    @property
    def accuracy(self) -> float:
        return self.matrix.diag().sum().item() / max(1, self.n)

    @property
    def per_class(self) -> list[float]:
        return (self.matrix.diag().float() / self.matrix.sum(1).clamp(min=1)).tolist()


def log(run, step: int, dataset: str, images: torch.Tensor, true: torch.Tensor,
        predicted: torch.Tensor, figures: list | None = None) -> Outcomes:
    """Log the outcomes of `predicted` against `true` (the test split's order) at `step`; the
    two figures are drawn here, or appended to `figures` (results/figures.py) to draw apart."""
    classes = DATASETS[dataset].classes
    true, predicted = true.cpu(), predicted.cpu()
    out = Outcomes(confusion(true, predicted, len(classes)))
    run.log_metrics(step, {f"{names.CLASS_ACC}{i}": a for i, a in enumerate(out.per_class)})
    run.log_text(json.dumps({"classes": classes, "matrix": out.matrix.tolist()}), names.CONFUSION_JSON)
    drawn = [("confusion", run.local_path(names.CONFUSION_PNG), (out.matrix.numpy(), classes))]
    wrong = (predicted != true).nonzero().flatten()
    shown = wrong[:GALLERY]
    run.log_text(json.dumps({"classes": classes, "n": len(true), "misclassified": len(wrong),
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
