"""Issue 16's ablation: experiments/mnist-fast.toml's recipe, and the recipe with each trick
turned off in turn, 3 seeds each, through `tracker sweep` and `tracker compare`.

    .venv/bin/python benchmarks/ablation.py --data-dir ../shared/datasets --norm layer

Each variant is the recipe file with one key changed and a grid of seeds only, run by
`tracker sweep` into one experiment of a fresh store (--keep DIR keeps it); `tracker compare
--by` those keys then makes one row per variant. The runs go one at a time.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from time_to_accuracy import ROOT, timed  # runs tracker in a subprocess; exits if it fails
from tracker import experiment

RECIPE = ROOT / "experiments" / "mnist-fast.toml"
OFF = {"augment": "none", "label_smoothing": 0.0, "ema": 0.0, "tta": False}  # each trick, off


def variant_file(folder: Path, name: str, base: dict, seeds: list[int]) -> Path:
    """The recipe as a sweep file: its keys (one of them changed) and a grid of seeds."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in base.items()]  # JSON scalars are TOML scalars
    path = folder / f"ablation-{name}.toml"
    path.write_text("\n".join(lines + ["", "[grid]", f"seed = {json.dumps(seeds)}", ""]))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/datasets")
    ap.add_argument("--norm", default="layer", choices=["batch", "layer", "group"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--keep", metavar="DIR", help="Keep the store and sweep files here.")
    args = ap.parse_args()
    recipe = experiment.read(RECIPE).base  # the recipe's keys, without its grid (or its study)
    recipe.update(norm=args.norm, experiment="mnist-fast-ablation")
    variants = {"recipe": {}, **{f"no-{k}": {k: v} for k, v in OFF.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep).resolve() if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TRACKER_STORE": str(folder / "store"), "TRACKER_PROGRESS": "0"}
        env.pop("MLFLOW_TRACKING_URI", None)
        print(f"norm = {args.norm}, seeds {args.seeds}; each variant is experiments/mnist-fast.toml "
              "with one key changed\n")
        print("| variant | changed | `tracker sweep` wall time per run |")
        print("| --- | --- | --- |")
        for name, change in variants.items():
            path = variant_file(folder, name, {**recipe, **change}, args.seeds)
            seconds, _ = timed(["sweep", str(path), "--data-dir", str(Path(args.data_dir).resolve())], env)
            per_run = seconds / len(args.seeds)  # a failed run fails the sweep, and timed exits
            what = ", ".join(f"{k} = {json.dumps(v)}" for k, v in change.items()) or "none"
            print(f"| {name} | {what} | {per_run:.1f} s |", flush=True)
        by = ",".join(OFF)
        _, table = timed(["compare", "--experiment", "mnist-fast-ablation", "--by", by,
                          "--format", "markdown"], env)
        print(f"\n`tracker compare --experiment mnist-fast-ablation --by {by} --format markdown`:\n")
        print(table.stdout)


if __name__ == "__main__":
    main()
