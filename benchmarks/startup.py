"""The fixed cost of a tracker process, broken down: `tracker --help`; the imports (torch,
torchvision, mlflow, and everything `tracker train` imports); and a whole `tracker train` of a
0.1 s epoch (512 fake MNIST images), from process start to exit, split into what comes before
the run exists (imports, data, model), the run's training (its tracker.wall_s tag) and the run's
end (the model's pt2 export and log, with the figures drawn in a process of their own meanwhile).

    .venv/bin/python benchmarks/startup.py --rounds 3
    .venv/bin/python benchmarks/startup.py --rounds 5 --vs /path/to/an/older/checkout

Each figure is the median over --rounds fresh processes, run one after another; with --vs, the
`tracker train` processes of that checkout (its tracker package first on PYTHONPATH) take turns
with this one's, and both breakdowns are printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tracker.settings import embedded_uri
from tracker.testkit.fakedata import write_mnist

IMPORTS = {"torch": "import torch", "torchvision": "import torch, torchvision",
           "mlflow": "import mlflow",
           "tracker train's imports": ("import tracker.cli.runs, tracker.runs.job, tracker.tracking.live, "
                                      "tracker.tracking.logged_model, tracker.ml.inference, torchinfo")}


def seconds(args: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="processes per figure (default 3)")
    ap.add_argument("--vs", default=None, metavar="PATH", help="another checkout to race (default: none)")
    args = ap.parse_args()
    tracker = str(Path(sys.executable).with_name("tracker"))
    help_s = [seconds([tracker, "--help"]) for _ in range(max(5, args.rounds))]
    print(f"tracker --help: median {statistics.median(help_s) * 1000:.0f} ms")
    for name, code in IMPORTS.items():
        s = [seconds([sys.executable, "-c", code]) for _ in range(args.rounds)]
        print(f"import {name}: median {statistics.median(s):.2f} s (python itself included)")
    trees = {"this checkout": None, **({"--vs " + args.vs: args.vs} if args.vs else {})}
    found = {name: ([], [], []) for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_mnist(Path(tmp) / "data", n_train=512, n_test=256)
        for i in range(args.rounds):
            for j, (name, tree) in enumerate(trees.items()):  # in turn, so both see the same machine
                store = Path(tmp) / f"store{i}-{j}"
                env = {**os.environ, "TRACKER_STORE": str(store), "TRACKER_PROGRESS": "0"}
                env.pop("MLFLOW_TRACKING_URI", None)
                if tree:
                    env["PYTHONPATH"] = tree
                total = seconds([sys.executable, "-m", "tracker.cli", "train", "--set", "arch=mnist-small",
                                 "--set", "epochs=1", "--set", f"data_dir={data}", "--set", "download=false",
                                 "--set", "batch_size=64"], env)
                from mlflow.tracking import MlflowClient

                c = MlflowClient(embedded_uri(store))
                (run,) = c.search_runs([c.get_experiment_by_name("tracker").experiment_id])
                for values, v in zip(found[name], (total, float(run.data.tags["tracker.wall_s"]),
                                                   (run.info.end_time - run.info.start_time) / 1000)):
                    values.append(v)
    for name, values in found.items():
        total, wall, duration = (statistics.median(v) for v in values)
        print(f"{name}: tracker train, 1 epoch of 512 images: {total:.2f} s from process start to exit (median)")
        print(f"  before the run exists (imports, data, model, checks, the store): {total - duration:.2f} s")
        print(f"  the run's setup and training (tracker.wall_s): {wall:.2f} s")
        print(f"  the run's end (model export and log, figures): {duration - wall:.2f} s")


if __name__ == "__main__":
    main()
