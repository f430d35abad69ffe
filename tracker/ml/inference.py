"""A run's network as it is served: images as the dataset stores them in (uint8, 0-255), the
class probabilities and the predicted class out, with the dataset's normalization and the run's
test-time augmentation inside, so that the logged model answers what the run's final evaluation
answered. tracking/logged_model.py logs it; tracking/model_code.py is the code that serves it.

    tracker train experiments/mnist-fast.toml --data-dir ../shared/datasets
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import nchw, pixel_stats, stored
from .datasets import DATASETS
from .train import TTA_SHIFTS, shift


class Served(nn.Module):
    """uint8 images as stored (N x H x W, or N x H x W x C) -> (probabilities N x K, class N).

    The run's evaluation: Batches' normalization, then the logits (with tta, their mean over
    train.TTA_SHIFTS, the shifted views in one batch: one pass through the net to export, not
    five; equal to train.logits up to the rounding any change of batch size makes, ~1e-7 here,
    which changed no class of the 10,000 MNIST test images); the class is their argmax."""

    def __init__(self, net: nn.Module, dataset: str, tta: bool):
        super().__init__()
        self.net, self.tta = net, tta
        mean, std = pixel_stats(dataset)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def normalized(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images as stored -> what the net takes: float N x C x H x W, normalized."""
        return nchw(images).float().sub(self.mean).div(self.std)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.normalized(images)
        if self.tta:
            views = torch.cat([shift(x, dy, dx) for dy, dx in TTA_SHIFTS])
            # unflatten, not view(k, len(x), -1): len() would fix the exported batch size
            scores = self.net(views).float().unflatten(0, (len(TTA_SHIFTS), -1)).mean(0)
        else:
            scores = self.net(x).float()
        return scores.softmax(1), scores.argmax(1)


@dataclass
class Package:
    """What tracking logs as a run's model: the module, an input example, and its facts (the
    `tracker` metadata of its MLmodel file); and the bare net inside the module with its own
    input example (what MLflow's pytorch flavor of the model loads)."""
    module: Served
    example: np.ndarray  # two images as stored, uint8
    facts: dict
    net_example: np.ndarray  # the same two images as the net takes them: float32 N x C x H x W, normalized

    @property
    def net(self) -> nn.Module:
        return self.module.net


def as_served(images: torch.Tensor) -> np.ndarray:
    """A Split's uint8 N x C x H x W images as a served model takes them: as stored."""
    return np.ascontiguousarray(stored(images).cpu().numpy())


def package(net: nn.Module, dataset: str, tta: bool, images: torch.Tensor) -> Package:
    """The net (evaluated weights, on the CPU) served for `dataset`; the first two of `images`
    (uint8 N x C x H x W) are its input example."""
    meta = DATASETS[dataset]
    stored_as, channels_first = (" x ".join(map(str, ("N", *s))) for s in (meta.stored_shape, meta.shape))
    facts = {"dataset": dataset, "shape": list(meta.stored_shape), "channels_first": list(meta.shape),
             "classes": list(meta.classes), "tta": bool(tta),
             "input": f"uint8 pixels 0-255 (whole numbers), {stored_as} as {dataset} stores them, "
                      f"or {channels_first}",
             "output": "class (the predicted class index) and probabilities (one per class)",
             "network": f"mlflow.pytorch.load_model gives the net: float32 {channels_first} in, "
                        "normalized (pixels / 255 - mean) / std, logits out; without TTA",
             "mean": list(meta.mean), "std": list(meta.std)}
    module = Served(net.cpu().eval(), dataset, tta).eval()
    example = as_served(images[:2])
    with torch.no_grad():
        net_example = module.normalized(torch.from_numpy(example)).numpy()
    return Package(module, example, facts, net_example)
