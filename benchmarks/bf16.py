"""bf16 autocast against fp32 on real MNIST: time per epoch and test accuracy, side by side.

    .venv/bin/python benchmarks/bf16.py --data-dir ../shared/datasets [--arch mnist-small] [--epochs 2]

Two models with the same seed train epoch by epoch, interleaved (fp32 epoch 1, bf16 epoch 1,
...), with tracker's own loops (`train_epoch`, `evaluate`), each in the layout tracker picks
for it. bf16 is forced here even where tracker would fall back to fp32 (a CPU without native
bf16), so the accuracy effect can be read on any machine; the speed is only meaningful where
it is native.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from tracker.config import make_config
from tracker.ml.data import EVAL_BATCH, Batches, load_split
from tracker.ml.device import bf16_supported, channels_last, set_threads
from tracker.ml.models import IN_SHAPE, build_model
from tracker.ml.train import evaluate, make_optimizer, make_scheduler, train_epoch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--arch", default="mnist-small")
    ap.add_argument("--norm", default="batch")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-limit", type=int, default=0, help="the first N training images (0 = all)")
    args = ap.parse_args()
    os.environ["TRACKER_PROGRESS"] = "0"
    set_threads()
    cpu = torch.device("cpu")
    cfg = make_config({"arch": args.arch, "norm": args.norm, "epochs": args.epochs,
                       "data_dir": args.data_dir, "download": False, "train_limit": args.train_limit})
    train_split = load_split(cfg.dataset, cfg.data_dir, True, False, cfg.train_limit)
    test_split = load_split(cfg.dataset, cfg.data_dir, False, False)
    print(f"{cfg.arch} {cfg.norm} on real MNIST ({len(train_split)} training images), {cfg.epochs} epochs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, native bf16 on this CPU: {bf16_supported(cpu)}")
    runs, rng = {}, {}
    for precision in ("fp32", "bf16"):
        nhwc = channels_last(cpu, cfg.norm, IN_SHAPE[cfg.dataset], precision)  # as tracker picks it
        torch.manual_seed(cfg.seed)
        model = build_model(cfg)
        if nhwc:
            model = model.to(memory_format=torch.channels_last)
        opt = make_optimizer(cfg, model)
        train = Batches(train_split, cfg.dataset, cfg.batch_size, cpu, shuffle=True, seed=cfg.seed,
                        channels_last=nhwc)
        sched, per_batch = make_scheduler(cfg, opt, len(train))
        test = Batches(test_split, cfg.dataset, EVAL_BATCH, cpu, channels_last=nhwc)
        runs[precision] = (model, opt, sched, per_batch, train, test, [])
        rng[precision] = torch.get_rng_state()  # each keeps its own stream: the same dropout draws
    for epoch in range(1, cfg.epochs + 1):
        for precision, (model, opt, sched, per_batch, train, test, times) in runs.items():
            torch.set_rng_state(rng[precision])
            t = time.perf_counter()
            train_epoch(model, train, opt, sched, per_batch, precision)
            times.append(time.perf_counter() - t)
            rng[precision] = torch.get_rng_state()
            acc = evaluate(model, test, precision)["test_acc"]
            print(f"  epoch {epoch} {precision}: {times[-1]:6.1f} s, test_acc {acc:.2%}", flush=True)
    fp32, bf16 = (sum(runs[p][-1]) for p in ("fp32", "bf16"))
    print(f"training time fp32 {fp32:.1f} s, bf16 {bf16:.1f} s -> bf16 {fp32 / bf16:.2f}x as fast")


if __name__ == "__main__":
    main()
