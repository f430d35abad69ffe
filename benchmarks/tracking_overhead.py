"""`tracker train` with tracking against a real local `mlflow server`, against the same job with
tracking off, interleaved in one process.

    .venv/bin/python benchmarks/tracking_overhead.py --data-dir ../shared/datasets [--epochs 5] [--rounds 2]

Both contenders run tracker's own job code (`job.prepare` + `job._train_into`: same data,
model, checkpoints and seed). "On" logs to the server through `tracking.Run`; "off" swaps in a
run object whose calls do nothing. Reported:
- training wall time (`tracker.wall_s`: params, summary, every epoch with its metrics batch and
  checkpoint artifacts, the curves figure), on against off: the overhead while training;
- model logging at the end (MLflow's pt2 flavor), which only "on" pays, apart.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.servers import MlflowServer  # noqa: E402


class Untracked:
    """The Run interface with tracking off."""

    run_id, seconds, send_seconds = "untracked", 0.0, 0.0

    def __init__(self):
        self.tags: dict = {}

    def set_tags(self, tags: dict) -> None:
        self.tags.update(tags)

    def _nothing(self, *args, **kwargs) -> None:
        return None

    log_params = log_metrics = log_text = log_artifact = log_figure = end = wait = _nothing

    def logged_steps(self, key: str) -> set:
        return set()

    def finish_with_model(self, model, example) -> bool:
        return True


def one(cfg, tracked: bool) -> tuple[float, float, float]:
    """(training wall s, tracking calls s, total s) of one job."""
    import json

    from tracker import job, tracking

    t0 = time.perf_counter()
    p = job.prepare(cfg)
    if tracked:
        run = tracking.start_run(cfg.experiment, cfg.name, {"tracker.kind": "train"})
        setup = lambda: (run.log_params(p.params), run.log_text(job.summary_text(cfg, p.model), "summary.txt"),  # noqa: E731
                         run.log_text(json.dumps(p.params, indent=2), "config/resolved.json"))
    else:
        run, setup = Untracked(), (lambda: None)
    job._train_into(p, run, setup, None)
    total = time.perf_counter() - t0
    tags = run.tags if not tracked else tracking.get_run(run.run_id).data.tags
    return float(tags["tracker.wall_s"]), float(tags["tracker.tracking_s"]), total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="config overrides, key=value")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="trk-bench-"))
    os.environ.update(TRACKER_STORE=str(tmp / "store"), TRACKER_PROGRESS="0")
    server = MlflowServer(f"sqlite:///{tmp}/mlflow.db", str(tmp / "artifacts"), log=tmp / "server.log").start()
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    try:
        from tracker.config import make_config, parse_overrides, read_toml

        base = read_toml(str(ROOT / "experiments" / "mnist-demo.toml"))
        base.pop("grid", None)
        cfg = make_config({**base, "epochs": args.epochs, "data_dir": args.data_dir,
                           "download": False, "experiment": "overhead", **parse_overrides(tuple(args.set))})
        import torch

        print(f"{cfg.arch} {cfg.norm} on {cfg.dataset}, {cfg.epochs} epochs, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads; server {server.url} (SQLite, 1 worker)")
        on, off = [], []
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            for tracked in order:
                wall, calls, total = one(cfg, tracked)
                (on if tracked else off).append((wall, calls, total))
                print(f"  round {r + 1} tracking {'on ' if tracked else 'off'}: training {wall:7.2f} s, "
                      f"in tracking calls {calls:5.2f} s, total {total:7.2f} s", flush=True)
        med = lambda rows, i: statistics.median(x[i] for x in rows)  # noqa: E731
        w_on, w_off = med(on, 0), med(off, 0)
        model_cost = med([(t - w,) for w, _, t in on], 0) - med([(t - w,) for w, _, t in off], 0)
        print(f"training wall, median: on {w_on:.2f} s, off {w_off:.2f} s -> "
              f"{(w_on / w_off - 1):+.2%} (time inside tracking calls: {med(on, 1):.2f} s = "
              f"{med(on, 1) / w_on:.2%})")
        print(f"model logging at the end (pt2 flavor, signature, example): {model_cost:.2f} s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
