"""Where a run trains and how: the device (cuda > mps > cpu, a GPU by its index), the GPU a
sweep worker or a Ray task gets, its threads, precision, kernels and memory layout, and the
autocast context of a training step.

    tracker train experiments/mnist-demo.toml --set device=cuda:1 --set precision=bf16
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..settings import cuda_env, thread_cap


@dataclass
class Placement:
    """What the process that runs a run was given, set once in it: a local sweep worker's place
    in the round-robin over the GPUs, or what a Ray task reserved."""
    slot: int | None = None  # local sweep worker k trains on GPU k mod the GPUs it sees
    cpu_only: bool = False  # a Ray task that reserved no GPU: auto means cpu
    share: float | None = None  # a Ray task's fraction of one GPU: its memory is capped to it


PLACEMENT = Placement()


def claim_slot(counter) -> None:
    """A sweep worker's initializer: take the next slot of a shared counter (multiprocessing.Value)."""
    with counter.get_lock():
        PLACEMENT.slot = counter.value
        counter.value += 1


def place(cpu_only: bool = False, share: float | None = None) -> None:
    """A Ray task: no GPU reserved (cpu_only), or a fraction of one (share)."""
    PLACEMENT.cpu_only, PLACEMENT.share = cpu_only, share


def gpu_count() -> int:
    """The CUDA devices this process may use (CUDA_VISIBLE_DEVICES, and Ray, narrow them)."""
    if PLACEMENT.cpu_only or not torch.cuda.is_available():
        return 0
    return torch.cuda.device_count()


def available_devices() -> list[str]:
    """The devices this process may use, best first; GPUs by index."""
    found = [f"cuda:{i}" for i in range(gpu_count())]
    if not PLACEMENT.cpu_only and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def pick_device(requested: str = "auto") -> torch.device:
    """cuda > mps > cpu, unless a device is named; `auto` and `cuda` mean this worker's GPU of
    the round-robin (GPU 0 outside a sweep); a device this machine lacks is refused."""
    have, gpus = available_devices(), gpu_count()
    if requested == "auto":
        requested = "cuda" if gpus else have[0]
    if requested == "cuda" and gpus:
        return torch.device("cuda", (PLACEMENT.slot or 0) % gpus)
    if requested not in have:
        raise ConfigError(f"config key 'device': {requested} is not available on this machine; it has "
                          f"{', '.join(have)} (use device = \"auto\" to pick the best of them)")
    return torch.device(requested)


def use(device: torch.device, deterministic: bool = True) -> None:
    """Make a GPU this process's: current, its memory capped to a Ray task's share, and its
    kernels deterministic (a resumed run repeats the uninterrupted one) or, with
    deterministic=False, chosen by cudnn.benchmark's timing (faster, not repeatable)."""
    if device.type != "cuda":
        return  # cpu is deterministic as it is; mps has no such switch
    cuda_env()  # cuBLAS's deterministic workspace, before the first matmul
    torch.cuda.set_device(device)
    if PLACEMENT.share:
        torch.cuda.set_per_process_memory_fraction(PLACEMENT.share, device.index)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    # warn_only: an op without a deterministic kernel warns rather than stops the run. CUDA
    # flags AdaptiveAvgPool2d's backward (atomic adds), but with the 1x1 output of every net
    # here each input's gradient gets a single add, so its values repeat: that warning is muted
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    warnings.filterwarnings("ignore", message="adaptive_avg_pool2d_backward_cuda does not have a deterministic")


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
    """bf16 autocast runs natively: a GPU with bf16 units (Ampere and later: not a T4 or V100,
    which only emulate it), or a CPU with AVX512-BF16/AMX. MPS trains in fp32."""
    if device.type == "cuda":
        with torch.cuda.device(device):  # the question is asked of the current device
            return torch.cuda.is_bf16_supported(including_emulation=False)  # torch >= 2.4
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


# on CUDA, not measured yet (benchmarks/gpu_check.sh measures it): cuDNN's convolutions and
# BatchNorm have NHWC kernels, while the GroupNorm kernel (LayerNorm here is GroupNorm with one
# group) returns channels-first output, so a channels_last net converts around every GN layer
_CHANNELS_LAST_CUDA = {"batch": True, "none": True, "layer": False, "group": False}


def channels_last(device: torch.device, norm: str, in_shape: tuple[int, ...], precision: str = "fp32") -> bool:
    """The memory layout that measured faster for this norm, input size and precision here."""
    if device.type == "cuda":
        return _CHANNELS_LAST_CUDA[norm]
    if device.type != "cpu":
        return False
    return _CHANNELS_LAST_CPU[(norm, "large" if in_shape[0] > 1 else "small", precision)]


def autocast(device: torch.device, precision: str):
    """The context of a bf16 step; fp32 gets a no-op context, so no autocast is built for a
    device that has none (MPS before torch 2.5)."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
