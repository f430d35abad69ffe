"""Training-loop overhead, side by side and interleaved in one process.

    .venv/bin/python benchmarks/pipeline.py [--images 10000] [--rounds 3] [--only overhead,seed,layout,bf16,compile]

1. tracker's epoch (uint8 in memory, shuffled, normalized per batch: `train_epoch` over
   `Batches`) against pure compute (forward, backward and step over float tensors already in
   memory), for s8 on MNIST- and CIFAR-shaped data with BN, LN and GN.
2. tracker's epoch against the seed projects' loop: a torchvision dataset with per-sample
   ToTensor + Normalize in a DataLoader (plain), and per-sample albumentations (augmented),
   against tracker's batched crop-flip.
3. layout: channels_last against contiguous, pure compute, per norm and input size (what
   tracker.train.channels_last chooses from).
4. bf16 autocast against fp32, pure compute, per norm and input size.
5. torch.compile against eager, pure compute, s8 BN on MNIST-sized data (compile time apart).
Absolute times on shared machines drift; the ratios are what to read.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tracker.config import RunConfig  # noqa: E402
from tracker.data import META, Batches, Split, seed001_pipeline  # noqa: E402
from tracker.models import build_model  # noqa: E402
from tracker.models import IN_SHAPE  # noqa: E402
from tracker.train import _autocast, bf16_supported, channels_last, set_threads, train_epoch  # noqa: E402

BATCH = 128


def machine() -> str:
    flags = ""
    if Path("/proc/cpuinfo").exists():
        line = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
        flags = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in line.split())
    return (f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, flags: {flags}, "
            f"torch {torch.__version__}, threads {torch.get_num_threads()}")


CPU = torch.device("cpu")
NORMS = ("batch", "layer", "group")


def layout(dataset: str, norm: str) -> bool:
    return channels_last(CPU, norm, IN_SHAPE[dataset])


def fresh(dataset: str, norm: str, nhwc: bool | None = None):
    torch.manual_seed(0)
    model = build_model(RunConfig(arch="s8", dataset=dataset, norm=norm, dropout=0.0))
    if layout(dataset, norm) if nhwc is None else nhwc:
        model = model.to(memory_format=torch.channels_last)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def pure_epoch(model, opt, xs, ys, precision: str = "fp32") -> None:
    model.train()
    for x, y in zip(xs, ys):
        with _autocast(CPU, precision):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def tensors(split: Split, dataset: str, nhwc: bool):
    """The epoch's batches as float tensors already in memory."""
    return tuple(zip(*list(Batches(split, dataset, BATCH, CPU, channels_last=nhwc))))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def overhead(split: Split, dataset: str, rounds: int) -> None:
    for norm in NORMS:
        nhwc = layout(dataset, norm)
        batches = Batches(split, dataset, BATCH, CPU, shuffle=True, channels_last=nhwc)
        xs, ys = tensors(split, dataset, nhwc)
        t_pure, t_tracker = [], []
        for _ in range(rounds):
            m, o = fresh(dataset, norm)
            t_pure.append(timed(lambda: pure_epoch(m, o, xs, ys)))
            m, o = fresh(dataset, norm)
            t_tracker.append(timed(lambda: train_epoch(m, batches, o, None, False)))
        p, t = statistics.median(t_pure), statistics.median(t_tracker)
        print(f"  {dataset:8s} {norm:5s}: pure {p:6.2f} s, tracker epoch {t:6.2f} s -> {t / p:.3f}x")


def pairs(split: Split, dataset: str, rounds: int, a: tuple, b: tuple, label: str) -> None:
    """Pure compute of two variants (channels_last or None for tracker's choice, precision),
    interleaved; prints b's speed-up over a."""
    for norm in NORMS:
        a_, b_ = ((layout(dataset, norm) if v[0] is None else v[0], v[1]) for v in (a, b))
        data = {nhwc: tensors(split, dataset, nhwc) for nhwc in {a_[0], b_[0]}}
        ta, tb = [], []
        for _ in range(rounds):
            for (nhwc, precision), times in ((a_, ta), (b_, tb)):
                m, o = fresh(dataset, norm, nhwc)
                times.append(timed(lambda: pure_epoch(m, o, *data[nhwc], precision)))
        x, y = statistics.median(ta), statistics.median(tb)
        print(f"  {dataset:8s} {norm:5s}: {x:6.2f} s vs {y:6.2f} s -> {label} {x / y:.2f}x as fast")


def compiled(split: Split, rounds: int) -> None:
    nhwc = layout("mnist", "batch")
    xs, ys = tensors(split, "mnist", nhwc)
    m, o = fresh("mnist", "batch")
    cm, co = fresh("mnist", "batch")
    cm = torch.compile(cm)
    first = timed(lambda: pure_epoch(cm, co, xs[:2], ys[:2]))
    te, tc = [], []
    for _ in range(rounds):
        te.append(timed(lambda: pure_epoch(m, o, xs, ys)))
        tc.append(timed(lambda: pure_epoch(cm, co, xs, ys)))
    e, c = statistics.median(te), statistics.median(tc)
    print(f"  mnist    batch: eager {e:6.2f} s, compiled {c:6.2f} s -> compiled {e / c:.2f}x as fast "
          f"(first 2 batches, compiling: {first:.1f} s)")


class SeedDataset(torch.utils.data.Dataset):
    """How the seeds fed data: one image at a time through PIL/numpy transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), int(self.labels[i])


def seed_loop(split: Split, rounds: int) -> None:
    from PIL import Image
    from torchvision import transforms as T

    meta = META["cifar10"]
    hwc = split.images.permute(0, 2, 3, 1).numpy()
    labels = split.labels.numpy()
    plain_tf = T.Compose([Image.fromarray, T.ToTensor(), T.Normalize(meta.mean, meta.std)])
    album = seed001_pipeline(0)
    aug_tf = T.Compose([lambda a: album(image=a)["image"], T.ToTensor(), T.Normalize(meta.mean, meta.std)])
    cpu = torch.device("cpu")
    for name, tf, augment in (("plain", plain_tf, "none"), ("augmented", aug_tf, "crop-flip")):
        loader = torch.utils.data.DataLoader(SeedDataset(hwc, labels, tf), batch_size=BATCH, shuffle=True)
        ours = Batches(split, "cifar10", BATCH, cpu, shuffle=True, augment=augment, channels_last=True)
        t_seed, t_ours = [], []
        for _ in range(rounds):
            m, o = fresh("cifar10", "batch")
            t_seed.append(timed(lambda: _loader_epoch(m, o, loader)))
            m, o = fresh("cifar10", "batch")
            t_ours.append(timed(lambda: train_epoch(m, ours, o, None, False)))
        s, t = statistics.median(t_seed), statistics.median(t_ours)
        print(f"  cifar10 BN {name:9s}: seed loop {s:6.2f} s, tracker {t:6.2f} s -> tracker is {s / t:.2f}x faster")


def _loader_epoch(model, opt, loader) -> None:
    model.train()
    for x, y in loader:
        x = x.contiguous(memory_format=torch.channels_last)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="overhead,seed,layout,bf16,compile")
    args = ap.parse_args()
    only = args.only.split(",")
    os.environ["TRACKER_PROGRESS"] = "0"
    set_threads()
    print(machine())
    g = torch.Generator().manual_seed(0)
    data = {name: Split(torch.randint(0, 256, (args.images, *shape), dtype=torch.uint8, generator=g),
                        torch.randint(0, 10, (args.images,), generator=g))
            for name, shape in (("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)))}
    print(f"s8, {args.images} images, batch {BATCH}, median of {args.rounds} interleaved rounds")
    if "overhead" in only:
        print("1. pipeline overhead: tracker's epoch against pure compute (same layout):")
        for name, split in data.items():
            overhead(split, name, args.rounds)
    if "seed" in only:
        print("2. against the seed projects' per-sample loop:")
        seed_loop(data["cifar10"], args.rounds)
    if "layout" in only:
        print("3. layout, pure compute: contiguous vs channels_last:")
        for name, split in data.items():
            pairs(split, name, args.rounds, (False, "fp32"), (True, "fp32"), "channels_last")
    if "bf16" in only:
        print(f"4. precision, pure compute: fp32 vs bf16 autocast (native bf16: {bf16_supported(CPU)}):")
        for name, split in data.items():
            pairs(split, name, args.rounds, (None, "fp32"), (None, "bf16"), "bf16")
    if "compile" in only:
        print("5. torch.compile vs eager, pure compute:")
        compiled(data["mnist"], args.rounds)


if __name__ == "__main__":
    main()
