"""What a GPU run holds, against what `tracker.ml.memory` assumes before the run: the process's
CUDA context (memory.py assumes CUDA_CONTEXT for each sweep worker that shares a GPU), the memory
the first training step loads outside torch's allocator (cuDNN's and cuBLAS's kernels and
workspaces; memory.py assumes CUDA_LIBRARIES), and each step's peak against memory.py's estimate.

    .venv/bin/python benchmarks/gpu_memory.py [--device cuda] [--batch 128]

The nets: mnist-fast on MNIST-shaped and s8 on CIFAR-shaped batches, each norm, sgd with
momentum (the config's default). benchmarks/gpu_check.sh prints these lines under its table.
"""
from __future__ import annotations

import argparse

import torch

from tracker.config import make_config
from tracker.ml import memory
from tracker.ml.device import pick_device, use
from tracker.ml.models import IN_SHAPE, build_model
from tracker.ml.train import make_optimizer

MiB = 1024 ** 2


def step_peak(cfg, device: torch.device, batch: int) -> int:
    """Peak bytes allocated by one training step (forward, backward, optimizer step)."""
    model = build_model(cfg).to(device)
    optimizer = make_optimizer(cfg, model)
    x = torch.randn(batch, *IN_SHAPE[cfg.dataset], device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    device = pick_device(args.device)
    if device.type != "cuda":
        raise SystemExit(f"gpu_memory.py measures a CUDA GPU; this machine has {device}")
    use(device)
    free_before, total = torch.cuda.mem_get_info(device.index)  # the CUDA context exists from here
    print(f"the CUDA context: {(total - free_before) / MiB:.0f} MiB (the GPU's memory less its free memory "
          f"now: other processes' too; memory.py assumes {memory.CUDA_CONTEXT / MiB:.0f} MiB)")
    rows = []
    for arch, dataset in (("mnist-fast", "mnist"), ("s8", "cifar10")):
        for norm in ("batch", "layer", "group"):
            cfg = make_config({"arch": arch, "dataset": dataset, "norm": norm})
            estimate = memory.check(build_model(cfg), IN_SHAPE[dataset], args.batch, args.batch, 0, device,
                                  memory.state_copies(cfg.optimizer, cfg.momentum, cfg.ema))
            rows.append((arch, norm, step_peak(cfg, device, args.batch), estimate))
    free_after, _ = torch.cuda.mem_get_info(device.index)
    libraries = free_before - free_after - torch.cuda.memory_reserved(device)
    print(f"memory outside torch's allocator loaded by the first steps: {libraries / MiB:.0f} MiB "
          f"(memory.py assumes {memory.CUDA_LIBRARIES / MiB:.0f} MiB)")
    for arch, norm, peak, estimate in rows:
        print(f"{arch} {norm} batch {args.batch}: step peak {peak / MiB:.1f} MiB allocated, memory.py "
              f"estimates {estimate / MiB:.1f} MiB ({estimate / peak:.2f}x)")


if __name__ == "__main__":
    main()
