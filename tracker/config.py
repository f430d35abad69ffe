"""Run configuration: one frozen dataclass, loaded from experiments/*.toml plus --set overrides.

    tracker summary experiments/mnist-norms.toml --set norm=group
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional, get_type_hints

try:
    import tomllib
except ModuleNotFoundError:  # python < 3.11
    import tomli as tomllib


from .errors import ConfigError, unknown_key
from .ml.datasets import NAMES as DATASETS
from .settings import DEFAULT_DATA_DIR, data_dir_env

NORMS = ("batch", "layer", "group", "none")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("none", "step", "onecycle")
AUGMENTS = ("none", "albumentations", "shift", "crop-flip")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value
DEFAULT_EXPERIMENT = "tracker"
DEFAULT_CONDITION = ("norm",)  # what a condition is when neither --by nor a sweep's grid says
MODEL_KEYS = ("dataset", "arch", "norm")  # what names a model: mnist-s8-batch, mnist-fast-batch
RUN_KEYS = (*MODEL_KEYS, "seed")  # what names a run: mnist-s8-batch-seed1


# names other tools give a config key, and tracker's for it: an unknown key's "did you mean"
ALIASES = {"learning_rate": "lr", "bs": "batch_size", "wd": "weight_decay", "model": "arch",
           "architecture": "arch", "normalization": "norm"}


def archs() -> tuple[str, ...]:
    """The architectures, from the models' own registry (imports torch: only when validating)."""
    from .ml.models import ARCHS

    return tuple(ARCHS)


def model_name(params: dict) -> str:
    """A model's default name from its run's config values: DATASET-ARCH-NORM, the dataset said
    once (arch mnist-fast on mnist: mnist-fast-batch, not mnist-mnist-fast-batch)."""
    dataset, arch, norm = (str(params.get(k, "")) for k in MODEL_KEYS)
    named = arch == dataset or arch.startswith(f"{dataset}-")
    return "-".join([arch, norm] if named else [dataset, arch, norm])


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "mnist"
    arch: str = "mnist-small"
    norm: str = "batch"  # batch | layer | group | none
    groups: int = 4  # group norm only; layer norm is one group
    epochs: int = 2
    batch_size: int = 128
    optimizer: str = "sgd"
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    lr: float = 0.05  # peak lr for onecycle
    schedule: str = "onecycle"  # none | step | onecycle
    step_size: int = 6  # epochs between step decays
    gamma: float = 0.1  # step decay factor
    warmup: float = 0.3  # onecycle: fraction of the steps spent rising to the peak lr
    nesterov: bool = False  # sgd only
    label_smoothing: float = 0.0  # cross-entropy target smoothing in [0, 1); 0 = off
    ema: float = 0.0  # decay of an exponential moving average of the weights, per step; 0 = off
    tta: bool = False  # the final evaluation on the mean logits of the image and 4 one-pixel shifts
    val_split: float = 0.0  # fraction of the training set held out as validation, per class
    dropout: float = 0.05
    augment: str = "none"  # none | albumentations (seed 001) | shift | crop-flip (batched)
    seed: int = 1
    device: str = "auto"  # auto = cuda > mps > cpu
    precision: str = "fp32"  # fp32 | bf16 autocast (where the device supports bf16)
    deterministic: bool = True  # GPU: deterministic kernels (false: cudnn.benchmark, faster, not repeatable)
    compile: bool = False  # torch.compile the model (opt-in: no training gain measured on CPU)
    system_metrics: bool = True  # MLflow's CPU, memory (and GPU) sampling, every SYSTEM_METRICS_S s
    data_dir: str = DEFAULT_DATA_DIR
    download: bool = True  # fetch the dataset when it is missing
    train_limit: int = 0  # use only the first N training images (0 = all)
    test_limit: int = 0  # use only the first N test images (0 = all)
    pretrained: bool = False  # resnet18: start from torchvision's ImageNet weights
    max_params: Optional[int] = None  # fail before training when the model is larger
    stop_on_nan: bool = True
    experiment: str = DEFAULT_EXPERIMENT
    run_name: str = ""  # empty: derived, e.g. mnist-s8-group-seed1

    def __post_init__(self) -> None:
        validate(self)

    @property
    def name(self) -> str:
        return self.run_name or f"{model_name(vars(self))}-seed{self.seed}"

    def as_params(self) -> dict[str, str]:
        """The config verbatim, as MLflow params (None is logged as an empty string)."""
        return {k: "" if v is None else str(v) for k, v in dataclasses.asdict(self).items()}


FIELDS = {f.name: f for f in fields(RunConfig)}
_TYPES = get_type_hints(RunConfig)


def _expected_type(key: str) -> type:
    t = _TYPES[key]
    return int if t == Optional[int] else t


def _check_type(key: str, value: Any) -> Any:
    t = _expected_type(key)
    if value is None and _TYPES[key] == Optional[int]:
        return None
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if t is bool and not isinstance(value, bool) or t is not bool and isinstance(value, bool):
        raise ConfigError(f"config key '{key}': expected {t.__name__}, got {value!r}")
    if not isinstance(value, t):
        raise ConfigError(f"config key '{key}': expected {t.__name__}, got {value!r}")
    return value


def _choice(cfg: RunConfig, key: str, allowed: tuple[str, ...]) -> None:
    if getattr(cfg, key) not in allowed:
        raise ConfigError(
            f"config key '{key}': unknown value {getattr(cfg, key)!r}; expected one of {', '.join(allowed)}")


def validate(cfg: RunConfig) -> None:
    for key in FIELDS:
        object.__setattr__(cfg, key, _check_type(key, getattr(cfg, key)))
        value = getattr(cfg, key)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key '{key}': must be a finite number, got {value}")
    for key, allowed in (("dataset", DATASETS), ("arch", archs()), ("norm", NORMS),
                         ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                         ("augment", AUGMENTS), ("precision", PRECISIONS)):
        _choice(cfg, key, allowed)
    if cfg.device not in DEVICES and not re.fullmatch(r"cuda:(0|[1-9][0-9]*)", cfg.device):
        raise ConfigError(f"config key 'device': unknown value {cfg.device!r}; expected one of "
                          f"{', '.join(DEVICES)}, or cuda:N for the GPU of index N")
    for key in ("epochs", "batch_size", "groups", "step_size"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"config key '{key}': must be a positive integer, got {getattr(cfg, key)}")
    if not cfg.lr > 0:
        raise ConfigError(f"config key 'lr': must be positive, got {cfg.lr}")
    for key in ("momentum", "weight_decay", "train_limit", "test_limit"):
        if getattr(cfg, key) < 0:
            raise ConfigError(f"config key '{key}': must be >= 0, got {getattr(cfg, key)}")
    for key in ("dropout", "label_smoothing", "ema", "val_split"):
        if not 0 <= getattr(cfg, key) < 1:
            raise ConfigError(f"config key '{key}': must be in [0, 1), got {getattr(cfg, key)}")
    if not 0 < cfg.warmup < 1:
        raise ConfigError(f"config key 'warmup': must be in (0, 1), got {cfg.warmup}")
    if cfg.max_params is not None and cfg.max_params <= 0:
        raise ConfigError(f"config key 'max_params': must be a positive integer, got {cfg.max_params}")
    if cfg.arch == "fashion-v1-5-5-bn" and cfg.norm != "batch":
        raise ConfigError("config key 'norm': arch fashion-v1-5-5-bn is the batch-norm version; "
                          "use arch fashion-v1-5-5 for other norms")
    if cfg.pretrained and cfg.arch != "resnet18":
        raise ConfigError(f"config key 'pretrained': only arch resnet18 has pretrained weights, not {cfg.arch}")
    for key in FIELDS:
        if len(str(getattr(cfg, key))) > MAX_PARAM_CHARS:
            raise ConfigError(f"config key '{key}': its value has {len(str(getattr(cfg, key)))} characters; "
                              f"MLflow params hold at most {MAX_PARAM_CHARS}")
    for key in ("experiment", "run_name"):
        value = getattr(cfg, key)
        if any(c in value for c in "/\\:") or len(value) > 250 or (key == "experiment" and not value.strip()):
            raise ConfigError(f"config key '{key}': invalid name {value!r}; "
                              "use 1-250 characters without '/', '\\' or ':'")


def parse_value(key: str, text: str) -> Any:
    """Parse a --set value as TOML, falling back to a bare string (norm=group)."""
    if key not in FIELDS:
        raise ConfigError(unknown_key("config key", key, FIELDS, ALIASES))
    if text.lower() in ("none", "null") and _TYPES[key] == Optional[int]:
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value")
        out[key] = parse_value(key, text.strip())
    return out


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} not found")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {str(p)!r}: malformed TOML: {e}") from None


def split_grid(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list]]:
    """A sweep file: the [grid] table holds lists, [study] the declared analysis (study.py);
    everything else is the base config."""
    raw = dict(raw)
    raw.pop("study", None)
    grid = raw.pop("grid", {}) or {}
    if not isinstance(grid, dict):
        raise ConfigError("config key 'grid': expected a table of lists")
    for key, values in grid.items():
        if key not in FIELDS:
            raise ConfigError(unknown_key("grid key", key, FIELDS, ALIASES))
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid key '{key}': expected a non-empty list, got {values!r}")
    return raw, grid


def make_config(values: dict[str, Any]) -> RunConfig:
    for key in values:
        if key not in FIELDS:
            raise ConfigError(unknown_key("config key", key, FIELDS, ALIASES))
    if "data_dir" not in values and data_dir_env():
        values = {**values, "data_dir": data_dir_env()}
    return RunConfig(**values)




def grid_point(path: str | None, overrides: dict[str, Any] | None = None) -> tuple[RunConfig, str]:
    """One run of PATH, and a note saying which point of its [grid] it is (empty without a grid)."""
    base, grid = split_grid(read_toml(path)) if path else ({}, {})
    overrides = overrides or {}
    chosen = {k: overrides[k] if k in overrides else values[0] for k, values in grid.items()}
    cfg = make_config({**base, **chosen, **overrides})
    if not grid:
        return cfg, ""
    points = math.prod(len(v) for v in grid.values())
    source = {k: "--set" if k in overrides else "the grid's first" for k in chosen}
    how = ", ".join(f"{k}={v} ({source[k]})" for k, v in chosen.items())
    return cfg, (f"{Path(path).name} has a [grid] of {points} runs; this is one of them: {how}. "
                 f"`tracker sweep {path}` runs them all")
