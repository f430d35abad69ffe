"""Per-request latency of `mlflow server` under uvicorn (default) vs gunicorn, kept-alive.

    .venv/bin/python benchmarks/server_latency.py [--requests 200]

Both servers run at once on 127.0.0.1 with their own SQLite store; requests alternate between
them in rounds (interleaved), each a log_batch of 7 metrics, as tracker logs an epoch.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests

from tracker.testkit.servers import free_port
from tracker.tracking import server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    procs, sessions = {}, {}
    try:
        for engine in ("uvicorn", "gunicorn"):
            port = free_port()
            cmd = server.mlflow_command("127.0.0.1", port, f"sqlite:///{tmp}/{engine}.db",
                                        str(tmp / engine), 1, engine)
            procs[engine] = server.start(cmd, log=open(tmp / f"{engine}.log", "wb"))
            url = f"http://127.0.0.1:{port}"
            server.wait_healthy(url, procs[engine], 180)
            s = requests.Session()
            api = f"{url}/api/2.0/mlflow"
            exp = s.post(f"{api}/experiments/create", json={"name": "bench"}).json()["experiment_id"]
            run = s.post(f"{api}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
            sessions[engine] = (s, api, run)
        times = {e: [] for e in sessions}
        for i in range(args.requests):
            for engine, (s, api, run) in sessions.items():
                body = {"run_id": run, "metrics": [
                    {"key": k, "value": 0.5, "timestamp": int(time.time() * 1000), "step": i}
                    for k in ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time_s", "best")]}
                t = time.perf_counter()
                r = s.post(f"{api}/runs/log-batch", json=body)
                times[engine].append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
        med = {e: statistics.median(v) for e, v in times.items()}
        for e, v in times.items():
            print(f"{e:8s} median {med[e]:.1f} ms  p90 {sorted(v)[int(len(v) * 0.9)]:.1f} ms  (n={len(v)})")
        print(f"uvicorn / gunicorn latency ratio: {med['uvicorn'] / med['gunicorn']:.2f}")
        for engine, (s, api, _) in sessions.items():
            base = api.rsplit("/api/", 1)[0]
            code = requests.post(f"{api}/experiments/search", json={"max_results": 1},
                                 headers={"Host": "evil.example:80"}).status_code
            print(f"{engine}: a request with a foreign Host header gets HTTP {code} "
                  f"({'blocked by' if code in (400, 403) else 'not blocked:'} the host-validation middleware) [{base}]")
    finally:
        for p in procs.values():
            server.stop(p)


if __name__ == "__main__":
    main()
