"""What a model got right and wrong on a test split: the confusion matrix, per-class accuracy
and the misclassified images to show. Plain torch; runs/outcome_log.py logs them into a run
(a training run's final evaluation, and `tracker evaluate`'s).

    tracker evaluate models:/mnist-small-batch@champion --dataset mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

GALLERY = 20  # misclassified images shown


def confusion(true: torch.Tensor, predicted: torch.Tensor, k: int) -> torch.Tensor:
    """k x k counts, rows true and columns predicted, in one bincount."""
    return torch.bincount(true.cpu() * k + predicted.cpu(), minlength=k * k).view(k, k)


@dataclass
class Outcomes:
    matrix: torch.Tensor  # k x k, true x predicted
    wrong: torch.Tensor  # indices (in the split's order) of every misclassified image

    @property
    def n(self) -> int:
        return int(self.matrix.sum())

    @property
    def accuracy(self) -> float:
        return self.matrix.diag().sum().item() / max(1, self.n)

    @property
    def per_class(self) -> list[float]:
        return (self.matrix.diag().float() / self.matrix.sum(1).clamp(min=1)).tolist()

    @property
    def shown(self) -> torch.Tensor:
        """The misclassified images a gallery shows: the first GALLERY of them."""
        return self.wrong[:GALLERY]


def outcomes(true: torch.Tensor, predicted: torch.Tensor, k: int) -> Outcomes:
    """The outcomes of `predicted` against `true` (the test split's order), k classes."""
    true, predicted = true.cpu(), predicted.cpu()
    return Outcomes(confusion(true, predicted, k), (predicted != true).nonzero().flatten())
