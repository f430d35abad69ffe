"""Plain training and evaluation loops: they take what they need and return metrics.

    tracker train experiments/mnist-demo.toml --data-dir ../shared/datasets
"""
from __future__ import annotations

import math

import torch
from torch import nn
from tqdm import tqdm

from .. import names
from ..settings import progress
from .data import Batches
from .device import autocast


def make_optimizer(cfg, model: nn.Module) -> torch.optim.Optimizer:
    """The run config's optimizer (cfg: a config.RunConfig; ml/ reads its fields, never imports it)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)


def make_scheduler(cfg, optimizer, steps_per_epoch: int):
    """Returns (scheduler or None, steps per batch?)."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
            pct_start=cfg.warmup), True
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.gamma), False
    return None, False


def train_epoch(model, batches: Batches, optimizer, scheduler, per_batch: bool,
                precision: str = "fp32", stop_on_nan: bool = True, desc: str = "",
                label_smoothing: float = 0.0, ema=None) -> dict:
    """One pass over `batches`; `ema` (tracker.ema.EMA) is updated after each step."""
    model.train()
    device = batches.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    bar = tqdm(batches, desc=desc, leave=True, dynamic_ncols=True, mininterval=0.5,
               disable=not progress())
    for i, (x, y) in enumerate(bar):
        with autocast(device, precision):
            scores = model(x)
            loss = nn.functional.cross_entropy(scores, y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ema is not None:
            ema.update()
        if scheduler is not None and per_batch:
            scheduler.step()
        loss_sum += loss.detach() * len(y)
        correct += (scores.argmax(1) == y).sum()
        seen += len(y)
        if i % 20 == 0 or i == len(batches) - 1:  # a sync every 20 batches, not every batch
            avg = loss_sum.item() / seen
            if stop_on_nan and not math.isfinite(avg):
                raise FloatingPointError(f"loss is {avg} at batch {i} ({desc}); "
                                         "lower the learning rate or set stop_on_nan = false")
            bar.set_postfix(loss=f"{avg:.4f}", acc=f"{correct.item() / seen:.2%}")
    if scheduler is not None and not per_batch:
        scheduler.step()
    return {names.TRAIN_LOSS: loss_sum.item() / seen, names.TRAIN_ACC: correct.item() / seen}


# test-time augmentation: the image and its one-pixel shifts (dy, dx); no flips, digits have a side
TTA_SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate a batch by (dy, dx) pixels, repeating the border (the background on MNIST)."""
    if not dy and not dx:
        return x
    h, w = x.shape[-2:]
    layout = torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
        else torch.contiguous_format
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    return padded[..., 1 - dy:1 - dy + h, 1 - dx:1 - dx + w].contiguous(memory_format=layout)


def logits(model, x: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Logits; with `tta`, the mean of the logits over TTA_SHIFTS."""
    if not tta:
        return model(x).float()
    return torch.stack([model(shift(x, dy, dx)).float() for dy, dx in TTA_SHIFTS]).mean(0)


@torch.no_grad()
def evaluate(model, batches: Batches, precision: str = "fp32", tta: bool = False,
             prefix: str = "test", keep: bool = False) -> dict:
    """Loss and accuracy on a split (named by `prefix`); keep=True also returns the
    predictions, in the split's order (the final epoch's, which the run's confusion matrix and
    gallery are made of)."""
    model.eval()
    device = batches.device
    # summed on the device, one sync at the end; in float64 as before (MPS has none: float32)
    wide = torch.float32 if device.type == "mps" else torch.float64
    loss_sum = torch.zeros((), dtype=wide, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen, kept = 0, []
    for x, y in batches:
        with autocast(device, precision):
            scores = logits(model, x, tta)
        loss_sum += nn.functional.cross_entropy(scores, y, reduction="sum")
        predicted = scores.argmax(1)
        correct += (predicted == y).sum()
        seen += len(y)
        if keep:
            kept.append(predicted)
    out = {f"{prefix}_loss": loss_sum.item() / seen, f"{prefix}_acc": correct.item() / seen}
    if keep:
        out["predictions"] = torch.cat(kept).cpu()
    return out
