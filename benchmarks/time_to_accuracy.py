"""Issue 16's figures, measured through the CLI on real MNIST: each `tracker train` process of
experiments/mnist-fast.toml from start to FINISHED (one per norm and seed), the final test
accuracy per norm (mean of the seeds) and the time to a target accuracy from `tracker compare
--target`, docs/reports.md's `tracker sweep experiments/mnist-fast.toml` as a whole (its runs'
durations in the store), and the whole `tracker demo` (3 norms x 3 seeds) after set-up.

    .venv/bin/python benchmarks/time_to_accuracy.py --data-dir ../shared/datasets --seeds 1 2 3

Every part gets a fresh store (under --keep DIR if given, for `tracker report`, else a temporary
folder); the parts run one at a time, so each has the machine's cores to itself.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACKER = [sys.executable, "-m", "tracker.cli"]


def timed(args: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    out = subprocess.run(TRACKER + args, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return time.perf_counter() - t, out


def compare(env: dict, how: list[str], target: float) -> None:
    args = ["compare", *how, "--target", str(target), "--format", "markdown"]
    print(f"\n`tracker {' '.join(args)}`:\n")
    print(timed(args, env)[1].stdout)


def processes(args, data: str, env: dict) -> None:
    print("| norm | seed | `tracker train experiments/mnist-fast.toml`, process start to FINISHED |")
    print("| --- | --- | --- |")
    seconds = []
    for norm in args.norms:
        for seed in args.seeds:
            s, _ = timed(["train", "experiments/mnist-fast.toml", "--data-dir", data,
                          "--set", f"norm={norm}", "--set", f"seed={seed}"], env)
            seconds.append(s)
            print(f"| {norm} | {seed} | {s:.1f} s |", flush=True)
    print(f"\nprocesses: median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s")
    compare(env, ["--experiment", "mnist-fast"], args.target)


def sweep(args, data: str, env: dict) -> None:
    s, out = timed(["sweep", "experiments/mnist-fast.toml", "--data-dir", data], env)
    parent = re.search(r"parent run (\w+)", out.stdout).group(1)
    runs = list(csv.DictReader(io.StringIO(timed(["runs", "--experiment", "mnist-fast", "--filter",
                                                  f"tags.mlflow.parentRunId = '{parent}'",
                                                  "--format", "csv"], env)[1].stdout)))
    durations = sorted(float(r["duration_s"]) for r in runs)
    print(f"`tracker sweep experiments/mnist-fast.toml --data-dir {args.data_dir}`: {s:.0f} s for "
          f"{len(runs)} runs (parent {parent}); run durations in the store: median "
          f"{statistics.median(durations):.1f} s, max {durations[-1]:.1f} s")
    compare(env, ["--sweep", parent], args.target)


def demo(args, data: str, env: dict) -> None:
    seconds, out = timed(["demo", "--data-dir", data], env)
    print(f"`tracker demo --data-dir {args.data_dir}`: {seconds:.0f} s ({seconds / 60:.1f} min) "
          "after set-up, fresh store\n")
    print(out.stdout[out.stdout.index(" norm "):] if " norm " in out.stdout else out.stdout[-2000:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/datasets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--norms", nargs="+", default=["batch", "layer", "group"])
    ap.add_argument("--target", type=float, default=0.994, help="For compare --target. Default: 0.994.")
    ap.add_argument("--only", nargs="+", choices=["processes", "sweep", "demo"],
                    default=["processes", "sweep", "demo"], help="Parts to run. Default: all.")
    ap.add_argument("--keep", metavar="DIR", help="Keep each part's store under DIR/<part>.")
    args = ap.parse_args()
    data = str(Path(args.data_dir).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep).resolve() if args.keep else Path(tmp)
        for part in args.only:
            env = {**os.environ, "TRACKER_STORE": str(root / part), "TRACKER_PROGRESS": "0"}
            env.pop("MLFLOW_TRACKING_URI", None)
            print(f"\n## {part}\n", flush=True)
            {"processes": processes, "sweep": sweep, "demo": demo}[part](args, data, env)


if __name__ == "__main__":
    main()
