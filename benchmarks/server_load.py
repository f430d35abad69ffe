"""Load on one tracking server: N simulated runs at once through tracker's own run client.

    .venv/bin/python benchmarks/server_load.py --n 8 32 128 --epochs 10 --epoch-seconds 2 5 --backends sqlite pg-s3 --fault pg
    .venv/bin/python benchmarks/server_load.py --n 8 --epochs 3 --fault-n 8 --fault-seconds 10   # smoke run

Each simulated run is `tracker.tracking.live.start_run` (its sender thread, its outbox) with
no training: per epoch it sleeps a random --epoch-seconds, then logs the epoch's metrics
(names.EPOCH_METRICS + RUNNING_METRICS, one `log_metrics(..., heartbeat=True)`) and a
--artifact-kb checkpoint (`log_artifact(path, "checkpoints")`); at the end `flush(wait=120)`
and `end("FINISHED")`. The N runs are threads split over --procs processes. Backends, each
started here on 127.0.0.1 (tracker/testkit/servers.py): `sqlite` (mlflow server, SQLite,
artifacts on disk, 1 worker) and `pg-s3` (PostgreSQL + moto's S3, 4 workers: the compose
topology).

Measured in the run processes: HTTP requests answered per second, and the latency of each
delivered call (`live.apply_op` wrapped: one log-batch or one artifact upload, outbox replays
included). Then every metric of every run is read back through the REST API (get-history per
run and key): lost = logged (step, value) pairs not found, duplicated = extra entries.
Fault: in the --fault-n case on pg-s3, PostgreSQL (--fault pg) or the mlflow server (--fault
server) is stopped for --fault-seconds once 30% of the paced epochs have gone by.
"""
from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tracker.testkit.servers import S3_ENV, MlflowServer, MotoS3, Postgres, stack_flags


def simulate(conn, go, done, url: str, experiment: str, indexes: list[int], args, store: str) -> None:
    """One run process: its share of the runs, one thread each; the result goes back on conn."""
    os.environ.update(MLFLOW_TRACKING_URI=url, TRACKER_STORE=store, TRACKER_PROGRESS="0",
                      MLFLOW_HTTP_POOL_MAXSIZE=str(2 * len(indexes) + 4))  # a pool per run, as in real runs
    sys.stdout = open(os.devnull, "w")  # mlflow prints a link per ended run
    import requests.adapters

    from tracker.settings import apply_mlflow_env

    apply_mlflow_env()  # as the CLI sets it before mlflow is imported: bounded calls and retries
    from tracker import names
    from tracker.tracking import live, outbox

    answered, buffered, lat = itertools.count(), itertools.count(), []
    send, apply_op, append = requests.adapters.HTTPAdapter.send, live.apply_op, outbox.Outbox.append

    def counted_send(self, *a, **k):
        response = send(self, *a, **k)
        next(answered)
        return response

    def timed_apply(c, box, op, rebuild=None):
        t = time.perf_counter()
        apply_op(c, box, op, rebuild)
        lat.append((op["op"], time.perf_counter() - t))  # delivered calls only

    def counted_append(self, op):
        next(buffered)
        append(self, op)

    requests.adapters.HTTPAdapter.send = counted_send
    live.apply_op = timed_apply
    outbox.Outbox.append = counted_append
    keys = names.EPOCH_METRICS + names.RUNNING_METRICS
    logged, errors, starts, ends, lags = {}, [], [], [], []
    blob = Path(store) / "ckpt"
    blob.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> None:
        rng = random.Random(i)
        try:
            run = live.start_run(experiment, f"sim-{i:03d}", {"tracker.kind": "load-sim"})
            starts.append(time.time())
            run.log_params({"index": i, "epochs": args.epochs})
            values = logged[run.run_id] = []
            ckpt = blob / f"{i}.pt"
            for epoch in range(args.epochs):
                time.sleep(rng.uniform(*args.epoch_seconds))  # the epoch's training
                values.append([rng.random() for _ in keys])
                run.log_metrics(epoch, dict(zip(keys, values[-1])), heartbeat=True)
                ckpt.with_suffix(".tmp").write_bytes(rng.randbytes(args.artifact_kb * 1024))
                os.replace(ckpt.with_suffix(".tmp"), ckpt)  # atomic, like tracker's checkpoints
                run.log_artifact(ckpt, "checkpoints")
                with done.get_lock():
                    done.value += 1
            last = time.time()
            if not run.flush(wait=120):
                errors.append(f"run {i}: {run.buffered} calls still buffered after 120 s")
            run.end("FINISHED")
            lags.append(time.time() - last)  # the sender's backlog when the epochs were over
        except Exception as e:
            errors.append(f"run {i}: {e.__class__.__name__}: {e}")
        ends.append(time.time())

    conn.send("ready")
    go.wait()
    threads = [threading.Thread(target=one, args=(i,)) for i in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn.send({"answered": next(answered), "buffered": next(buffered), "lat": lat, "keys": keys,
               "logged": logged, "errors": errors, "end": max(ends), "start": max(starts, default=0),
               "lag": max(lags, default=0)})


def restart(what, seconds: float) -> None:
    """Stop PostgreSQL (fast shutdown, data kept) or the mlflow server; start it again."""
    if isinstance(what, MlflowServer):
        what.stop()
        time.sleep(seconds)
        what.start()
        return
    what.restart(seconds)


def rest(url: str, path: str, **params) -> dict:
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(params)}",
                                timeout=60) as r:
        return json.loads(r.read())


def history(url: str, run_id: str, key: str) -> list[dict]:
    out, token = [], None
    while True:
        page = rest(url, "metrics/get-history", run_id=run_id, metric_key=key, max_results=1000,
                    **({"page_token": token} if token else {}))
        out += page.get("metrics", [])
        token = page.get("next_page_token")
        if not token:
            return out


def check(url: str, keys: list[str], logged: dict) -> dict:
    """Every logged (step, value) of every run, read back through the REST API."""
    def one(item):
        run_id, values = item
        lost = dup = 0
        for k, key in enumerate(keys):
            got = {}
            for m in history(url, run_id, key):
                got.setdefault(int(m.get("step", 0)), []).append(float(m["value"]))
            for step, row in enumerate(values):
                found = got.pop(step, [])
                lost += row[k] not in found
                dup += max(0, len(found) - 1)
            dup += sum(len(v) for v in got.values())  # steps never logged
        finished = rest(url, "runs/get", run_id=run_id)["run"]["info"]["status"] == "FINISHED"
        return lost, dup, finished

    with ThreadPoolExecutor(8) as pool:
        res = list(pool.map(one, logged.items()))
    return {"checked": sum(len(v) for v in logged.values()) * len(keys),
            "lost": sum(r[0] for r in res), "dup": sum(r[1] for r in res),
            "unfinished": sum(not r[2] for r in res)}


def case(url: str, backend: str, n: int, args, tmp: Path, fault=None) -> dict:
    ctx = mp.get_context("spawn")
    go, done, procs, pipes = ctx.Event(), ctx.Value("i", 0), [], []
    shares = [list(range(n))[p::min(args.procs, n)] for p in range(min(args.procs, n))]
    for p, share in enumerate(shares):
        mine, theirs = ctx.Pipe(duplex=False)
        procs.append(ctx.Process(target=simulate, args=(theirs, go, done, url, f"load-{backend}-{n}", share,
                                                       args, str(tmp / f"store-{backend}-{n}-{p}"))))
        procs[-1].start()
        pipes.append(mine)
    for pipe in pipes:
        assert pipe.recv() == "ready"
    paced = args.epochs * sum(args.epoch_seconds) / 2
    t0 = time.time()
    go.set()
    down = None
    if fault is not None:
        while done.value < 0.3 * n * args.epochs:  # 30% of all epochs logged
            time.sleep(0.2)
        down = time.time() - t0
        restart(fault, args.fault_seconds)
        down = (down, time.time() - t0)
    results = [pipe.recv() for pipe in pipes]
    for p in procs:
        p.join()
    wall = max(r["end"] for r in results) - t0
    lat = sorted(s for r in results for _, s in r["lat"])
    logged = {k: v for r in results for k, v in r["logged"].items()}
    row = {"backend": backend, "n": n, "rps": sum(r["answered"] for r in results) / wall,
           "p50": 1000 * lat[len(lat) // 2], "p99": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
           "calls": len(lat), "wall": wall, "start": max(r["start"] for r in results) - t0,
           "lag": max(r["lag"] for r in results), "paced": paced, "down": down,
           "offered": n * 2 / (sum(args.epoch_seconds) / 2),
           "buffered": sum(r["buffered"] for r in results),
           "errors": [e for r in results for e in r["errors"]]}
    row.update(check(url, list(results[0]["keys"]), logged))
    row["lost"] += (n - len(logged)) * args.epochs * len(results[0]["keys"])  # runs that never started
    by_kind = {}
    for r in results:
        for kind, s in r["lat"]:
            by_kind.setdefault(kind, []).append(s)
    row["kinds"] = {k: (len(v), 1000 * statistics.median(v)) for k, v in by_kind.items()}
    return row


def stack(backend: str, tmp: Path, db_pool: int):
    """The servers for one backend; the last one is the mlflow server. MLflow's default pool (5 +
    10 connections per server worker) wedges under load: log-batch holds one connection and opens
    a nested session for a second, so 15 concurrent calls out of uvicorn's 40 threads wait forever."""
    log, pool = tmp / f"mlflow-{backend}.log", {}
    if db_pool:  # room for every thread's two connections
        pool = {"MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "20", "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": str(db_pool - 20)}
    if backend == "sqlite":
        return [MlflowServer(f"sqlite:///{tmp}/mlflow.db", str(tmp / "artifacts"), log=log, env=pool).start()]
    pg, s3 = Postgres().start(), MotoS3("mlflow").start()
    if db_pool:  # 4 workers x db_pool, above PostgreSQL's default 100
        with __import__("psycopg").connect(host="127.0.0.1", port=pg.port, user="tracker", dbname="mlflow",
                                           autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {4 * db_pool + 20}")
        pg.restart()
    flags = stack_flags(pg.uri.replace("postgresql://", "postgresql+psycopg://"), s3.bucket)
    server = MlflowServer(flags["--backend-store-uri"], flags["--artifacts-destination"], log=log,
                          extra=["--serve-artifacts", "--workers", "4"],  # click keeps the last --workers
                          env={**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3.url, **pool})
    return [pg, s3, server.start()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[8, 32, 128], help="runs at once (default: 8 32 128)")
    ap.add_argument("--epochs", type=int, default=10, help="epochs per run (default: 10)")
    ap.add_argument("--epoch-seconds", type=float, nargs=2, default=[2.0, 5.0], metavar=("LO", "HI"),
                    help="each epoch lasts uniform(LO, HI) s (default: 2 5)")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "pg-s3"], choices=["sqlite", "pg-s3"],
                    help="default: sqlite pg-s3")
    ap.add_argument("--fault", choices=["pg", "server", "none"], default="pg",
                    help="what to stop in the --fault-n case on pg-s3 (default: pg)")
    ap.add_argument("--fault-n", type=int, default=32, help="the N whose pg-s3 case has the fault (default: 32)")
    ap.add_argument("--fault-seconds", type=float, default=30, help="how long it stays down (default: 30)")
    ap.add_argument("--procs", type=int, default=4, help="processes the runs are split over (default: 4)")
    ap.add_argument("--artifact-kb", type=int, default=200, help="checkpoint size per epoch (default: 200)")
    ap.add_argument("--db-pool", type=int, default=80,
                    help="SQLAlchemy connections per server worker, pool + overflow (default: 80; 0: "
                         "mlflow's 5 + 10, which wedges at N = 32)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="server-load-"))
    rows = []
    for backend in args.backends:
        servers = stack(backend, tmp, args.db_pool)
        try:
            for n in args.n:
                fault = None
                if backend == "pg-s3" and n == args.fault_n and args.fault != "none":
                    fault = servers[0] if args.fault == "pg" else servers[-1]
                rows.append(case(servers[-1].url, backend, n, args, tmp, fault))
                r = rows[-1]
                print(f"{backend} N={n}: {r['calls']} calls {r['kinds']}, offered {r['offered']:.1f} req/s "
                      f"paced {r['paced']:.0f} s, last run started {r['start']:.1f} s, end lag {r['lag']:.1f} s, wall {r['wall']:.1f} s, buffered {r['buffered']}, "
                      f"unfinished {r['unfinished']}, down {r['down']}, errors {r['errors'][:3]}", flush=True)
        finally:
            for s in reversed(servers):
                s.stop()
    print(f"\nserver logs: {tmp}\n")
    print("| backend | N | requests/s | p50 ms | p99 ms | calls | metrics checked | lost | duplicated | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        name = r["backend"] + (f" ({args.fault} down {args.fault_seconds:.0f} s)" if r["down"] else "")
        print(f"| {name} | {r['n']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['calls']} | "
              f"{r['checked']} | {r['lost']} | {r['dup']} | {r['wall']:.1f} |")


if __name__ == "__main__":
    main()
