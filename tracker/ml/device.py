"""Where a run trains and how: the device (cuda > mps > cpu), its threads, precision and
memory layout, and the autocast context of a training step.

    tracker train experiments/mnist-demo.toml --set device=cpu --set precision=bf16
"""
from __future__ import annotations

import os

import torch

from ..errors import ConfigError
from ..settings import thread_cap


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


def autocast(device: torch.device, precision: str):
    enabled = precision == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
