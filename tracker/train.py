"""Plain training and evaluation loops: they take what they need and return metrics.

    tracker train experiments/mnist-demo.toml --data-dir ../shared/datasets
"""
from __future__ import annotations

import math
import os

import torch
from torch import nn
from tqdm import tqdm

from .config import ConfigError, RunConfig
from .data import Batches
from .settings import progress, thread_cap


def available_devices() -> list[str]:
    """The devices this machine has, best first."""
    found = ["cuda"] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def pick_device(requested: str = "auto") -> torch.device:
    """cuda > mps > cpu, unless a device is named; a named device this machine lacks is refused."""
    have = available_devices()
    if requested == "auto":
        return torch.device(have[0])
    if requested not in have:
        raise ConfigError(f"config key 'device': {requested} is not available on this machine; it has "
                          f"{', '.join(have)} (use device = \"auto\" to pick the best of them)")
    return torch.device(requested)


def cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(threads: int | None = None) -> int:
    """Follow the cores this process may use, or fewer: `threads` (a sweep worker's share),
    else TRACKER_THREADS or OMP_NUM_THREADS (set by Ray to a task's CPUs, or by the user)."""
    cap = threads or thread_cap()
    n = min(cores(), cap) if cap else cores()
    torch.set_num_threads(n)
    return n


def bf16_supported(device: torch.device) -> bool:
    """bf16 autocast runs natively: CUDA with bf16 units, or a CPU with AVX512-BF16/AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return False


def effective_precision(device: torch.device, precision: str) -> str:
    """The precision a run trains in: bf16 falls back to fp32 where it would only be emulated."""
    return precision if precision != "bf16" or bf16_supported(device) else "fp32"


# channels_last against contiguous on CPU, per norm, input size (MNIST-sized 1x28x28, CIFAR-sized
# 3x32x32) and precision, from `benchmarks/pipeline.py --only layout`: in fp32 it won for every
# entry, by 1.07x (GN) to 1.40x (BN); in bf16 it won for BN and LN (1.25x to 1.30x), while
# GroupNorm with 4 groups ran 1.4x to 1.7x faster contiguous. An entry that measures slower
# elsewhere flips. BatchNorm's channels_last kernel is slow on channel counts that are not a
# multiple of 16 (2-5x slower on 8, 12 and 24 on a Xeon; benchmarks/README.md): nets keep to 16s.
_CHANNELS_LAST_CPU = {(norm, size, precision): not (norm == "group" and precision == "bf16")
                      for norm in ("batch", "layer", "group", "none") for size in ("small", "large")
                      for precision in ("fp32", "bf16")}


def channels_last(device: torch.device, norm: str, in_shape: tuple[int, ...], precision: str = "fp32") -> bool:
    """The memory layout that measured faster for this norm, input size and precision here."""
    if device.type == "cuda":
        return True  # tensor cores prefer NHWC
    if device.type != "cpu":
        return False
    return _CHANNELS_LAST_CPU[(norm, "large" if in_shape[0] > 1 else "small", precision)]


def make_optimizer(cfg: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)


def make_scheduler(cfg: RunConfig, optimizer, steps_per_epoch: int):
    """Returns (scheduler or None, steps per batch?)."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
            pct_start=cfg.warmup), True
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.gamma), False
    return None, False


def _autocast(device: torch.device, precision: str):
    enabled = precision == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


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
        with _autocast(device, precision):
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ema is not None:
            ema.update()
        if scheduler is not None and per_batch:
            scheduler.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if i % 20 == 0 or i == len(batches) - 1:  # a sync every 20 batches, not every batch
            avg = loss_sum.item() / seen
            if stop_on_nan and not math.isfinite(avg):
                raise FloatingPointError(f"loss is {avg} at batch {i} ({desc}); "
                                         "lower the learning rate or set stop_on_nan = false")
            bar.set_postfix(loss=f"{avg:.4f}", acc=f"{correct.item() / seen:.2%}")
    if scheduler is not None and not per_batch:
        scheduler.step()
    return {"train_loss": loss_sum.item() / seen, "train_acc": correct.item() / seen}


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


def predict(model, x: torch.Tensor, tta: bool = False) -> torch.Tensor:
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
    loss_sum, correct, seen, kept = 0.0, 0, 0, []
    for x, y in batches:
        with _autocast(batches.device, precision):
            logits = predict(model, x, tta)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        predicted = logits.argmax(1)
        correct += (predicted == y).sum().item()
        seen += len(y)
        if keep:
            kept.append(predicted)
    out = {f"{prefix}_loss": loss_sum / seen, f"{prefix}_acc": correct / seen}
    if keep:
        out["predictions"] = torch.cat(kept).cpu()
    return out
