"""Issue 16's figures, measured through the CLI on real MNIST: each `tracker train` process of
experiments/mnist-fast.toml from start to FINISHED (one per norm and seed), the final test
accuracy per norm (mean of the seeds), the time to a target accuracy from `tracker compare
--target`, and the whole `tracker demo` (3 norms x 3 seeds) after set-up.

    .venv/bin/python benchmarks/time_to_accuracy.py --data-dir ../shared/datasets --seeds 1 2 3

Every process gets a fresh store under a temporary folder; the processes run one at a time,
so each has the machine's cores to itself (as a user's run would).
"""
from __future__ import annotations

import argparse
import os
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/datasets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--norms", nargs="+", default=["batch", "layer", "group"])
    ap.add_argument("--target", type=float, default=0.99, help="For compare --target. Default: 0.99.")
    ap.add_argument("--skip-demo", action="store_true", help="Do not time `tracker demo`.")
    args = ap.parse_args()
    data = str(Path(args.data_dir).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TRACKER_STORE": f"{tmp}/fast", "TRACKER_PROGRESS": "0"}
        env.pop("MLFLOW_TRACKING_URI", None)
        print("| norm | seed | `tracker train` process, start to FINISHED |")
        print("| --- | --- | --- |")
        for norm in args.norms:
            for seed in args.seeds:
                seconds, _ = timed(["train", "experiments/mnist-fast.toml", "--data-dir", data,
                                    "--set", f"norm={norm}", "--set", f"seed={seed}"], env)
                print(f"| {norm} | {seed} | {seconds:.1f} s |", flush=True)
        _, table = timed(["compare", "--experiment", "mnist-fast", "--target", str(args.target),
                          "--format", "markdown"], env)
        print(f"\n`tracker compare --experiment mnist-fast --target {args.target} --format markdown`:\n")
        print(table.stdout)
        if not args.skip_demo:
            demo_env = {**env, "TRACKER_STORE": f"{tmp}/demo"}
            seconds, out = timed(["demo", "--data-dir", data], demo_env)
            print(f"`tracker demo --data-dir {args.data_dir}`: {seconds:.0f} s "
                  f"({seconds / 60:.1f} min) after set-up, fresh store\n")
            print(out.stdout[out.stdout.index("norm"):] if "norm" in out.stdout else out.stdout[-2000:])


if __name__ == "__main__":
    main()
