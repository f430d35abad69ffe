"""Will it fit? A run's batch against its data and its device's memory, and a sweep's workers
against the GPUs they share, estimated before any run exists.

    tracker train experiments/mnist-demo.toml --set batch_size=100000
"""
from __future__ import annotations

import math
import sys

import psutil
import torch

from ..errors import ConfigError, UserError
from .device import PLACEMENT, gpu_count

GiB = 1024 ** 3
# forward activations are kept for backward, get a gradient each, and the optimizer and
# autograd need workspace: about this many times the forward's output bytes
TRAIN_FACTOR = 3.0
WARN_SHARE = 0.5  # warn when the estimate is over this share of the memory available
# what a GPU process loads after the free memory is read (mem_get_info's own call already made
# the CUDA context): cuDNN's and cuBLAS's kernels and workspaces, at the first conv and matmul.
# An estimate, not measured here (no GPU); benchmarks/gpu_check.sh prints the real figure.
CUDA_LIBRARIES = GiB // 2
# each process on a GPU has a CUDA context of its own (300-600 MiB on recent GPUs; out of the
# free figure it reads of itself, not out of the others'): an estimate, gpu_check.sh prints it
CUDA_CONTEXT = GiB // 2
EXCLUSIVE_PROCESS = 3  # NVML's compute mode in which a GPU takes one process at a time


def available_bytes(device: torch.device) -> int:
    """Memory free for this run: its GPU's free memory (less the libraries still to load, and
    within a Ray task's share of the GPU), what Metal recommends on MPS, else the host's."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)  # an index: torch 2.4 refuses a bare "cuda"
        free -= CUDA_LIBRARIES
        if PLACEMENT.share:  # the allocator is capped at this share (device.use)
            free = min(free, int(PLACEMENT.share * total) - torch.cuda.memory_reserved(index))
        return max(0, free)
    if device.type == "mps" and hasattr(torch.mps, "recommended_max_memory"):  # torch >= 2.5
        return max(0, torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    return psutil.virtual_memory().available  # cpu, and mps on torch 2.4: unified memory


def state_copies(optimizer: str, momentum: float, ema: float) -> int:
    """Copies of the weights a training step keeps: the weights, their gradients, the optimizer's
    state (adam: two moments; sgd: a momentum buffer unless momentum is 0) and the EMA's."""
    moments = 2 if optimizer == "adam" else int(momentum > 0)
    return 2 + moments + int(ema > 0)


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
          data_bytes: int, device: torch.device, copies: int = 4) -> float:
    """Refuse a batch larger than the training set, or one whose training step would not fit
    in the device's free memory; warn when it would take most of it. data_bytes: every split
    kept on the device; copies: of the weights (state_copies). Returns the estimate (bytes)."""
    if batch_size > train_size:
        raise ConfigError(f"config key 'batch_size': {batch_size:,} is larger than the training set "
                          f"({train_size:,} images); use at most {train_size}")
    per_image = activation_bytes(model, in_shape) * TRAIN_FACTOR + 4 * torch.Size(in_shape).numel()
    fixed = data_bytes + copies * sum(p.numel() * p.element_size() for p in model.parameters())
    need = per_image * batch_size + fixed
    free = available_bytes(device)
    if need > free:
        fits = max(1, int((free - fixed) // per_image)) if free > fixed else 0
        shared = (f" for this run (its share of the GPU: {PLACEMENT.share:.0%})"
                  if device.type == "cuda" and PLACEMENT.share else "")
        raise ConfigError(f"config key 'batch_size': a batch of {batch_size:,} needs about "
                          f"{need / GiB:.1f} GiB to train (estimated), but {device} has "
                          f"{free / GiB:.1f} GiB free{shared}; use at most about {fits:,}")
    if need > WARN_SHARE * free:
        print(f"warning: batch_size {batch_size:,} needs about {need / GiB:.1f} GiB to train "
              f"(estimated), {need / free:.0%} of the {free / GiB:.1f} GiB free on {device}",
              file=sys.stderr)
    return need


def crowd(workers: int, gpus: int, devices: set[str]) -> int:
    """The most sweep workers that may train on one GPU at once: the round-robin spreads device
    auto and cuda over the GPUs; a GPU named by index (cuda:N) may get every worker."""
    if not gpus or not any(d == "auto" or d.startswith("cuda") for d in devices):
        return 1
    return workers if any(d.startswith("cuda:") for d in devices) else -(-workers // gpus)


def exclusive(index: int) -> bool:
    """GPU `index` takes one process at a time (exclusive-process mode), as NVML says; False
    where NVML cannot tell."""
    try:
        import pynvml
    except ImportError:
        return False
    try:
        mode = pynvml.nvmlDeviceGetComputeMode(torch.cuda._get_pynvml_handler(index))
    except (pynvml.NVMLError, RuntimeError, AttributeError):  # no driver, or a torch without the call
        return False
    return mode == pynvml.NVML_COMPUTEMODE_EXCLUSIVE_PROCESS


def worker_share(workers: int, devices: set[str]) -> float | None:
    """Before a sweep's runs exist: when its `workers` processes share GPUs, the fraction of its
    GPU's memory each may allocate (an equal part of what their CUDA contexts and libraries
    leave; device.use caps each worker's allocator to it, and each run's batch is checked
    against it), else None. A worker count that cannot fit, or a GPU that takes one process
    (exclusive-process mode), is refused with one line."""
    gpus = gpu_count()
    k = crowd(workers, gpus, devices)
    if k <= 1:
        return None
    spread = 1 if any(d.startswith("cuda:") for d in devices) else gpus  # GPUs the workers spread over
    for i in range(gpus):
        if exclusive(i):
            raise UserError(f"--workers {workers}: cuda:{i} is in exclusive-process mode (one process at a "
                            f"time), and up to {k} workers would share it; use --workers {spread}")
    total = min(torch.cuda.get_device_properties(i).total_memory for i in range(gpus))
    each = total / k - CUDA_CONTEXT - CUDA_LIBRARIES
    if each <= 0:
        fits = max(1, math.ceil(total / (CUDA_CONTEXT + CUDA_LIBRARIES)) - 1) * spread
        raise UserError(f"--workers {workers}: up to {k} processes on one GPU would need about "
                        f"{k * (CUDA_CONTEXT + CUDA_LIBRARIES) / GiB:.1f} GiB for their CUDA contexts and "
                        f"libraries alone (estimated), over the {total / GiB:.1f} GiB of a GPU here; "
                        f"use at most --workers {fits}")
    return each / total
