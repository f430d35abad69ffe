"""Where a run trains and how: the device (cuda > mps > cpu, a GPU by its index), the GPU a
sweep worker or a Ray task gets, its threads, precision, kernels (deterministic, TF32) and
memory layout, and the autocast context of a training step.

    tracker train experiments/mnist-demo.toml --set device=cuda:1 --set precision=bf16
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections import Counter
from dataclasses import dataclass

import torch

from .. import names
from ..errors import ConfigError
from ..settings import CUBLAS_ENV, cuda_env, thread_cap


@dataclass
class Placement:
    """What the process that runs a run was given, set once in it: a local sweep worker's place
    in the round-robin over the GPUs, or what a Ray task reserved."""
    slot: int | None = None  # local sweep worker k trains on GPU k mod the GPUs it sees
    cpu_only: bool = False  # a Ray task that reserved no GPU: auto means cpu
    # the fraction of its GPU's memory this process may allocate: a Ray task's --gpus-per-run, or
    # a sweep worker's part of a GPU it shares with other workers (memory.worker_share)
    share: float | None = None
    used: str = ""  # the device pick_device gave this process's last run (a Ray task reports it)


PLACEMENT = Placement()


def claim_slot(counter, share: float | None = None) -> None:
    """A sweep worker's initializer: take the next slot of a shared counter (multiprocessing.Value),
    and the share of its GPU's memory the sweep gives each worker (None: a GPU each)."""
    with counter.get_lock():
        PLACEMENT.slot = counter.value
        counter.value += 1
    PLACEMENT.share = share


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
        requested = f"cuda:{(PLACEMENT.slot or 0) % gpus}"
    if requested not in have:
        raise ConfigError(f"config key 'device': {requested} is not available on this machine; it has "
                          f"{', '.join(have)} (use device = \"auto\" to pick the best of them)")
    PLACEMENT.used = requested
    return torch.device(requested)


def tally(used: list[str]) -> str:
    """Where a sweep's runs trained, for its parent run: "cpu x1, cuda:0 x3"."""
    return ", ".join(f"{d} x{n}" for d, n in sorted(Counter(used).items()))


def ray_gpu_note(gpus: float, devices: set[str], cluster_gpus: float) -> str:
    """One line on where a Ray sweep's runs train: --gpus-per-run is how a run asks for a GPU,
    so with 0 runs with device auto train on the CPU, whatever GPUs the cluster has now or adds
    later (autoscaling); a fraction shares a GPU. The parent run records where they trained."""
    if gpus == 0 and "auto" in devices:
        has = f"the cluster has {cluster_gpus:g} GPUs, but " if cluster_gpus else ""
        return (f"note: {has}--gpus-per-run is 0: runs with device auto train on the CPU"
                + ("" if cluster_gpus else ", also on GPU nodes the cluster adds later")
                + " (--gpus-per-run 1, or 0.5 for two runs a GPU, uses them)")
    if 0 < gpus < 1:
        return (f"note: --gpus-per-run {gpus:g}: up to {int(1 // gpus)} runs share a GPU, each "
                f"capped at {gpus:.0%} of its memory")
    return ""


def use(device: torch.device, deterministic: bool = True, tf32: bool = False) -> dict[str, str]:
    """Make a GPU this process's: current, its memory capped to its share (a Ray task's, a
    sweep worker's), its kernels deterministic (a resumed run repeats the uninterrupted one)
    or, with deterministic=False, chosen by cudnn.benchmark's timing (faster, not repeatable),
    and its fp32 matmuls and convolutions in full fp32 unless tf32. Returns what holds, as the
    run's params: TF32 used, and deterministic (False too when cuBLAS's workspace setting came
    after this process's first CUDA call, too late to take effect)."""
    if device.type != "cuda":  # cpu is deterministic as it is; mps has no such switch
        return {names.TF32_USED: "False",
                names.DETERMINISTIC_USED: "True" if device.type == "cpu" else "unchecked"}
    there = cuda_env()  # cuBLAS's deterministic workspace, before this process's first CUDA call
    late = deterministic and not there and torch.cuda.is_initialized()
    if late:
        print(f"warning: {CUBLAS_ENV} was set after this process's first CUDA call, so cuBLAS's matmuls "
              "may not repeat; set it before (the tracker command does)", file=sys.stderr)
    torch.cuda.set_device(device)
    if PLACEMENT.share:
        torch.cuda.set_per_process_memory_fraction(PLACEMENT.share, device.index)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    # on by default for cuDNN's convolutions on Ampere and later: about 1e-3 relative error
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    # warn_only: an op without a deterministic kernel warns rather than stops the run, and the
    # run records it (watch_determinism)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    warnings.filterwarnings("ignore", message=f"{REPEATS} does not have a deterministic")
    return {names.TF32_USED: str(tf32 and torch.cuda.get_device_capability(device)[0] >= 8),
            names.DETERMINISTIC_USED: str(deterministic and not late)}


# torch's words for an op without a deterministic kernel, when use() has turned them on
ALERT = re.compile(r"(\S+) does not have a deterministic implementation")
# CUDA flags AdaptiveAvgPool2d's backward (atomic adds), but with the 1x1 output of every net
# here each input's gradient gets a single add, so its values repeat: not recorded, not shown
REPEATS = "adaptive_avg_pool2d_backward_cuda"


@contextlib.contextmanager
def watch_determinism(seen: set[str]):
    """While deterministic algorithms are on, add to `seen` each op that ran without a
    deterministic kernel (the run records them: it may not repeat exactly); other warnings
    show as before."""
    with warnings.catch_warnings():
        warnings.filterwarnings("always", message=ALERT.pattern)  # every run's, not once a process
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            found = ALERT.match(str(message))
            if found is None:
                return shown(message, category, filename, lineno, file, line)
            if found[1] != REPEATS:
                seen.add(found[1])

        warnings.showwarning = show
        yield seen


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
