"""Shared test helpers: CLI arguments, a client on the test store, runs logged into it,
hand-made run records with the comparison `tracker compare` makes of them (no store), and a
fake torch.cuda."""
from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

from click.testing import CliRunner

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets"  # beside the clone
# each condition's best test accuracy per seed (1, 2, 3): the hand-made experiment of the
# compare, report and study tests; group has one seed
BEST = {"batch": [0.990, 0.985, 0.988], "layer": [0.975, 0.970, 0.978], "group": [0.960]}


def sets(overrides: dict) -> list[str]:
    """--set arguments for the CLI, TOML-quoted."""
    out = []
    for k, v in overrides.items():
        if isinstance(v, bool):
            v = str(v).lower()
        elif isinstance(v, str):
            v = f'"{v}"'
        out += ["--set", f"{k}={v}"]
    return out


def store_client(store: str | os.PathLike | None = None):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{store or os.environ['TRACKER_STORE']}/mlflow.db")


def all_runs(store: str | os.PathLike | None = None) -> list:
    """Every run in the test store; none when the store was never created."""
    db = Path(store or os.environ["TRACKER_STORE"]) / "mlflow.db"
    if not db.exists():
        return []
    c = store_client(store)
    ids = [e.experiment_id for e in c.search_experiments()]
    return list(c.search_runs(ids)) if ids else []


def without_conditions(runs: list) -> list:
    """The runs but the runs of a sweep's condition curves (tracker/runs/conditions.py): a
    sweep's parent and children, and runs outside sweeps."""
    from tracker import names

    return [r for r in runs if r.data.tags.get(names.KIND) != names.CONDITION_KIND]


def cli(*args: str, env: dict | None = None):
    """Run the tracker CLI in-process; returns click's Result."""
    from tracker.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def records(values: dict[str, list[float]], extra: list | None = None) -> list:
    """Hand-made training runs of a sweep over norm and seed: the final test accuracies of each
    norm's seeds (1, 2, ...); `extra` runs (RunRecords) come after them."""
    from tracker import names
    from tracker.tracking.records import RunRecord

    out = []
    for norm, accs in values.items():
        for seed, acc in enumerate(accs, 1):
            out.append(RunRecord(f"{norm}-{seed}", f"{norm}-seed{seed}", "FINISHED",
                                 params={"norm": norm, "seed": str(seed), "epochs": "2", "params_total": "1000"},
                                 metrics={names.TEST_ACC: acc, names.TEST_ACC_BEST: acc, names.TRAIN_ACC_BEST: acc,
                                          names.EPOCH_TIME_MEAN: 1.0},
                                 tags={names.KIND: names.TRAIN, names.GRID_KEYS: "norm,seed"},
                                 start_time=len(out)))
    return out + (extra or [])


def comparison(values: dict[str, list[float]], study=None, extra: list | None = None):
    """`compare` on hand-made runs (records), without a store: the Comparison it returns."""
    from tracker.results.aggregate import aggregate
    from tracker.results.compare import Comparison
    from tracker.results.counted import count
    from tracker.study import Study
    from tracker.tracking.records import keep

    study = study or Study()
    found = keep(records(values, extra), "hand-made", None)
    counted = count(found, (), study.judged())
    rows, judging = aggregate(counted, study, found.grid)
    return Comparison(counted, rows, "hand-made", study, None, judging)


def log_run(c, exp: str, norm: str, seed: int, best: float, status: str = "FINISHED") -> str:
    """A training run logged into the store as tracker logs one, by hand: two epochs, the final
    test accuracy best - 0.002; returns its id."""
    from mlflow.entities import Metric, Param, RunTag

    run = c.create_run(exp, run_name=f"mnist-s8-{norm}-seed{seed}")
    rid = run.info.run_id
    metrics = {"test_acc_best": best, "train_acc_best": best - 0.01,
               "epoch_time_mean_s": 10.0 + seed}
    c.log_batch(rid, metrics=[Metric(k, v, 0, 2) for k, v in metrics.items()],
                params=[Param("norm", norm), Param("seed", str(seed)), Param("epochs", "2"),
                        Param("params_total", "47890")],
                tags=[RunTag("tracker.kind", "train")])
    for step, acc in ((1, best - 0.05), (2, best - 0.002)):
        c.log_batch(rid, metrics=[Metric("test_acc", acc, 0, step), Metric("test_loss", 1 - acc, 0, step)])
    c.set_terminated(rid, status)
    return rid


# hand-made records: no store

# the head of every small experiment file the integration tests write: one epoch of the tiny CPU model
TINY_FILE = """
dataset = "mnist"
arch = "mnist-small"
epochs = 1
batch_size = 32
dropout = 0.0
download = false
"""

_ids = itertools.count(1)


def record(params: dict | None = None, metrics: dict | None = None, status: str = "FINISHED",
           tags: dict | None = None, start: int | None = None, run_id: str | None = None,
           name: str | None = None):
    """A RunRecord as any path reads one; start defaults to the order the records were made."""
    from tracker.tracking.records import RunRecord

    n = next(_ids)
    return RunRecord(run_id or f"run{n:04d}", name or f"run-{n}", status, dict(params or {}),
                     dict(metrics or {}), dict(tags or {}), n * 1000 if start is None else start)


def tracker_run(norm: str, seed: int | None, final: float, status: str = "FINISHED", *,
                best: float | None = None, train: float | None = None, epoch_s: float = 10.0,
                metrics: dict | None = None, tags: dict | None = None, **params):
    """A run of tracker's own (its kind tag, its config's norm, seed, dataset and epochs): the final
    test accuracy `final`, its best epoch's `best` (default final), the training's best `train`."""
    config = {"dataset": "mnist", "arch": "mnist-small", "norm": norm, "epochs": "2",
              "params_total": "47890", **({"seed": str(seed)} if seed is not None else {})}
    config.update({k: str(v) for k, v in params.items()})
    values = {"test_acc": final, "test_acc_best": final if best is None else best,
              "train_acc_best": final + 0.005 if train is None else train, "epoch_time_mean_s": epoch_s,
              **(metrics or {})}
    return record(config, values, status, {"tracker.kind": "train", **(tags or {})},
                  name=f"mnist-mnist-small-{norm}-seed{seed}")


def runs_of(values: dict[str, list[float]], **params) -> list:
    """tracker runs of each norm, seeds 1, 2, ... with these final test accuracies."""
    return [tracker_run(norm, seed, v, **params) for norm, vs in values.items() for seed, v in enumerate(vs, 1)]


def compared(runs, study=None, by: tuple[str, ...] = (), options: dict | None = None,
             grid: dict | None = None, decisions: str | None = None, experiment: str = "hand",
             seed_param: str = "seed"):
    """tracker.results.compare.compare on these records, as if the store had held them: a sweep
    that declared `study` (None: none) over `grid`."""
    import pytest

    from tracker.results.compare import compare
    from tracker.tracking import query
    from tracker.tracking.records import Selection

    grid = {k: [str(v) for v in vs] for k, vs in (grid or {}).items()}
    found = Selection(list(runs), experiment, list(grid), None if study is None else study.as_json(),
                      grid, None, decisions)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(query, "select", lambda *args: found)
        return compare(experiment, None, by=by, options=options, seed_param=seed_param)


GiB = 1024 ** 3


class FakeCuda:
    """torch.cuda on a host with these GPUs (compute capability, free bytes each, one total),
    answering as torch 2.4 would (and refusing what it refuses), recording the calls that change
    state. No GPU here: the device paths run against this; on a GPU host benchmarks/gpu_check.sh
    runs the same code for real."""

    def __init__(self, monkeypatch, gpus=((8, 0), (8, 0)), free=(6 * GiB, 3 * GiB), total=16 * GiB):
        import torch

        self.gpus, self.free, self.total, self.current, self.calls = gpus, free, total, 0, []
        self.initialized = False  # a CUDA call made in this process already
        for name, fn in (("is_available", lambda: True), ("device_count", lambda: len(gpus)),
                         ("set_device", lambda d: self.calls.append(("set_device", d))),
                         ("set_per_process_memory_fraction", lambda f, d=None: self.calls.append(("fraction", f, d))),
                         ("mem_get_info", self.mem_get_info), ("memory_reserved", lambda d=None: 0),
                         ("device", self.device), ("is_bf16_supported", self.is_bf16_supported),
                         ("is_initialized", lambda: self.initialized),
                         ("get_device_capability", lambda d=None: self.gpus[self.index(d)]),
                         ("get_device_properties", self.properties)):
            monkeypatch.setattr(torch.cuda, name, fn)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)

    def index(self, d) -> int:
        import torch

        return d.index if isinstance(d, torch.device) else self.current if d is None else d

    def mem_get_info(self, device=None):
        if not isinstance(device, int):  # torch 2.4: a device without an index raises
            raise ValueError("Expected a torch.device with a specified index or an integer")
        return self.free[device], self.total

    def properties(self, d):
        from types import SimpleNamespace

        major, minor = self.gpus[self.index(d)]
        return SimpleNamespace(total_memory=self.total, major=major, minor=minor)

    @contextlib.contextmanager
    def device(self, d):
        before, self.current = self.current, self.index(d)
        try:
            yield
        finally:
            self.current = before

    def is_bf16_supported(self, including_emulation=True):
        """Asked of the current device: native from compute capability 8, else emulated."""
        return self.gpus[self.current][0] >= 8 or including_emulation


# the promise of docs/deployment.md ("What runs where"): a run on a GPU in full fp32 (tf32 = false)
# and its model on the CPU give every image the same class but one whose two top probabilities lie
# closer than this (float rounding in another order may flip it); a run on the CPU, exactly the same
TIE = 1e-4


def may_differ(params: dict, probabilities) -> set[int]:
    """The images on which a run (its params) and its model evaluated on the CPU may disagree:
    none when the run trained on the CPU, else its near-ties (the CPU's probabilities, TIE)."""
    import numpy as np

    if params["device_used"] == "cpu":
        return set()
    top = np.sort(np.asarray(probabilities), axis=1)[:, -2:]
    return set(np.flatnonzero(top[:, 1] - top[:, 0] < TIE).tolist())
