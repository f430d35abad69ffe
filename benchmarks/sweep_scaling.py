"""Sweep throughput: local processes vs Ray tasks, all logging to one shared mlflow server.

    .venv/bin/python benchmarks/sweep_scaling.py --data-dir /work/shared/datasets
    .venv/bin/python benchmarks/sweep_scaling.py --runs 2 --train-limit 300 --epochs 1   # smoke run

One sweep (norm batch/layer/group x seeds 1-4 = 12 runs by default; mnist-small, the first
--train-limit training images, --epochs epochs) runs once per mode, each into its own
experiment on one `mlflow server` (SQLite, served artifacts, uvicorn, 1 worker) that the script
starts on 127.0.0.1:

    local --workers 1, local --workers 2          tracker sweep (the local executor)
    ray --cpus-per-run 2, ray --cpus-per-run 1    against a Ray head started here with --num-cpus 2

It prints, per mode, the wall time of the whole `tracker sweep` command (driver start-up, Ray
workers' imports and model logging included), runs per minute, the speed-up over
`--workers 1`, and the share of the runs' own time spent in tracking calls (their
`tracker.tracking_s` / `tracker.wall_s` tags); then the server's per-request cost: the median
and p90 of a kept-alive log-batch of 7 metrics, the call a run makes once per epoch (as in
benchmarks/server_latency.py); and ("calls") the HTTP requests one run of the sweep makes, by
kind, counted in-process: with the per-request cost, what sets how many runs one server serves. The Ray head is stopped through its own process group, never
`ray stop`, which would stop every Ray instance on the machine.

Each run keeps to its share of the cores: `--workers N` children get cores / N torch threads,
a Ray task gets --cpus-per-run (through OMP_NUM_THREADS, which ml.device.set_threads follows).
Results are in benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import requests

from tracker.settings import apply_mlflow_env
from tracker.testkit.servers import RayHead, free_port
from tracker.tracking import server

ROOT = Path(__file__).resolve().parents[1]

NORMS = ("batch", "layer", "group")
SWEEP = """
dataset = "mnist"
arch = "mnist-small"
epochs = {epochs}
batch_size = 128
train_limit = {train_limit}
test_limit = 2000
download = false
data_dir = "{data_dir}"

[grid]
norm = {norms}
seed = {seeds}
"""


def write_sweep(folder: Path, runs: int, epochs: int, train_limit: int, data_dir: str) -> tuple[Path, int]:
    norms = list(NORMS[:min(runs, len(NORMS))])
    seeds = list(range(1, math.ceil(runs / len(norms)) + 1))
    path = folder / "scaling.toml"
    path.write_text(SWEEP.format(epochs=epochs, train_limit=train_limit, data_dir=Path(data_dir).resolve(),
                                 norms=str(norms).replace("'", '"'), seeds=seeds))
    return path, len(norms) * len(seeds)


def tracking_share(url: str, experiment: str) -> float:
    """Time in tracking calls over the runs' wall time, summed over the mode's FINISHED runs."""
    os.environ["MLFLOW_TRACKING_URI"] = url
    apply_mlflow_env()  # as the CLI sets it before mlflow is imported
    from tracker.tracking import store

    runs = [r for r in store.search(experiment, "attributes.status = 'FINISHED'")
            if "tracker.tracking_s" in r.tags]
    return sum(float(r.tags["tracker.tracking_s"]) for r in runs) / max(
        sum(float(r.tags["tracker.wall_s"]) for r in runs), 1e-9)


def requests_per_run(url: str, config: Path, store: Path) -> tuple[Counter, int]:
    """The HTTP requests one run of the sweep makes to the server, by kind, counted in this
    process (its first grid point, into an experiment of its own); and how many of them the
    model logging at the end made."""
    import requests

    os.environ.update(MLFLOW_TRACKING_URI=url, TRACKER_STORE=str(store), TRACKER_PROGRESS="0")
    apply_mlflow_env()
    from tracker import experiment
    from tracker.runs import job, plan
    from tracker.tracking import live

    counts: Counter = Counter()
    send, finish = requests.Session.send, live.Run.log_model
    at_model = {}

    def counting(self, request, **kwargs):
        parts = urlparse(request.url)
        if parts.netloc != urlparse(url).netloc:  # not the server (MLflow's own telemetry, say)
            return send(self, request, **kwargs)
        path = parts.path
        kind = ("log-batch" if path.endswith("/runs/log-batch") else
                "artifact upload" if request.method == "PUT" else f"{request.method} {path.rsplit('/', 1)[-1]}")
        counts[kind] += 1
        return send(self, request, **kwargs)

    def finish_counted(self, *args, **kwargs):
        at_model["n"] = sum(counts.values())
        return finish(self, *args, **kwargs)

    requests.Session.send, live.Run.log_model = counting, finish_counted
    try:
        job.train(plan.plan(experiment.read(str(config)), extra={"experiment": "scaling-calls"}).points[0].cfg)
    finally:
        requests.Session.send, live.Run.log_model = send, finish
    return counts, sum(counts.values()) - at_model["n"]


def request_latency(url: str, n: int) -> tuple[float, float]:
    """Median and p90 ms of a kept-alive log-batch, on a run of its own."""
    s, api = requests.Session(), f"{url}/api/2.0/mlflow"
    exp = s.post(f"{api}/experiments/create", json={"name": "latency"}).json()["experiment_id"]
    run = s.post(f"{api}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
    times = []
    for i in range(n):
        body = {"run_id": run, "metrics": [{"key": k, "value": 0.5, "timestamp": int(time.time() * 1000),
                                            "step": i} for k in ("train_loss", "train_acc", "test_loss",
                                                                 "test_acc", "lr", "epoch_time_s", "best")]}
        t = time.perf_counter()
        s.post(f"{api}/runs/log-batch", json=body).raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[int(len(times) * 0.9)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=12, help="runs in the sweep (norms x seeds). Default: 12.")
    ap.add_argument("--train-limit", type=int, default=6000, help="training images per run. Default: 6000.")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per run. Default: 2.")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"),
                    help="folder holding MNIST/raw. Default: ../shared/datasets.")
    ap.add_argument("--modes", default="w1,w2,ray2,ray1,calls",
                    help="comma-separated subset of w1,w2,ray2,ray1,calls (the requests of one run). "
                         "Default: all five.")
    ap.add_argument("--requests", type=int, default=100, help="log-batch calls timed. Default: 100.")
    args = ap.parse_args()
    modes = args.modes.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="tracker-scaling-"))
    config, runs = write_sweep(tmp, args.runs, args.epochs, args.train_limit, args.data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = server.start(server.mlflow_command("127.0.0.1", port, f"sqlite:///{tmp}/server.db",
                                              str(tmp / "artifacts"), 1, "uvicorn"),
                        log=open(tmp / "server.log", "wb"))
    head = None
    rows = []
    try:
        server.wait_healthy(url, proc, 180)
        if any(m.startswith("ray") for m in modes):
            head = RayHead(cpus=2).start()
        flags = {"w1": ("local --workers 1", ["--workers", "1"]),
                 "w2": ("local --workers 2", ["--workers", "2"]),
                 "ray2": ("ray --cpus-per-run 2", ["--executor", "ray", "--cpus-per-run", "2"]),
                 "ray1": ("ray --cpus-per-run 1", ["--executor", "ray", "--cpus-per-run", "1"])}
        for mode in (m for m in modes if m in flags):
            label, extra = flags[mode]
            if mode.startswith("ray"):
                extra = [*extra, "--address", head.address]
            experiment = f"scaling-{mode}"
            env = {**os.environ, "MLFLOW_TRACKING_URI": url, "TRACKER_STORE": str(tmp / f"store-{mode}"),
                   "TRACKER_PROGRESS": "0"}
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "tracker.cli", "sweep", str(config),
                                  "--set", f'experiment="{experiment}"', *extra],
                                 env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if out.returncode != 0 or f"{runs} finished" not in out.stdout:
                sys.exit(f"{label}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
            rows.append((label, wall, tracking_share(url, experiment)))
            print(f"{label}: {wall:.1f} s", file=sys.stderr, flush=True)
        if "calls" in modes:
            calls, model_calls = requests_per_run(url, config, tmp / "store-calls")
        median, p90 = request_latency(url, args.requests)
    finally:
        if head is not None:
            head.stop()
        server.stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    base = next((wall for label, wall, _ in rows if label == "local --workers 1"), None)
    print(f"{runs} runs: mnist-small, {args.train_limit} training images, epochs={args.epochs}, "
          f"{os.cpu_count()} CPUs; one mlflow server (SQLite) on 127.0.0.1")
    print(f"{'mode':22s} {'wall s':>8s} {'runs/min':>9s} {'vs --workers 1':>15s} {'tracking share':>15s}")
    for label, wall, share in rows:
        ratio = f"{base / wall:.2f}x" if base else "-"
        print(f"{label:22s} {wall:8.1f} {runs / wall * 60:9.2f} {ratio:>15s} {share:15.2%}")
    print(f"server: log-batch (7 metrics, kept alive) median {median:.1f} ms, p90 {p90:.1f} ms "
          f"(n={args.requests})")
    if "calls" in modes:
        print(f"requests of one run ({args.epochs} epochs): {sum(calls.values())} in all, {model_calls} of them "
              f"logging the model at the end; by kind: " + ", ".join(f"{k} {n}" for k, n in calls.most_common()))


if __name__ == "__main__":
    main()
