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
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.servers import MlflowServer  # noqa: E402


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; utime, stime are fields 11, 12 after the name
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


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


def one(cfg, tracked: bool, server_pgid: int) -> dict:
    """Times of one job: training wall, total, tracking calls on the training thread, the
    sender thread's CPU, and the server's CPU while training."""
    import json

    from tracker import job, tracking

    t0, cpu0 = time.perf_counter(), group_cpu(server_pgid)
    p = job.prepare(cfg)
    if tracked:
        run = tracking.start_run(cfg.experiment, cfg.name, {"tracker.kind": "train"})
        setup = lambda: (run.log_params(p.params), run.log_text(job.summary_text(cfg, p.model), "summary.txt"),  # noqa: E731
                         run.log_text(json.dumps(p.params, indent=2), "config/resolved.json"))
    else:
        run, setup = Untracked(), (lambda: None)
    trained = {}
    finish = run.finish_with_model

    def finish_timed(model, example):  # the end of training: the server's CPU so far
        trained["server_cpu"] = group_cpu(server_pgid) - cpu0
        return finish(model, example)

    run.finish_with_model = finish_timed
    job._train_into(p, run, setup, None)
    total = time.perf_counter() - t0
    tags = run.tags if not tracked else tracking.get_run(run.run_id).data.tags
    return {"wall": float(tags["tracker.wall_s"]), "total": total, "calls": float(tags["tracker.tracking_s"]),
            "sender_cpu": getattr(run, "send_cpu_seconds", 0.0), "server_cpu": trained["server_cpu"]}


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
        pgid = server.proc.pid
        one(make_config({**dataclasses.asdict(cfg), "epochs": 1}), False, pgid)  # warm-up, untimed
        on, off = [], []
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            for tracked in order:
                t = one(cfg, tracked, pgid)
                (on if tracked else off).append(t)
                print(f"  round {r + 1} tracking {'on ' if tracked else 'off'}: training {t['wall']:7.2f} s "
                      f"(training thread in tracking calls {t['calls']:5.2f} s, sender thread CPU "
                      f"{t['sender_cpu']:5.2f} s, server CPU {t['server_cpu']:5.2f} s), total {t['total']:7.2f} s",
                      flush=True)
        med = lambda rows, k: statistics.median(x[k] for x in rows)  # noqa: E731
        w_on, w_off = med(on, "wall"), med(off, "wall")
        taken = med(on, "sender_cpu") + med(on, "server_cpu") - med(off, "server_cpu")
        print(f"training wall, median: on {w_on:.2f} s, off {w_off:.2f} s -> {(w_on / w_off - 1):+.2%} "
              f"(epoch-to-epoch drift on this machine is larger than the target)")
        print(f"CPU used by tracking while training: sender {med(on, 'sender_cpu'):.2f} s + server "
              f"{med(on, 'server_cpu'):.2f} s - server idle {med(off, 'server_cpu'):.2f} s = {taken:.2f} s "
              f"-> at most {taken / w_off:.2%} of the training's wall time; the training thread waited "
              f"{med(on, 'calls'):.2f} s on tracking calls")
        model_cost = med(on, "total") - med(on, "wall") - (med(off, "total") - med(off, "wall"))
        print(f"model logging at the end (pt2 flavor, signature, example): {model_cost:.2f} s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
