"""Everything a run needs that can fail on bad input, made before any run exists: the device,
the model (and its budget), the data, whether a batch fits, and the params the run logs.

    tracker summary experiments/mnist-demo.toml --set norm=group
"""
from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from .. import names
from ..config import RunConfig
from ..errors import ConfigError
from ..ml import fingerprint, memory
from ..ml.data import Split, load_split, on_host, split_val
from ..ml.device import channels_last, effective_precision, pick_device, set_threads, use
from ..ml.models import IN_SHAPE, build_model, count_params, receptive_field


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
    return model, {names.PARAMS_TOTAL: total, names.PARAMS_TRAINABLE: trainable, names.RECEPTIVE_FIELD: rf}


def prepare(cfg: RunConfig, threads: int | None = None) -> Prepared:
    """Everything that can fail on bad input, before any run exists. threads: at most this
    many torch threads (a sweep worker's share of the cores)."""
    set_threads(threads)
    device = pick_device(cfg.device)
    kernels = use(device, cfg.deterministic, cfg.tf32)  # TF32 and determinism, as they hold
    seed_everything(cfg.seed)
    model, counts = describe(cfg)
    train = load_split(cfg.dataset, cfg.data_dir, True, cfg.download, cfg.train_limit)
    test = load_split(cfg.dataset, cfg.data_dir, False, cfg.download, cfg.test_limit)
    train, val = split_val(train, cfg.val_split, cfg.seed) if cfg.val_split else (train, None)
    # the splits the device holds (uint8: a byte an element); albumentations keeps train on the host
    held = [test, val] + ([] if on_host(cfg.augment) and device.type != "cpu" else [train])
    memory.check(model, IN_SHAPE[cfg.dataset], cfg.batch_size, len(train),
               sum(s.images.numel() for s in held if s is not None), device,
               memory.state_copies(cfg.optimizer, cfg.momentum, cfg.ema))
    precision = effective_precision(device, cfg.precision)
    if precision != cfg.precision:
        print(f"warning: {device} has no native bf16; training in fp32", file=sys.stderr)
    if cfg.tf32 and kernels[names.TF32_USED] != "True":  # as bf16: where it runs, else full fp32
        print(f"warning: {device} has no TF32 (a CUDA GPU of Ampere or later has); training in full fp32",
              file=sys.stderr)
    layout = channels_last(device, cfg.norm, IN_SHAPE[cfg.dataset], precision)
    params = {**cfg.as_params(), **counts, names.DEVICE_USED: str(device), names.GIT_COMMIT_PARAM: git_commit(),
              names.PRECISION_USED: precision, names.CHANNELS_LAST: str(layout), names.TEST_IMAGES: len(test), **kernels,
              **{param: torch.__version__ if lib == "torch" else version(lib) for lib, param in names.VERSIONS.items()}}
    return Prepared(cfg, device, model, train, test, params, precision, layout, val)


def summary_text(cfg: RunConfig, model: torch.nn.Module) -> str:
    """torchinfo's summary; its random input draws from a forked RNG, so a tracked run trains
    on the same random numbers as an untracked one (or a restart)."""
    import torchinfo

    with torch.random.fork_rng(devices=[]):
        stats = torchinfo.summary(model, input_size=(1, *IN_SHAPE[cfg.dataset]), verbose=0,
                                  device="cpu", col_names=("output_size", "num_params"))
    return str(stats)


def summary(cfg: RunConfig) -> tuple[str, dict]:
    """`tracker summary`: torchinfo's table and the counts, with no data."""
    model, counts = describe(cfg)
    return summary_text(cfg, model), counts


def digests(inputs: list[dict]) -> dict[str, str]:
    """The splits' digests as params (train_digest, test_digest): which data a run read, in
    the runs table, so that compare can tell conditions that read different data apart."""
    return {d["context"] + names.DIGEST: d["digest"] for d in inputs}


def inputs(p: Prepared) -> list[dict]:
    """The data the run reads, as MLflow dataset inputs (name, digest, source, sizes)."""
    cfg = p.cfg
    return fingerprint.inputs(cfg.dataset, cfg.data_dir, (len(p.train), len(p.test)),
                              (cfg.train_limit, cfg.test_limit))
