"""One tracked training job: prepare everything, then open a run and train into it.

    tracker train experiments/mnist-demo.toml --set norm=group --data-dir ../shared/datasets
"""
from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, fits, plots
from .config import ConfigError, RunConfig
from .settings import store_root
from .signals import Interrupted, SignalGuard
from .tracking import names
from .data import EVAL_BATCH, Batches, Split, load_split, split_val
from .ema import EMA
from .models import IN_SHAPE, build_model, count_params, receptive_field
from .train import (channels_last, effective_precision, evaluate, make_optimizer, make_scheduler,
                    pick_device, set_threads, train_epoch)

METRICS = names.EPOCH_METRICS
VAL_METRICS = ("val_loss", "val_acc")  # only when cfg.val_split > 0

@dataclass
class Prepared:
    cfg: RunConfig
    device: torch.device
    model: torch.nn.Module
    train: Split
    test: Split
    params: dict
    precision: str  # what the device runs: bf16 falls back to fp32 where unsupported
    channels_last: bool
    val: Split | None = None  # held out of the training set when cfg.val_split > 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def describe(cfg: RunConfig) -> tuple[torch.nn.Module, dict]:
    """The model and the numbers logged with it; fails on a model over budget."""
    model = build_model(cfg)
    total, trainable = count_params(model)
    if cfg.max_params is not None and total > cfg.max_params:
        raise ConfigError(f"config key 'max_params': {cfg.arch} with norm={cfg.norm} has "
                          f"{total:,} parameters, over the budget of {cfg.max_params:,}")
    rf = receptive_field(model, IN_SHAPE[cfg.dataset])
    return model, {"params_total": total, "params_trainable": trainable, "receptive_field": rf}


def prepare(cfg: RunConfig, threads: int | None = None) -> Prepared:
    """Everything that can fail on bad input, before any run exists. threads: at most this
    many torch threads (a sweep worker's share of the cores)."""
    set_threads(threads)
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    model, counts = describe(cfg)
    train = load_split(cfg.dataset, cfg.data_dir, True, cfg.download, cfg.train_limit)
    test = load_split(cfg.dataset, cfg.data_dir, False, cfg.download, cfg.test_limit)
    train, val = split_val(train, cfg.val_split, cfg.seed) if cfg.val_split else (train, None)
    fits.check(model, IN_SHAPE[cfg.dataset], cfg.batch_size, len(train),
               train.images.numel() + test.images.numel(), device)
    precision = effective_precision(device, cfg.precision)
    if precision != cfg.precision:
        print(f"warning: {device.type} has no native bf16; training in fp32", file=sys.stderr)
    layout = channels_last(device, cfg.norm, IN_SHAPE[cfg.dataset], precision)
    params = {**cfg.as_params(), **counts, "device_used": device.type, "git_commit": git_commit(),
              "precision_used": precision, "channels_last": str(layout),
              "torch_version": torch.__version__,
              **{f"{p}_version": version(p) for p in ("torchvision", "mlflow")}}
    return Prepared(cfg, device, model, train, test, params, precision, layout, val)


def summary_text(cfg: RunConfig, model: torch.nn.Module) -> str:
    """torchinfo's summary; its random input draws from a forked RNG, so a tracked run trains
    on the same random numbers as an untracked one (or a restart)."""
    import torchinfo

    with torch.random.fork_rng(devices=[]):
        stats = torchinfo.summary(model, input_size=(1, *IN_SHAPE[cfg.dataset]), verbose=0,
                                  device="cpu", col_names=("output_size", "num_params"))
    return str(stats)


def run(cfg: RunConfig, config_file: str | None = None, tags: dict | None = None,
        offline: bool = False, threads: int | None = None) -> str:
    """Train one config into one MLflow run; returns the run id."""
    return run_prepared(prepare(cfg, threads), config_file, tags, offline)


@dataclass
class Outcome:
    run_id: str
    buffered: int  # tracking calls waiting for the server (or `tracker sync`)


def train(cfg: RunConfig, config_file: str | None = None, offline: bool = False) -> Outcome:
    """`tracker train`: one run, and whether its calls all reached the store."""
    from .tracking.outbox import Outbox

    run_id = run(cfg, config_file, offline=offline)
    return Outcome(run_id, Outbox(run_id).pending())


def summary(cfg: RunConfig) -> tuple[str, dict]:
    """`tracker summary`: torchinfo's table and the counts, with no data."""
    model, counts = describe(cfg)
    return summary_text(cfg, model), counts


def run_prepared(p: Prepared, config_file: str | None = None, tags: dict | None = None,
                 offline: bool = False) -> str:
    """Open the run and train into it, from what `prepare` made."""
    from .tracking import live

    cfg = p.cfg
    run = live.start_run(cfg.experiment, cfg.name, {
        names.GIT_COMMIT: p.params["git_commit"], names.KIND: names.TRAIN, **(tags or {})},
        offline=offline)

    def setup():
        run.log_params(p.params)
        run.log_inputs(_inputs(p))
        run.log_text(summary_text(cfg, p.model), "summary.txt")
        run.log_text(json.dumps(dataclasses.asdict(cfg), indent=2), "config/resolved.json")
        if config_file:
            run.log_artifact(config_file, "config")

    return train_into(p, run, setup, None)


def train_into(p: Prepared, run, setup, state: dict | None) -> str:
    """The run's lifetime, and the one place it ends: FINISHED when training and model logging
    succeeded, KILLED on a stop signal, FAILED on any other error."""
    started = time.perf_counter()
    with SignalGuard() as guard:
        try:
            setup()
            _fit(p, run, guard, state)
            wall = time.perf_counter() - started
            run.wait()  # so the sender's time is complete (the model is logged after this anyway)
            run.set_tags({names.TRACKING_S: f"{run.seconds:.3f}", names.WALL_S: f"{wall:.3f}",
                          names.SENDING_S: f"{run.send_seconds:.3f}"})
            model = p.model.cpu().to(memory_format=torch.contiguous_format).eval()
            if not run.log_model(model, _example(p)):
                print(f"tracking server still unreachable: {run.buffered} calls of run "
                      f"{run.run_id} wait in {run.outbox.path}; replay them with `tracker sync`",
                      file=sys.stderr, flush=True)
            run.wait()
        except Interrupted as e:
            run.end("KILLED", f"stopped by {e}")
            raise
        except BaseException as e:
            run.end("FAILED", f"{e.__class__.__name__}: {e}")
            raise
        run.end("FINISHED")
    return run.run_id


def _example(p: Prepared) -> np.ndarray:
    batch = next(iter(Batches(p.test, p.cfg.dataset, 2, torch.device("cpu"))))[0]
    return batch.contiguous().numpy().astype(np.float32)


def _epoch_summary(history: dict, epoch: int) -> dict:
    """What an epoch logs, derived from the history alone (so it can be replayed)."""
    i = epoch - 1
    val = {"val_acc_best": max(history["val_acc"][:epoch])} if "val_acc" in history else {}
    return {**{k: history[k][i] for k in METRICS + VAL_METRICS if k in history}, **val,
            "test_acc_best": max(history["test_acc"][:epoch]),
            "train_acc_best": max(history["train_acc"][:epoch]),
            "epoch_time_mean_s": sum(history["epoch_time_s"][:epoch]) / epoch}


def _fit(p: Prepared, run, guard: SignalGuard, state: dict | None) -> None:
    cfg, device = p.cfg, p.device
    model = p.model.to(device)
    if p.channels_last:
        model = model.to(memory_format=torch.channels_last)
    step = torch.compile(model) if cfg.compile else model  # shares model's parameters
    train = Batches(p.train, cfg.dataset, cfg.batch_size, device, shuffle=True,
                    augment=cfg.augment, seed=cfg.seed, channels_last=p.channels_last)
    test = Batches(p.test, cfg.dataset, EVAL_BATCH, device, channels_last=p.channels_last)
    val = None if p.val is None else Batches(p.val, cfg.dataset, EVAL_BATCH, device,
                                              channels_last=p.channels_last)
    ema = EMA(model, cfg.ema) if cfg.ema else None
    optimizer = make_optimizer(cfg, model)
    scheduler, per_batch = make_scheduler(cfg, optimizer, len(train))
    ckpt_dir = store_root() / "checkpoints" / run.run_id
    history: dict[str, list[float]] = {k: [] for k in METRICS + (VAL_METRICS if val is not None else ())}
    start = 1
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        checkpoint.restore_rng(state["rng"], train.generator)
        if ema is not None:
            ema.load_state_dict(state["ema"])
        history, start = state["history"], state["epoch"] + 1
        logged = run.logged_steps("test_acc")
        for epoch in range(1, start):  # steps a hard kill left unlogged
            if epoch not in logged:
                run.log_metrics(epoch, _epoch_summary(history, epoch))
    for epoch in range(start, cfg.epochs + 1):
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        metrics = train_epoch(step, train, optimizer, scheduler, per_batch, p.precision,
                              cfg.stop_on_nan, desc=f"{cfg.name} epoch {epoch}/{cfg.epochs}",
                              label_smoothing=cfg.label_smoothing, ema=ema)
        judged = step if ema is None else ema.model  # the weights evaluated, and logged at the end
        final = epoch == cfg.epochs
        tta = cfg.tta and final  # 5x an evaluation's cost: paid once, for the figure reported
        metrics.update(evaluate(judged, test, p.precision, tta, keep=final))
        if val is not None:
            metrics.update(evaluate(judged, val, p.precision, tta, prefix="val"))
        metrics.update(lr=lr, epoch_time_s=time.perf_counter() - t0)
        improved = not history["test_acc"] or metrics["test_acc"] > max(history["test_acc"])
        for k in history:
            history[k].append(metrics[k])
        with guard.critical():  # a signal here waits until the epoch is saved and logged
            state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict() if scheduler else {},
                     "history": history, "config": dataclasses.asdict(cfg), "rng": checkpoint.rng_state(train.generator),
                     **({} if ema is None else {"ema": ema.state_dict()})}
            last = checkpoint.save_atomic(state, ckpt_dir / "last.pt")
            # the checkpoint goes first: an epoch's metrics on the server mean its checkpoint is
            # there too, so a resume on another node never re-trains an epoch already logged
            run.log_artifact(last, "checkpoints")
            run.log_metrics(epoch, _epoch_summary(history, epoch), heartbeat=True)
            if improved:
                run.log_artifact(checkpoint.save_atomic(state, ckpt_dir / "best.pt"), "checkpoints")
        print(f"epoch {epoch}/{cfg.epochs}: train_loss {metrics['train_loss']:.4f} "
              f"train_acc {metrics['train_acc']:.2%} test_loss {metrics['test_loss']:.4f} "
              f"test_acc {metrics['test_acc']:.2%} ({metrics['epoch_time_s']:.1f}s)", flush=True)
    run.log_figure(plots.curves(history, cfg.name), "curves.png")
    if ema is not None:  # the logged model is the one that was evaluated
        model.load_state_dict(ema.state_dict())
    _log_final(p, run, metrics if start <= cfg.epochs else {})


def _inputs(p: Prepared) -> list[dict]:
    """The data the run reads, as MLflow dataset inputs (name, digest, source, sizes)."""
    from . import fingerprint

    cfg = p.cfg
    return fingerprint.inputs(cfg.dataset, cfg.data_dir, (len(p.train), len(p.test)),
                              (cfg.train_limit, cfg.test_limit))


def _log_final(p: Prepared, run, final: dict) -> None:
    """What `tracker report` reads of the final epoch's evaluation: per-class accuracy, the
    confusion matrix and the misclassified images, from the predictions it kept (no second pass)."""
    from . import outcomes

    if "predictions" in final:
        outcomes.log(run, p.cfg.epochs, p.cfg.dataset, p.test.images, p.test.labels,
                     final["predictions"])
