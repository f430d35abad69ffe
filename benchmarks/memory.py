"""Peak RSS of a one-epoch `tracker train`, CIFAR-10-sized and MNIST, each in a fresh process.

    .venv/bin/python benchmarks/memory.py [--mnist-dir ../shared/datasets] [--arch mnist-small]

CIFAR-10-sized: 50,000 x 32 x 32 x 3 uint8 (150 MB) written in CIFAR-10's real pickle format
(random pixels); MNIST: the real files. Target: peak RSS <= 2 x dataset bytes + 1 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, os, resource, sys
sys.path.insert(0, {tests!r})
import torchvision
from tracker import job
from tracker.config import make_config
cfg = make_config(json.loads(sys.argv[1]))
if cfg.dataset == "cifar10":  # random pixels: tell torchvision's integrity check their md5
    md5 = json.loads(sys.argv[2])
    c = torchvision.datasets.CIFAR10
    c.train_list = [[f"data_batch_{{i}}", md5[f"data_batch_{{i}}"]] for i in range(1, 6)]
    c.test_list = [["test_batch", md5["test_batch"]]]
    c.meta["md5"] = md5["batches.meta"]
job.run(cfg)
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(cfg: dict, md5: dict, store: Path) -> int:
    env = {**os.environ, "TRACKER_STORE": str(store), "TRACKER_PROGRESS": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([sys.executable, "-c", CHILD.format(tests=str(ROOT / "tests")),
                          json.dumps(cfg), json.dumps(md5)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return int(out.stdout.split("PEAK_RSS_KB")[-1].split()[0]) * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist-dir", default=str(ROOT.parent / "shared" / "datasets"))
    ap.add_argument("--arch", default="mnist-small", help="the model trained for one epoch")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from fakedata import write_cifar10

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


if __name__ == "__main__":
    main()
