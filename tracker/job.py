"""One tracked training job: prepare everything, then open a run and train into it.

    tracker train experiments/mnist-demo.toml --set norm=group --data-dir ../shared/datasets
"""
from __future__ import annotations

import dataclasses
import json
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, plots
from .config import ConfigError, RunConfig, store_root
from .data import Batches, Split, load_split
from .models import IN_SHAPE, build_model, count_params, receptive_field
from .train import evaluate, make_optimizer, make_scheduler, pick_device, set_threads, train_epoch

METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time_s")


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived; the run ends KILLED with exit code 128 + signum."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class Prepared:
    cfg: RunConfig
    device: torch.device
    model: torch.nn.Module
    train: Split
    test: Split
    params: dict


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


def prepare(cfg: RunConfig) -> Prepared:
    """Everything that can fail on bad input, before any run exists."""
    set_threads()
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    model, counts = describe(cfg)
    train = load_split(cfg.dataset, cfg.data_dir, True, cfg.download, cfg.train_limit)
    test = load_split(cfg.dataset, cfg.data_dir, False, cfg.download, cfg.test_limit)
    params = {**cfg.as_params(), **counts, "device_used": device.type, "git_commit": git_commit(),
              "torch_version": torch.__version__,
              **{f"{p}_version": version(p) for p in ("torchvision", "mlflow")}}
    return Prepared(cfg, device, model, train, test, params)


def summary_text(cfg: RunConfig, model: torch.nn.Module) -> str:
    import torchinfo

    stats = torchinfo.summary(model, input_size=(1, *IN_SHAPE[cfg.dataset]), verbose=0,
                              device="cpu", col_names=("output_size", "num_params"))
    return str(stats)


def _on_signal(signum, frame):
    # a second Ctrl-C while we are already stopping exits at once; checkpoints stay atomic
    signal.signal(signum, signal.SIG_DFL)
    raise Interrupted(signum)


def run(cfg: RunConfig, config_file: str | None = None, tags: dict | None = None) -> str:
    """Train one config into one MLflow run; returns the run id."""
    from . import tracking

    p = prepare(cfg)
    started = time.perf_counter()
    run = tracking.start_run(cfg.experiment, cfg.name, {
        "mlflow.source.git.commit": p.params["git_commit"], "tracker.kind": "train", **(tags or {})})
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        run.log_params(p.params)
        run.log_text(summary_text(cfg, p.model), "summary.txt")
        run.log_text(json.dumps(dataclasses.asdict(cfg), indent=2), "config/resolved.json")
        if config_file:
            run.log_artifact(config_file, "config")
        _fit(p, run)
        run.set_tags({"tracker.tracking_s": f"{run.seconds:.3f}",
                      "tracker.wall_s": f"{time.perf_counter() - started:.3f}"})
        example = _example(p)
        run.finish_with_model(p.model.cpu().to(memory_format=torch.contiguous_format).eval(), example)
    except Interrupted as e:
        run.end("KILLED", f"stopped by {e}")
        raise
    except BaseException as e:
        run.end("FAILED", f"{e.__class__.__name__}: {e}")
        raise
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    return run.run_id


def _example(p: Prepared) -> np.ndarray:
    batch = next(iter(Batches(p.test, p.cfg.dataset, 2, torch.device("cpu"))))[0]
    return batch.contiguous().numpy().astype(np.float32)


def _fit(p: Prepared, run) -> None:
    cfg, device = p.cfg, p.device
    channels_last = device.type == "cpu"  # measured faster on CPU for every norm (benchmarks/)
    model = p.model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train = Batches(p.train, cfg.dataset, cfg.batch_size, device, shuffle=True,
                    augment=cfg.augment, seed=cfg.seed, channels_last=channels_last)
    test = Batches(p.test, cfg.dataset, 1000, device, channels_last=channels_last)
    optimizer = make_optimizer(cfg, model)
    scheduler, per_batch = make_scheduler(cfg, optimizer, len(train))
    ckpt_dir = store_root() / "checkpoints" / run.run_id
    history: dict[str, list[float]] = {k: [] for k in METRICS}
    best, best_train = -1.0, -1.0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        metrics = train_epoch(model, train, optimizer, scheduler, per_batch, cfg.precision,
                              cfg.stop_on_nan, desc=f"{cfg.name} epoch {epoch}/{cfg.epochs}")
        metrics.update(evaluate(model, test, cfg.precision))
        metrics.update(lr=lr, epoch_time_s=time.perf_counter() - t0)
        improved = metrics["test_acc"] > best
        best = max(best, metrics["test_acc"])
        best_train = max(best_train, metrics["train_acc"])
        for k in METRICS:
            history[k].append(metrics[k])
        state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict() if scheduler else {}, "best": best,
                 "history": history, "config": dataclasses.asdict(cfg),
                 "rng": {"torch": torch.get_rng_state(), "data": train.generator.get_state()}}
        last = checkpoint.save_atomic(state, ckpt_dir / "last.pt")
        run.log_metrics(epoch, {**metrics, "test_acc_best": best, "train_acc_best": best_train,
                                "epoch_time_mean_s": sum(history["epoch_time_s"]) / epoch})
        run.log_artifact(last, "checkpoints")
        if improved:
            run.log_artifact(checkpoint.save_atomic(state, ckpt_dir / "best.pt"), "checkpoints")
        print(f"epoch {epoch}/{cfg.epochs}: train_loss {metrics['train_loss']:.4f} "
              f"train_acc {metrics['train_acc']:.2%} test_loss {metrics['test_loss']:.4f} "
              f"test_acc {metrics['test_acc']:.2%} ({metrics['epoch_time_s']:.1f}s)", flush=True)
    fig = plots.curves(history, cfg.name)
    run.log_figure(fig, "curves.png")
