"""Issue 23's figures: how many seeds an adaptive plan (--until-decided, looks 3, 5, 10) uses
against a fixed number of seeds per condition with the same chance of the right verdict, for
the seed-to-seed spread measured on mnist-demo; then one real adaptive sweep on MNIST, where one
condition is clearly worse (a learning rate far too small) and two are close.

    .venv/bin/python benchmarks/seeds_to_verdict.py --data-dir ../shared/datasets

Part 1 simulates 2,000 studies per scenario through tracker's own results.sequential.step and
results.verdicts.judge (normal seed noise); part 2 runs `tracker sweep FILE --until-decided` in
a fresh store (--keep DIR keeps it) and prints each look as the sweep printed it.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tracker import experiment
from tracker.results.sequential import level, step
from tracker.results.verdicts import judge

ROOT = Path(__file__).resolve().parents[1]
LOOKS = (3, 5, 10)
SD = 0.0006  # mnist-demo: BN 99.44 ± 0.05, GN 99.43 ± 0.06, LN 99.37 ± 0.08 % (README)
MARGIN = 0.001  # the demo's declared margin, 0.1 points


def right(verdict: str, diff: float) -> bool:
    """The verdict a study should reach for a true difference `diff` (b minus a)."""
    if abs(diff) < MARGIN:
        return verdict == "equivalent"
    return verdict == ("better" if diff > 0 else "worse")


def adaptive(diff: float, rng, studies: int) -> tuple[float, float]:
    """(share of right verdicts, mean seeds per condition) of the plan, two conditions."""
    hits, seeds = 0, 0
    for _ in range(studies):
        a, b = rng.normal(0.994, SD, LOOKS[-1]), rng.normal(0.994 + diff, SD, LOOKS[-1])
        n = {"a": 0, "b": 0}
        while True:
            s = step(LOOKS, {"a": a[:n["a"]], "b": b[:n["b"]]}, "a", MARGIN, 0.05)
            if s.decided:
                break
            n.update(s.targets)
        hits += right(s.judgements["b"].verdict, diff)
        seeds += (n["a"] + n["b"]) / 2
    return hits / studies, seeds / studies


def fixed(diff: float, n: int, rng, studies: int) -> float:
    """The share of right verdicts with n seeds per condition, one look at alpha."""
    hits = 0
    for _ in range(studies):
        a, b = rng.normal(0.994, SD, n), rng.normal(0.994 + diff, SD, n)
        hits += right(judge({"a": a, "b": b}, "a", MARGIN, 0.05)["b"].verdict, diff)
    return hits / studies


def simulate(studies: int) -> None:
    print(f"seed sd {SD * 100:.2f} pp, margin ±{MARGIN * 100:.2f} pp, alpha 0.05, looks {LOOKS} "
          f"(per-look level {level(LOOKS):.4f}), {studies} studies per row\n")
    print("| true difference, pp | adaptive: right verdicts | adaptive: mean seeds per condition "
          "| fixed n with at least as many right verdicts | its right verdicts |")
    print("| --- | --- | --- | --- | --- |")
    for diff in (0.0, 0.05, 0.2, 0.3):
        rng = np.random.default_rng(int(diff * 1e5) + 1)
        share, seeds = adaptive(diff / 100, rng, studies)
        n, got = None, 0.0
        for candidate in range(3, 31):
            got = fixed(diff / 100, candidate, rng, studies)
            if got >= share:
                n = candidate
                break
        shown = f"{n}" if n else "more than 30"
        print(f"| {diff:+.2f} | {share:.1%} | {seeds:.1f} | {shown} | {got:.1%} |", flush=True)


STUDY = """
[grid]
lr = [0.01, 0.008, 0.0001]  # two close, one far too small

[study]
metric = "final"
baseline = "0.01"
margin = 0.1
looks = [3, 5, 10]
"""


def real(data: str, keep: str | None, epochs: int) -> None:
    base = experiment.read(ROOT / "experiments" / "mnist-demo.toml").base
    lines = [f"{k} = {v!r}".replace("'", '"').replace("True", "true").replace("False", "false")
             for k, v in base.items() if k not in ("experiment", "epochs", "lr")]
    folder = Path(keep or tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lr-study.toml"
    path.write_text("\n".join(lines) + f'\nepochs = {epochs}\nexperiment = "lr-study"\n' + STUDY)
    env = {"TRACKER_STORE": str(folder / "mlruns"), "TRACKER_PROGRESS": "0", "PATH": str(Path(sys.executable).parent)}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "tracker.cli", "sweep", str(path), "--until-decided",
                          "--data-dir", data], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    print(f"\n`tracker sweep lr-study.toml --until-decided` (mnist-demo's recipe, {epochs} epochs, "
          f"lr 0.01 / 0.008 / 0.0001): {time.perf_counter() - t:.0f} s\n")
    for line in out.stdout.splitlines():
        if re.match(r"(look \d|sweep .*: \d+ finished)", line) or "vs lr=" in line or line.startswith(" lr"):
            print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default="../shared/datasets", help="folder holding MNIST/raw")
    ap.add_argument("--studies", type=int, default=2000, help="simulated studies per row (default 2000)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs of each real run (default 5, the demo's)")
    ap.add_argument("--keep", default=None, help="keep the real sweep's store here (default: a temp folder)")
    ap.add_argument("--skip-real", action="store_true", help="only the simulation")
    args = ap.parse_args()
    simulate(args.studies)
    if not args.skip_real:
        real(str(Path(args.data_dir).resolve()), args.keep, args.epochs)


if __name__ == "__main__":
    main()
