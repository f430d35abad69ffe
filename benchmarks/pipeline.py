"""Training-loop overhead and speed features, interleaved batch by batch in one process.

    .venv/bin/python benchmarks/pipeline.py [--images 3000] [--rounds 2] [--only overhead,seed,layout,bf16,compile]

The machines drift in speed by several times within a minute, so contenders alternate batch by
batch (the order flipping every batch), each timed as the sum of its own batches: read the ratios.

1. overhead: tracker's epoch as `tracker train` runs it (`train_epoch` over `Batches`: uint8 in
   memory, shuffled, normalized per batch, loss syncs; `evaluate`; the checkpoint written) against
   pure compute (forward, backward and step, eval forwards, over float tensors in memory), same
   model, batch, precision and layout; s8 on MNIST- and CIFAR-shaped data, BN, LN and GN, the test
   split 1/6 of the training split. Tracker's time: its epoch's wall time minus the pure work in it.
2. seed: tracker's epoch against the seed projects' loop (per-sample PIL ToTensor + Normalize in
   a DataLoader with no workers; per-sample albumentations, seed 001's, against tracker's batched
   crop-flip); CIFAR-shaped, s8 BN; the seeds' model NCHW, then in tracker's layout.
3. layout: channels_last against contiguous, pure compute, per norm, input size and precision
   (fp32, and bf16 where the device has it natively): the table `device.channels_last` reads.
4. bf16: autocast against fp32, pure compute, per norm and input size, in tracker's layout.
5. compile: torch.compile against eager, pure compute, s8 BN, MNIST-shaped (compiling apart).
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from tracker.config import RunConfig
from tracker.ml import checkpoint
from tracker.ml.data import EVAL_BATCH, Batches, Split, seed001_pipeline
from tracker.ml.datasets import DATASETS
from tracker.ml.device import autocast, bf16_supported, channels_last, pick_device, set_threads, use
from tracker.ml.models import IN_SHAPE, build_model
from tracker.ml.train import evaluate, train_epoch

BATCH = 128
NORMS = ("batch", "layer", "group")
# --device, --layout and --mnist-arch (benchmarks/gpu_check.sh): the device timed (every model
# and batch lives there), a memory layout forced on or off, and the net timed on MNIST-shaped data
DEVICE = torch.device("cpu")
FORCE_LAYOUT: bool | None = None
ARCH = {"mnist": "s8", "cifar10": "s8"}


def sync() -> None:
    """Wait for the GPU before a clock is read: its kernels run after the call returns."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def machine() -> str:
    cpu = Path("/proc/cpuinfo")
    line = next((l for l in cpu.open() if l.startswith("flags")), "") if cpu.exists() else ""
    flags = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in line.split())
    gpu = f", {torch.cuda.get_device_name(DEVICE)}" if DEVICE.type == "cuda" else ""
    return (f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, flags: {flags}, "
            f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {DEVICE}{gpu}")


def layout(dataset: str, norm: str, precision: str = "fp32") -> bool:
    if FORCE_LAYOUT is not None:
        return FORCE_LAYOUT
    return channels_last(DEVICE, norm, IN_SHAPE[dataset], precision)


def fresh(dataset: str, norm: str, nhwc: bool | None = None):
    """A fresh net on the device timed, in its layout, with its optimizer."""
    torch.manual_seed(0)
    model = build_model(RunConfig(arch=ARCH[dataset], dataset=dataset, norm=norm, dropout=0.0)).to(DEVICE)
    if layout(dataset, norm) if nhwc is None else nhwc:
        model = model.to(memory_format=torch.channels_last)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def stepper(dataset: str, norm: str, nhwc: bool | None = None, precision: str = "fp32",
            compile: bool = False) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One training step of a fresh s8: forward, backward, SGD step."""
    model, opt = fresh(dataset, norm, nhwc)
    model.train()
    run = torch.compile(model) if compile else model

    def step(x, y):
        with autocast(DEVICE, precision):
            loss = torch.nn.functional.cross_entropy(run(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def tensors(split: Split, dataset: str, nhwc: bool) -> list:
    """The epoch's batches as float tensors already in memory."""
    return list(Batches(split, dataset, BATCH, DEVICE, channels_last=nhwc))


class SideBySide:
    """tracker's Batches for `train_epoch`, with one step of a contender run before or after
    each batch (alternating) and timed apart."""

    def __init__(self, batches: Batches, other: Callable[[int], None]):
        self.batches, self.other, self.device, self.other_s = batches, other, batches.device, 0.0

    def __len__(self) -> int:
        return len(self.batches)

    def _other(self, i: int) -> None:
        sync()
        t = time.perf_counter()
        self.other(i)
        sync()
        self.other_s += time.perf_counter() - t

    def __iter__(self):
        for i, xy in enumerate(self.batches):
            if i % 2 == 0:
                self._other(i)
            yield xy  # tracker's step runs here, inside train_epoch
            if i % 2 == 1:
                self._other(i)


def against_tracker(batches: Batches, model, opt, other: Callable[[int], None], rounds: int,
                    test: tuple[Batches, Callable[[int], None]] | None = None) -> tuple[float, float]:
    """(tracker's epoch time, the contender's time), summed over rounds. With `test`, each
    epoch also evaluates (beside the contender's eval step) and writes its checkpoint."""
    ours = theirs = 0.0
    ckpt = Path(tempfile.mkdtemp(prefix="pipeline-")) / "last.pt"
    for _ in range(rounds):
        side = SideBySide(batches, other)
        sync()
        t = time.perf_counter()
        train_epoch(model, side, opt, None, False)
        if test is not None:
            test_side = SideBySide(*test)
            evaluate(model, test_side)
            side.other_s += test_side.other_s
            checkpoint.save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict()}, ckpt)
        sync()
        total = time.perf_counter() - t
        ours += total - side.other_s
        theirs += side.other_s
    return ours, theirs


def overhead(split: Split, test: Split, dataset: str, rounds: int) -> None:
    for norm in NORMS:
        nhwc = layout(dataset, norm)
        batches = Batches(split, dataset, BATCH, DEVICE, shuffle=True, channels_last=nhwc)
        test_batches = Batches(test, dataset, EVAL_BATCH, DEVICE, channels_last=nhwc)
        data, pure = tensors(split, dataset, nhwc), stepper(dataset, norm)
        test_data, eval_model = list(test_batches), fresh(dataset, norm, nhwc)[0].eval()

        @torch.no_grad()
        def pure_eval(i: int) -> None:
            eval_model(test_data[i][0]).argmax(1)

        model, opt = fresh(dataset, norm)
        t, p = against_tracker(batches, model, opt, lambda i: pure(*data[i]), rounds,
                               (test_batches, pure_eval))
        picks = "on" if channels_last(DEVICE, norm, IN_SHAPE[dataset]) else "off"  # gpu_check.sh's table
        print(f"  {dataset:8s} {norm:5s}: pure {p:6.2f} s, tracker epoch {t:6.2f} s -> {t / p:.3f}x "
              f"(tracker picks channels_last {picks})", flush=True)


def race(steps: dict[str, Callable[[int], None]], n: int, rounds: int) -> dict[str, float]:
    """Each contender's summed time over `rounds` passes of n batches, alternating per batch."""
    times = dict.fromkeys(steps, 0.0)
    names = list(steps)
    for r in range(rounds):
        for i in range(n):
            for name in names if (i + r) % 2 == 0 else names[::-1]:
                t = time.perf_counter()
                steps[name](i)
                sync()
                times[name] += time.perf_counter() - t
    return times


def pairs(split: Split, dataset: str, rounds: int, a: tuple, b: tuple, label: str) -> None:
    """Pure compute of two variants (channels_last, or None for tracker's choice; precision);
    prints how much faster b is than a."""
    for norm in NORMS:
        a_, b_ = ((layout(dataset, norm, v[1]) if v[0] is None else v[0], v[1]) for v in (a, b))
        data = {nhwc: tensors(split, dataset, nhwc) for nhwc in {a_[0], b_[0]}}
        sa, sb = stepper(dataset, norm, *a_), stepper(dataset, norm, *b_)
        n = len(data[a_[0]])
        t = race({"a": lambda i: sa(*data[a_[0]][i]), "b": lambda i: sb(*data[b_[0]][i])}, n, rounds)
        print(f"  {dataset:8s} {norm:5s}: {t['a']:6.2f} s vs {t['b']:6.2f} s -> {label} "
              f"{t['a'] / t['b']:.2f}x as fast", flush=True)


def compiled(split: Split, rounds: int) -> None:
    data = tensors(split, "mnist", layout("mnist", "batch"))
    eager, comp = stepper("mnist", "batch"), stepper("mnist", "batch", compile=True)
    t = time.perf_counter()
    comp(*data[0]), comp(*data[-1])  # the last batch is smaller: a second graph
    first = time.perf_counter() - t
    times = race({"eager": lambda i: eager(*data[i]), "compiled": lambda i: comp(*data[i])}, len(data), rounds)
    print(f"  mnist    batch: eager {times['eager']:6.2f} s, compiled {times['compiled']:6.2f} s -> "
          f"compiled {times['eager'] / times['compiled']:.2f}x as fast (compiling: {first:.1f} s)")


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

    meta = DATASETS["cifar10"]
    hwc, labels = split.images.permute(0, 2, 3, 1).numpy(), split.labels.numpy()
    plain_tf = T.Compose([Image.fromarray, T.ToTensor(), T.Normalize(meta.mean, meta.std)])
    album = seed001_pipeline(0)
    aug_tf = T.Compose([lambda a: album(image=a)["image"], T.ToTensor(), T.Normalize(meta.mean, meta.std)])
    nhwc = layout("cifar10", "batch")
    cases = [(name, tf, augment, seed_nhwc) for seed_nhwc in (False, nhwc)
             for name, tf, augment in (("plain", plain_tf, "none"), ("augmented", aug_tf, "crop-flip"))]
    for name, tf, augment, seed_nhwc in cases:
        loader = torch.utils.data.DataLoader(SeedDataset(hwc, labels, tf), batch_size=BATCH, shuffle=True)
        ours = Batches(split, "cifar10", BATCH, DEVICE, shuffle=True, augment=augment, channels_last=nhwc)
        theirs = stepper("cifar10", "batch", seed_nhwc)
        feed = {"it": iter(loader)}

        def seed_step(i: int) -> None:
            if i == 0:
                feed["it"] = iter(loader)
            x, y = (t.to(DEVICE) for t in next(feed["it"]))  # the seeds' loop sent each batch over
            theirs(x.contiguous(memory_format=torch.channels_last) if seed_nhwc else x, y)

        model, opt = fresh("cifar10", "batch")
        t, s = against_tracker(ours, model, opt, seed_step, rounds)
        how = "tracker's layout" if seed_nhwc else "NCHW, as the seeds ran"
        print(f"  cifar10 BN {name:9s} (seed loop {how}): seed loop {s:6.2f} s, tracker {t:6.2f} s -> "
              f"tracker is {s / t:.2f}x faster", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", default="overhead,seed,layout,bf16,compile")
    ap.add_argument("--device", default="cpu", help="the device timed: cpu, cuda, cuda:N, mps")
    ap.add_argument("--layout", choices=("auto", "on", "off"), default="auto", help="channels_last: forced, or auto")
    ap.add_argument("--mnist-arch", default="s8", help="the net timed on MNIST-shaped data")
    args = ap.parse_args()
    only = args.only.split(",")
    global DEVICE, FORCE_LAYOUT
    DEVICE = pick_device(args.device)
    kernels = use(DEVICE)  # as a run: its GPU current, deterministic kernels, full fp32 (no TF32)
    FORCE_LAYOUT, ARCH["mnist"] = {"auto": None, "on": True, "off": False}[args.layout], args.mnist_arch
    os.environ["TRACKER_PROGRESS"] = "0"
    set_threads()
    print(machine(), ", ".join(f"{k} {v}" for k, v in kernels.items()))
    g = torch.Generator().manual_seed(0)
    data = {name: Split(torch.randint(0, 256, (args.images, *shape), dtype=torch.uint8, generator=g),
                        torch.randint(0, 10, (args.images,), generator=g))
            for name, shape in (("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)))}
    print(f"{ARCH['mnist']} on MNIST-shaped, s8 on CIFAR-shaped data, {args.images} images, batch "
          f"{BATCH}, {args.rounds} epochs per contender, interleaved batch by batch, layout {args.layout}")
    if "overhead" in only:
        print("1. pipeline overhead: tracker's epoch against pure compute (same layout):")
        for name, split in data.items():
            test = Split(split.images[:len(split) // 6], split.labels[:len(split) // 6])
            overhead(split, test, name, args.rounds)
    if "seed" in only:
        print("2. against the seed projects' per-sample loop:")
        seed_loop(data["cifar10"], args.rounds)
    if "layout" in only:
        for precision in ("fp32", "bf16") if bf16_supported(DEVICE) else ("fp32",):
            print(f"3. layout, pure compute, {precision}: contiguous vs channels_last:")
            for name, split in data.items():
                pairs(split, name, args.rounds, (False, precision), (True, precision), "channels_last")
    if "bf16" in only:
        print(f"4. precision, pure compute: fp32 vs bf16 autocast (native bf16: {bf16_supported(DEVICE)}):")
        for name, split in data.items():
            pairs(split, name, args.rounds, (None, "fp32"), (None, "bf16"), "bf16")
    if "compile" in only:
        print("5. torch.compile vs eager, pure compute:")
        compiled(data["mnist"], args.rounds)


if __name__ == "__main__":
    main()
