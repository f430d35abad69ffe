"""Will it fit? A run's batch against its data and its device's memory, estimated before any
run exists.

    tracker train experiments/mnist-demo.toml --set batch_size=100000
"""
from __future__ import annotations

import sys

import torch

from ..errors import ConfigError

GiB = 1024 ** 3
# forward activations are kept for backward, get a gradient each, and the optimizer and
# autograd need workspace: about this many times the forward's output bytes
TRAIN_FACTOR = 3.0
WARN_SHARE = 0.5  # warn when the estimate is over this share of the memory available


def available_bytes(device: torch.device) -> int | None:
    """Memory free for this run: the GPU's free memory, or the host's MemAvailable."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None  # unknown here: no check


def activation_bytes(model: torch.nn.Module, in_shape: tuple[int, ...]) -> int:
    """Bytes of every layer's fp32 output for one image, from a forward pass of one image."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(output, torch.Tensor) and not list(module.children()):
            total += output.numel() * 4

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            model(torch.zeros(1, *in_shape))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total


def check(model: torch.nn.Module, in_shape: tuple[int, ...], batch_size: int, train_size: int,
          data_bytes: int, device: torch.device) -> float:
    """Refuse a batch larger than the training set, or one whose training step would not fit
    in the device's free memory; warn when it would take most of it. Returns the estimate (bytes)."""
    if batch_size > train_size:
        raise ConfigError(f"config key 'batch_size': {batch_size:,} is larger than the training set "
                          f"({train_size:,} images); use at most {train_size}")
    per_image = activation_bytes(model, in_shape) * TRAIN_FACTOR + 4 * torch.Size(in_shape).numel()
    need = per_image * batch_size + data_bytes
    free = available_bytes(device)
    if free is None:
        return need
    if need > free:
        fits = max(1, int((free - data_bytes) // per_image)) if free > data_bytes else 0
        raise ConfigError(f"config key 'batch_size': a batch of {batch_size:,} needs about "
                          f"{need / GiB:.1f} GiB to train (estimated), but {device.type} has "
                          f"{free / GiB:.1f} GiB free; use at most about {fits:,}")
    if need > WARN_SHARE * free:
        print(f"warning: batch_size {batch_size:,} needs about {need / GiB:.1f} GiB to train "
              f"(estimated), {need / free:.0%} of the {free / GiB:.1f} GiB free on {device.type}",
              file=sys.stderr)
    return need
