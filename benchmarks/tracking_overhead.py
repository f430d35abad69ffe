"""`tracker train` with tracking against a real local `mlflow server`, against the same job with
tracking off, interleaved epoch by epoch in one process.

    .venv/bin/python benchmarks/tracking_overhead.py --data-dir ../shared/datasets [--epochs 5] [--rounds 4] [--control]

Each round prepares the job twice (same config, seed and model weights; one copy of the data)
and runs tracker's own job code on both, each in a thread of this process: "on" through
`job.train` (on its copy), which logs to the server; "off" through `job.train_into` with a
run object whose calls do nothing. They take turns, one at a time, and the order flips every
turn: this machine's speed drifts by more than the target within a minute, and two processes
of the same job differ by several percent, so the race stays in one process. A turn runs from
where one epoch's checkpoint is written to where the next one's is: the checkpoint, the
epoch's logging calls, then the next epoch's training and evaluation (the first turn opens
the run and its setup before epoch 1; the last ends where the model's export begins: the
run's last calls are delivered while it exports, and the training thread's wait for them, if
any is left, is counted below). So "on" pays for its calls where a real run pays for them:
its sender thread and the server work while its own next epoch trains. A turn that ends with calls still
in flight (whose cost would spill into the other's turn) is counted and reported. Each
contender keeps its own torch RNG across turns, so both train to the same metrics (checked).
Reported: the sum of each contender's turns, on against off; the server's CPU during each
one's turns; and the run's end, which only "on" pays, apart: model logging (the pt2 export),
with the delivery of the run's last calls beside it, then the wait for the figures, drawn
meanwhile in a process of their own (results/figures.py).
Beside the race, what tracking itself takes, measured on the tracked job and immune to the
machine's drift: the time its training thread spends on tracking (opening the run, params,
summary and config files, waiting for the sender at the end) plus the CPU its
sender thread and the server use beyond the untracked job's turns. On a machine whose cores
training keeps busy, that is the most tracking can add to the wall time.
Signal handling (job.SignalGuard) is off for both: it belongs to a main thread.
The two copies are not equal even untracked: here the copy prepared and started first ran
3 to 13% faster in 5-epoch rounds (`--control` races two untracked copies, A/A, and shows it),
and in short epochs the gap between copies reached tens of percent. So the tracked copy
alternates between the two slots round by round, and the rounds are read together: the
median of an even number of them, beside the control's.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from race_parts import NoSignals, Untracked, group_cpu

from tracker.testkit.servers import MlflowServer

ROOT = Path(__file__).resolve().parents[1]


class Race:
    """Contender threads that run only while it is their turn; the main thread deals the turns."""

    def __init__(self, server_pgid: int):
        self.cond = threading.Condition()
        self.turn: str | None = None
        self.done: set[str] = set()
        self.errors: dict[str, BaseException] = {}
        self.rng: dict = {}
        self.runs: dict = {}  # name -> live.Run
        self.turn_s: dict[str, list[float]] = {}
        self.server_cpu: dict[str, float] = {}
        self.in_flight: dict[str, list[int]] = {}  # turns (1-based) that ended with calls queued
        self.model_s = 0.0
        self.figures_s = 0.0  # the wait for the figures after the model (drawn meanwhile, apart)
        self.sync_s = 0.0  # the tracked job's training thread, busy with tracking
        self.pgid = server_pgid

    def handover(self) -> None:
        """The calling contender's turn ends here; it goes on at its next turn."""
        import torch

        name = threading.current_thread().name
        run = self.runs.get(name)
        if run is not None and run.in_flight:
            self.in_flight.setdefault(name, []).append(len(self.turn_s[name]) + 1)
        self.rng[name] = torch.get_rng_state()
        with self.cond:
            self.turn = None
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.turn == name)
        torch.set_rng_state(self.rng[name])

    def start(self, name: str, target) -> None:
        def body():
            import torch

            with self.cond:
                self.cond.wait_for(lambda: self.turn == name)
            torch.set_rng_state(self.rng[name])
            try:
                target()
            except BaseException as e:  # raised again by the main thread, in deal
                self.errors[name] = e
            finally:
                with self.cond:
                    self.done.add(name)
                    self.turn = None
                    self.cond.notify_all()

        self.turn_s[name], self.server_cpu[name] = [], 0.0
        threading.Thread(target=body, name=name, daemon=True).start()

    def deal(self, name: str, timed: bool = True) -> None:
        if name in self.done:
            raise SystemExit(f"tracking {name}: the job ended before its turn")
        cpu, t = group_cpu(self.pgid), time.perf_counter()
        with self.cond:
            self.turn = name
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.turn is None)
        if name in self.errors:
            raise SystemExit(f"tracking {name}: {self.errors[name]!r}")
        if timed:
            self.turn_s[name].append(time.perf_counter() - t)
            self.server_cpu[name] += group_cpu(self.pgid) - cpu


def one_round(cfg, race: Race, tracked_first: bool, control: bool = False) -> dict:
    """One race. The copy prepared first also starts first and takes the first turn; which copy
    is tracked alternates by round, so that slot's own advantage cancels over rounds."""
    import torch

    from tracker.ml import checkpoint
    from tracker.runs import job
    from tracker.runs.drawing import Drawing
    from tracker.runs.prepare import prepare
    from tracker.tracking import live, store

    first = prepare(cfg)
    second = dataclasses.replace(prepare(cfg), train=first.train, test=first.test)  # one copy of the data
    p_on, p_off = (first, second) if tracked_first else (second, first)
    start_rng = torch.get_rng_state()  # both models are built; both train from here
    race.rng = {"on": start_rng, "off": start_rng}
    start_run, save, finish = live.start_run, checkpoint.save_atomic, live.Run.log_model
    train_into, figures_done = job.train_into, Drawing.paths

    def timed(fn):
        def call(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                race.sync_s += time.perf_counter() - t
        return call

    def opened(*args, **kwargs):
        run = timed(start_run)(*args, **kwargs)
        race.runs[threading.current_thread().name] = run
        return run

    def setup_timed(p, run, setup, state):  # params, summary, config files: the tracked job's
        return train_into(p, run, timed(setup) if isinstance(run, live.Run) else setup, state)

    def prepared(*args, **kwargs):  # job.train trains the copy prepared above
        return p_on

    def gated(state, path):
        if Path(path).name == checkpoint.LAST:  # an epoch's turn ends where its checkpoint begins
            race.handover()
        return save(state, path)

    def figures_waited(drawing):
        t = time.perf_counter()
        try:
            return figures_done(drawing)
        finally:
            if threading.current_thread().name == "on":
                race.figures_s = time.perf_counter() - t

    def timed_finish(self, *args, **kwargs):
        race.handover()  # training is over; model logging is timed apart
        t = time.perf_counter()
        ok = finish(self, *args, **kwargs)
        race.model_s = time.perf_counter() - t
        race.sync_s += self.seconds  # with its wait for the sender's last calls, during the export
        return ok

    class Off(Untracked):
        def log_model(self, *args, **kwargs) -> bool:
            race.handover()
            return True

    patched = {(live, "start_run"): opened, (checkpoint, "save_atomic"): gated,
               (live.Run, "log_model"): timed_finish, (job, "SignalGuard"): NoSignals,
               (job, "prepare"): prepared, (job, "train_into"): setup_timed,
               (Drawing, "paths"): figures_waited}  # timed apart, with the model logging
    originals = {key: getattr(*key) for key in patched}
    metrics = {}

    def on():
        if control:  # the A/A control: "on" untracked too
            job.train_into(p_on, Off(), lambda: None, None)
        else:
            metrics.update(store.get_run(job.train(cfg).run_id).metrics)

    try:
        for (owner, attr), value in patched.items():
            setattr(owner, attr, value)
        slots = ("on", "off") if tracked_first else ("off", "on")
        targets = {"on": on, "off": lambda: job.train_into(p_off, Off(), lambda: None, None)}
        for name in slots:
            race.start(name, targets[name])
        for turn in range(cfg.epochs + 1):  # open + epoch 1, ..., epoch E, the end of training
            for name in slots if turn % 2 == 0 else slots[::-1]:
                race.deal(name)
        for name in slots:  # model logging, alone
            race.deal(name, timed=False)
    finally:
        for (owner, attr), value in originals.items():
            setattr(owner, attr, value)
    same = all(torch.equal(a, b) for a, b in zip(p_on.model.state_dict().values(),
                                                 p_off.model.state_dict().values()))
    run = race.runs.get("on")
    return {"same": same, "sender_cpu": run.send_cpu_seconds if run else 0.0, "acc": metrics.get("test_acc", 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=4, help="an even number: each slot tracked as often")
    ap.add_argument("--set", action="append", default=[], help="config overrides, key=value")
    ap.add_argument("--control", action="store_true",
                    help="A/A: both contenders untracked, to read this machine's noise between two "
                         "copies of the same job. Default: off.")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="trk-bench-"))
    os.environ.update(TRACKER_STORE=str(tmp / "store"), TRACKER_PROGRESS="0")
    server = MlflowServer(f"sqlite:///{tmp}/mlflow.db", str(tmp / "artifacts"), log=tmp / "server.log").start()
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    try:
        import torch

        from tracker.settings import apply_mlflow_env

        apply_mlflow_env()  # as the CLI sets it before mlflow is imported: no telemetry, bounded calls
        from tracker import experiment
        from tracker.config import make_config, parse_overrides
        from tracker.runs import job

        base = experiment.read(str(ROOT / "experiments" / "mnist-demo.toml")).base
        cfg = make_config({**base, "epochs": args.epochs, "data_dir": args.data_dir, "download": False,
                           "experiment": "overhead", **parse_overrides(tuple(args.set))})
        warm = make_config({**dataclasses.asdict(cfg), "epochs": 1, "train_limit": 1000, "experiment": "warm-up"})
        job.train(warm)  # a server that has served a whole run before, as a user's has
        print(f"{cfg.arch} {cfg.norm} on {cfg.dataset}, {cfg.epochs} epochs, torch {torch.__version__}, "
              f"{os.cpu_count()} cores; server {server.url} (SQLite, 1 worker); {args.rounds} rounds, "
              f"turns interleaved in one process{'; CONTROL: both untracked' if args.control else ''}", flush=True)
        ratios, accounted = [], []
        for r in range(args.rounds):
            race = Race(server.proc.pid)
            out = one_round(cfg, race, r % 2 == 0, args.control)
            on, off = sum(race.turn_s["on"]), sum(race.turn_s["off"])
            ratios.append(on / off)
            cost = race.sync_s + out["sender_cpu"] + max(0.0, race.server_cpu["on"] - race.server_cpu["off"])
            accounted.append(cost / off)
            tail = "" if args.control else f" (test_acc {out['acc']:.2%}); model logging {race.model_s:.2f} s, then the figures' wait {race.figures_s:.2f} s"
            print(f"  round {r + 1} ({'on' if r % 2 == 0 else 'off'} first): on {on:7.2f} s, off {off:7.2f} s -> {on / off - 1:+.2%}; server CPU in "
                  f"on's turns {race.server_cpu['on']:.2f} s, in off's {race.server_cpu['off']:.2f} s; sender "
                  f"thread CPU {out['sender_cpu']:.2f} s; turns ending with calls in flight: "
                  f"{race.in_flight.get('on', 'none')}; same final weights: {out['same']}{tail}", flush=True)
            if not args.control:
                print(f"    accounted: training thread in tracking {race.sync_s:.2f} s + sender thread CPU "
                      f"{out['sender_cpu']:.2f} s + server CPU beyond off's turns "
                      f"{max(0.0, race.server_cpu['on'] - race.server_cpu['off']):.2f} s = {cost:.2f} s "
                      f"-> {cost / off:.2%} of the untracked run", flush=True)
            print(f"    turns (open + epoch 1, epochs 2..{cfg.epochs}, end), on: "
                  f"{' '.join(f'{t:.2f}' for t in race.turn_s['on'])}; off: "
                  f"{' '.join(f'{t:.2f}' for t in race.turn_s['off'])}", flush=True)
        print(f"training wall, tracking on against off: {', '.join(f'{x - 1:+.2%}' for x in ratios)} by round, "
              f"median {statistics.median(ratios) - 1:+.2%}; target <= +1%")
        if not args.control:
            print(f"tracking's own time and CPU, by round: {', '.join(f'{x:.2%}' for x in accounted)}; "
                  f"largest {max(accounted):.2%}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
