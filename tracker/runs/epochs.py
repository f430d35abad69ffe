"""The epochs of one run: restore a checkpoint, train and evaluate each epoch, save it
atomically and log it, then the run's final figures. The loops themselves are in ml/train.py.

    tracker train experiments/mnist-demo.toml --data-dir ../shared/datasets
"""
from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass

import torch

from ..ml import checkpoint
from ..ml.data import EVAL_BATCH, Batches
from ..ml.device import watch_determinism
from ..ml.ema import EMA
from ..ml.train import evaluate, make_optimizer, make_scheduler, train_epoch
from ..results import per_epoch
from ..settings import epoch_lines
from ..signals import SignalGuard
from .. import names
from . import outcome_log
from .prepare import Prepared

METRICS = names.EPOCH_METRICS
VAL_METRICS = names.VAL_METRICS  # only when cfg.val_split > 0
EPOCH_LINE = (names.TRAIN_LOSS, names.TRAIN_ACC, names.TEST_LOSS, names.TEST_ACC)  # what an epoch prints


class Stopped(Exception):
    """An `after_epoch` hook ended the run after `epoch` (a pruned trial): the run ends KILLED
    with the hook's tags (runs/job.lifetime)."""

    def __init__(self, epoch: int, tags: dict[str, str]):
        super().__init__(f"stopped after epoch {epoch} by its hook")
        self.epoch, self.tags = epoch, tags
        self.run_id: str | None = None  # the run it stopped, once known


@dataclass
class Loop:
    """What the epochs need, built once: the model on its device, the batches, the optimizer."""
    model: torch.nn.Module
    step: torch.nn.Module  # the model, or its torch.compile'd form (same parameters)
    train: Batches
    test: Batches
    val: Batches | None
    ema: EMA | None
    optimizer: torch.optim.Optimizer
    scheduler: object
    per_batch: bool


def build(p: Prepared) -> Loop:
    cfg, device = p.cfg, p.device
    model = p.model.to(device)
    if p.channels_last:
        model = model.to(memory_format=torch.channels_last)
    batches = dict(dataset=cfg.dataset, device=device, channels_last=p.channels_last)
    train = Batches(p.train, batch_size=cfg.batch_size, shuffle=True, augment=cfg.augment,
                    seed=cfg.seed, **batches)
    test = Batches(p.test, batch_size=EVAL_BATCH, **batches)
    val = None if p.val is None else Batches(p.val, batch_size=EVAL_BATCH, **batches)
    optimizer = make_optimizer(cfg, model)
    scheduler, per_batch = make_scheduler(cfg, optimizer, len(train))
    return Loop(model, torch.compile(model) if cfg.compile else model, train, test, val,
                EMA(model, cfg.ema) if cfg.ema else None, optimizer, scheduler, per_batch)


def epoch_summary(history: dict, epoch: int) -> dict:
    """What an epoch logs, derived from the history alone (so it can be replayed)."""
    i = epoch - 1
    val = {}
    if names.VAL_ACC in history:  # the test accuracy a validation split selects: no peeking at test
        so_far = {k: history[k][:epoch] for k in (names.VAL_ACC, names.TEST_ACC)}
        val = {names.VAL_ACC_BEST: max(so_far[names.VAL_ACC]),
               names.TEST_ACC_AT_BEST_VAL: per_epoch.at_best_val(so_far)}
    return {**{k: history[k][i] for k in METRICS + VAL_METRICS if k in history}, **val,
            names.TEST_ACC_BEST: max(history[names.TEST_ACC][:epoch]),
            names.TRAIN_ACC_BEST: max(history[names.TRAIN_ACC][:epoch]),
            names.EPOCH_TIME_MEAN: sum(history[names.EPOCH_TIME][:epoch]) / epoch}


def restore(loop: Loop, state: dict, run) -> tuple[dict, int]:
    """A checkpoint's weights, optimizer, schedule and RNG states; the epochs a hard kill left
    unlogged are logged from its history. Returns (history, first epoch to train)."""
    loop.model.load_state_dict(state["model"])
    loop.optimizer.load_state_dict(state["optimizer"])
    if loop.scheduler is not None:
        loop.scheduler.load_state_dict(state["scheduler"])
    checkpoint.restore_rng(state["rng"], loop.train.generator, loop.train.device)
    if loop.ema is not None:
        loop.ema.load_state_dict(state["ema"])
    history, start = state["history"], state["epoch"] + 1
    logged = run.logged_steps(names.TEST_ACC)
    for epoch in range(1, start):
        if epoch not in logged:
            run.log_metrics(epoch, epoch_summary(history, epoch))
    return history, start


def train_one(p: Prepared, loop: Loop, epoch: int) -> dict:
    """One epoch: train, then evaluate the weights that are judged (the EMA's when on)."""
    cfg = p.cfg
    t0 = time.perf_counter()
    lr = loop.optimizer.param_groups[0]["lr"]
    metrics = train_epoch(loop.step, loop.train, loop.optimizer, loop.scheduler, loop.per_batch,
                          p.precision, cfg.stop_on_nan, desc=f"{cfg.name} epoch {epoch}/{cfg.epochs}",
                          label_smoothing=cfg.label_smoothing, ema=loop.ema)
    # images/s of the training pass alone (the loss and accuracy above already synced the device)
    metrics[names.IMAGES_PER_S] = len(loop.train.labels) / (time.perf_counter() - t0)
    judged = loop.step if loop.ema is None else loop.ema.model
    final = epoch == cfg.epochs
    tta = cfg.tta and final  # 5x an evaluation's cost: paid once, for the figure reported
    metrics.update(evaluate(judged, loop.test, p.precision, tta, keep=final))
    if loop.val is not None:
        metrics.update(evaluate(judged, loop.val, p.precision, tta, prefix="val"))
    metrics.update({names.LR: lr, names.EPOCH_TIME: time.perf_counter() - t0})
    return metrics


def peak_memory(device) -> dict[str, float]:
    """The process's peak resident memory (MiB), and on a GPU the peak the run allocated there."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    out = {names.PEAK_RSS: rss / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)}
    if device.type == "cuda":
        out[names.PEAK_GPU] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    return out


def save(p: Prepared, loop: Loop, run, history: dict, epoch: int, improved: bool) -> None:
    """The epoch's checkpoint, then its metrics: an epoch's metrics on the server mean its
    checkpoint is there too, so a resume on another node never re-trains a logged epoch."""
    state = {"epoch": epoch, "model": loop.model.state_dict(), "optimizer": loop.optimizer.state_dict(),
             "scheduler": loop.scheduler.state_dict() if loop.scheduler else {},
             "history": history, "config": dataclasses.asdict(p.cfg),
             "rng": checkpoint.rng_state(loop.train.generator, loop.train.device),
             **({} if loop.ema is None else {"ema": loop.ema.state_dict()})}
    folder = checkpoint.folder(run.run_id)
    run.log_artifact(checkpoint.save_atomic(state, folder / checkpoint.LAST), checkpoint.ARTIFACTS)
    run.log_metrics(epoch, epoch_summary(history, epoch), heartbeat=True)
    if improved:  # kept here each epoch; uploaded once, at the end (an upload a run, not an epoch)
        checkpoint.save_atomic(state, folder / checkpoint.BEST)


def fit(p: Prepared, run, guard: SignalGuard, state: dict | None, after_epoch=None) -> list:
    """Train the run's remaining epochs; a signal waits while an epoch is saved and logged.
    Returns the run's figures, to be drawn apart (runs/drawing.py) while its model is logged.
    after_epoch(epoch, history), once an epoch is logged: tags (a non-empty dict) end the run
    there (raises Stopped), None or {} lets it go on."""
    cfg = p.cfg
    loop = build(p)
    history = {k: [] for k in METRICS + (VAL_METRICS if loop.val is not None else ())}
    start, metrics = 1, {}
    if state is not None:
        history, start = restore(loop, state, run)
    seen, said = set(), set()  # ops that ran without a deterministic kernel, and those tagged
    for epoch in range(start, cfg.epochs + 1):
        with watch_determinism(seen):
            metrics = train_one(p, loop, epoch)
        improved = not history[names.TEST_ACC] or metrics[names.TEST_ACC] > max(history[names.TEST_ACC])
        for k in history:
            history[k].append(metrics[k])
        with guard.critical():
            save(p, loop, run, history, epoch, improved)
            if seen - said:  # deterministic = true, yet this run may not repeat exactly
                said |= seen
                run.set_tags({names.NONDETERMINISTIC: ", ".join(sorted(said))})
                print(f"warning: ran without a deterministic kernel: {', '.join(sorted(said))} "
                      f"({names.NONDETERMINISTIC} on the run)", file=sys.stderr, flush=True)
        if epoch_lines():  # a sweep written to a file: one line per run, not per epoch
            print(f"epoch {epoch}/{cfg.epochs}: " + " ".join(
                f"{k} {metrics[k]:{'.2%' if k.endswith('acc') else '.4f'}}" for k in EPOCH_LINE)
                + f" ({metrics[names.EPOCH_TIME]:.1f}s)", flush=True)
        if after_epoch is not None and (tags := after_epoch(epoch, history)):
            raise Stopped(epoch, tags)
    best = checkpoint.folder(run.run_id) / checkpoint.BEST
    if best.exists():
        run.log_artifact(best, checkpoint.ARTIFACTS)
    figures = [("curves", run.local_path(names.CURVES_PNG), (history, cfg.name))]
    if loop.ema is not None:  # the logged model is the one that was evaluated
        loop.model.load_state_dict(loop.ema.state_dict())
    run.log_metrics(cfg.epochs, peak_memory(p.device))
    if "predictions" in metrics:  # the final evaluation's outcomes, from its kept predictions
        outcome_log.log(run, cfg.epochs, cfg.dataset, p.test.images, p.test.labels, metrics["predictions"],
                     figures)
    return figures
