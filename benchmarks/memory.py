"""Peak RSS of a one-epoch `tracker train`, CIFAR-10-sized and MNIST, each in a fresh process.

    .venv/bin/python benchmarks/memory.py [--mnist-dir ../shared/datasets] [--arch mnist-small]

CIFAR-10-sized: 50,000 x 32 x 32 x 3 uint8 (150 MB) written in CIFAR-10's real pickle format
(random pixels); MNIST: the real files. Target: peak RSS <= 2 x dataset bytes + 1 GB.
Then where the baseline goes (RSS after each import, in a fresh process), and what evaluating
the MNIST test set adds to the peak, and costs in time, per evaluation batch size.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tracker.testkit.fakedata import write_cifar10

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, os, resource, sys
import torchvision
from tracker.settings import apply_mlflow_env
apply_mlflow_env()  # as the CLI sets it before mlflow is imported
from tracker.config import make_config
from tracker.runs import job
cfg = make_config(json.loads(sys.argv[1]))
if cfg.dataset == "cifar10":  # random pixels: tell torchvision's integrity check their md5
    md5 = json.loads(sys.argv[2])
    c = torchvision.datasets.CIFAR10
    c.train_list = [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)]
    c.test_list = [["test_batch", md5["test_batch"]]]
    c.meta["md5"] = md5["batches.meta"]
job.train(cfg)
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


IMPORTS = """
import resource
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
out = [("python", rss())]
import torch
out.append(("torch", rss()))
import torchvision
out.append(("torchvision", rss()))
from tracker.settings import apply_mlflow_env
apply_mlflow_env()
from tracker.runs import job
from tracker.tracking import live
out.append(("mlflow+tracker", rss()))
print(" ".join(f"{name}={value}" for name, value in out))
"""
EVAL = """
import resource, sys, time
import torch
from tracker.config import make_config
from tracker.ml.data import Batches, load_split
from tracker.ml.device import channels_last, set_threads
from tracker.ml.models import build_model
from tracker.ml.train import evaluate
set_threads()
batch, data_dir, arch = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = make_config({"arch": arch})
nhwc = channels_last(torch.device("cpu"), cfg.norm, (1, 28, 28))
model = build_model(cfg).to(memory_format=torch.channels_last if nhwc else torch.contiguous_format)
test = Batches(load_split("mnist", data_dir, False, False), "mnist", batch, torch.device("cpu"), channels_last=nhwc)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(3):
    t = time.perf_counter()
    evaluate(model, test)
    times.append(time.perf_counter() - t)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, min(times))
"""


def child(code: str, *args: str) -> str:
    env = {**os.environ, "TRACKER_PROGRESS": "0"}
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return out.stdout.strip().splitlines()[-1]


def run(cfg: dict, md5: dict, store: Path) -> int:
    env = {**os.environ, "TRACKER_STORE": str(store), "TRACKER_PROGRESS": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg), json.dumps(md5)], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return int(out.stdout.split("PEAK_RSS_KB")[-1].split()[0]) * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist-dir", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--arch", default="mnist-small", help="the model trained for one epoch")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="memory-"))
    md5 = write_cifar10(tmp / "cifar", per_batch=10_000, n_test=10_000)
    cases = [("cifar10", str(tmp / "cifar"), (60_000 * 32 * 32 * 3)),
             ("mnist", args.mnist_dir, (70_000 * 28 * 28))]
    for dataset, data_dir, nbytes in cases:
        cfg = {"dataset": dataset, "arch": args.arch, "epochs": 1, "data_dir": data_dir, "download": False,
               "experiment": "memory"}
        peak = run(cfg, md5, tmp / "store")
        budget = 2 * nbytes + 2 ** 30
        print(f"{dataset:8s} {args.arch}: dataset {nbytes / 2**20:6.0f} MiB, peak RSS {peak / 2**20:6.0f} MiB, "
              f"budget {budget / 2**20:6.0f} MiB -> {'within' if peak <= budget else 'OVER'}")
    steps = [kv.split("=") for kv in child(IMPORTS).split()]
    print("RSS after each import: " + ", ".join(
        f"{name} +{(int(v) - int(steps[i - 1][1])) / 2**20:.0f} MiB" if i else f"{name} {int(v) / 2**20:.0f} MiB"
        for i, (name, v) in enumerate(steps)))
    for batch in (1000, 500, 256, 128):
        added, secs = child(EVAL, str(batch), args.mnist_dir, args.arch).split()
        print(f"evaluate the MNIST test set ({args.arch}) in batches of {batch:4d}: peak +{int(added) / 2**20:4.0f} MiB, "
              f"{float(secs):.2f} s (best of 3)")


if __name__ == "__main__":
    main()
