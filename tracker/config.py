"""Run configuration: one frozen dataclass, loaded from experiments/*.toml plus --set overrides.
Each key is documented once, in its field; docs/config.md is generated from the fields.

    tracker summary experiments/mnist-norms.toml --set norm=group
    python -m tracker.config     # writes docs/config.md
"""
from __future__ import annotations

import dataclasses
import json
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
from .ml.datasets import DATASETS as _META, NAMES as DATASETS
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
# config keys that name a run and say where or how it executes, never what it computes: they
# may differ between the runs compared (not a confound), a resume may change PLACEMENT, and a
# sweep's identity leaves PLACEMENT out
NAMING = ("run_name", "experiment")
PLACEMENT = ("data_dir", "download", "device", "system_metrics")
MODEL_KEYS = ("dataset", "arch", "norm")  # what names a model: mnist-s8-batch, mnist-fast-batch
RUN_KEYS = (*MODEL_KEYS, "seed")  # what names a run: mnist-s8-batch-seed1


# names other tools give a config key, and tracker's for it: an unknown key's "did you mean"
ALIASES = {"learning_rate": "lr", "bs": "batch_size", "wd": "weight_decay", "model": "arch",
           "architecture": "arch", "normalization": "norm"}


def archs() -> tuple[str, ...]:
    """The architectures, from the models' own registry (imports torch: only when validating)."""
    from .ml.models import ARCHS

    return tuple(ARCHS)


def test_images(params: dict) -> int | None:
    """How many test images a run of these params evaluated (its test_limit, else the dataset's
    whole test split); None for a run that is not tracker's (no known dataset)."""
    meta = _META.get(params.get("dataset", ""))
    if meta is None:
        return None
    limit = int(params.get("test_limit") or 0)
    return min(limit, meta.sizes[1]) if limit > 0 else meta.sizes[1]


def model_name(params: dict) -> str:
    """A model's default name from its run's config values: DATASET-ARCH-NORM, the dataset said
    once (arch mnist-fast on mnist: mnist-fast-batch, not mnist-mnist-fast-batch)."""
    dataset, arch, norm = (str(params.get(k, "")) for k in MODEL_KEYS)
    named = arch == dataset or arch.startswith(f"{dataset}-")
    return "-".join([arch, norm] if named else [dataset, arch, norm])


def _key(default: Any, doc: str, values: Any = None) -> Any:
    """A field with its doc (docs/config.md: reference()) and a choice's values (a tuple, or a function)."""
    return dataclasses.field(default=default, metadata={"doc": doc, "values": values})


@dataclass(frozen=True)
class RunConfig:
    dataset: str = _key("mnist", "The dataset, read from `data_dir` in torchvision's on-disk layout.", DATASETS)
    arch: str = _key("mnist-small", "The architecture; docs/models.md gives each one's parameter count.", archs)
    norm: str = _key("batch", "Every conv block's norm: `layer` is GroupNorm with one group.", NORMS)
    groups: int = _key(4, "Groups of group norm, a positive divisor of every layer's channel count.")
    epochs: int = _key(2, "Epochs to train, a positive integer.")
    batch_size: int = _key(128, "Images per training step; refused before the run exists when larger than the "
                           "training set or the memory free for it (over half of it: a warning).")
    optimizer: str = _key("sgd", "`sgd` (`momentum`, `nesterov`, `weight_decay`) or `adam` (`weight_decay`).",
                          OPTIMIZERS)
    momentum: float = _key(0.9, "sgd's momentum, >= 0.")
    weight_decay: float = _key(0.0, "L2 weight decay of either optimizer, >= 0.")
    lr: float = _key(0.05, "The learning rate, > 0; with `schedule = \"onecycle\"` its peak.")
    schedule: str = _key("onecycle", "`step`: times `gamma` every `step_size` epochs; `onecycle`: up to the peak `lr` "
                         "over the `warmup` fraction of the steps, then down.", SCHEDULES)
    step_size: int = _key(6, "`schedule = \"step\"`: epochs between decays, a positive integer.")
    gamma: float = _key(0.1, "`schedule = \"step\"`: the factor of each decay.")
    warmup: float = _key(0.3, "`schedule = \"onecycle\"`: the fraction of the steps rising to the peak lr, in (0, 1).")
    nesterov: bool = _key(False, "sgd's Nesterov momentum.")
    label_smoothing: float = _key(0.0, "Cross-entropy target smoothing, in [0, 1); 0 = off.")
    ema: float = _key(0.0, "Per-step decay of an exponential moving average of the weights, in [0, 1); the average "
                      "is what is evaluated, logged and served. 0 = off.")
    tta: bool = _key(False, "The final evaluation (the accuracy reported, the logged model) on the mean logits of each "
                     "image and its four one-pixel shifts; earlier epochs evaluate plainly, at a fifth of the cost.")
    val_split: float = _key(0.0, "Fraction of each class of the training set held out (the same for a seed), in [0, "
                            "1); epochs then log `val_loss`, `val_acc`, `val_acc_best`, `test_acc_at_best_val`.")
    dropout: float = _key(0.05, "The dropout rate, in [0, 1).")
    augment: str = _key("none", "`albumentations`: seed 001's, per image on the CPU; `shift` (up to 2 px) and "
                        "`crop-flip` (4 px, a horizontal flip): batched on the device.", AUGMENTS)
    seed: int = _key(1, "The seed of the weights, the data order, the augmentation and the validation split.")
    device: str = _key("auto", "`auto`: cuda > mps > cpu; `cuda`: GPU 0 as the process sees it; also `cuda:N`, the "
                       "GPU of index N. One this machine lacks is refused. A resume may change it.", DEVICES)
    precision: str = _key("fp32", "`bf16`: autocast where the device has native bf16, else fp32 with a warning "
                          "(the param `precision_used` says which).", PRECISIONS)
    deterministic: bool = _key(True, "GPU: deterministic kernels, `cudnn.benchmark` off (a resume repeats exactly); "
                               "false: cuDNN picks by timing, not repeatable. No effect on a CPU or MPS.")
    tf32: bool = _key(False, "On a GPU with TF32 (Ampere and later): TF32 matmuls and convolutions, faster, about "
                      "1e-3 relative error; off, full fp32 (`tf32_used` says which). Elsewhere: fp32, with a warning.")
    compile: bool = _key(False, "`torch.compile` the model (no training gain on our CPUs: benchmarks/README.md).")
    system_metrics: bool = _key(True, "MLflow's CPU, memory, disk, network (and GPU) samples every 5 s as `system/*` "
                                "metrics; also off with TRACKER_SYSTEM_METRICS=0. A resume may change it.")
    data_dir: str = _key(DEFAULT_DATA_DIR, "The dataset folder, holding e.g. `MNIST/raw/` (also `--data-dir`, "
                         "TRACKER_DATA_DIR). A resume may change it.")
    download: bool = _key(True, "Fetch a missing dataset into `data_dir` (false: an error). A resume may change it.")
    train_limit: int = _key(0, "Use only the first N training images; 0 = all.")
    test_limit: int = _key(0, "Use only the first N test images; 0 = all.")
    pretrained: bool = _key(False, "`arch = \"resnet18\"` only: start from torchvision's ImageNet weights.")
    max_params: Optional[int] = _key(None, "A parameter budget: a larger model fails before training.")
    stop_on_nan: bool = _key(True, "End the run FAILED when the training loss is not finite (checked each 20 batches).")
    experiment: str = _key(DEFAULT_EXPERIMENT, "The MLflow experiment: 1-250 characters without `/`, `\\` or `:`.")
    run_name: str = _key("", "Without `/`, `\\` or `:`; empty: DATASET-ARCH-NORM-seedN (a sweep appends its other "
                         "grid keys, e.g. `-lr0.1`).")

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


def make_config(values: dict[str, Any]) -> RunConfig:
    for key in values:
        if key not in FIELDS:
            raise ConfigError(unknown_key("config key", key, FIELDS, ALIASES))
    if "data_dir" not in values and data_dir_env():
        values = {**values, "data_dir": data_dir_env()}
    return RunConfig(**values)


REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "config.md"  # generated: reference()
HEADER = f"""# Run config keys

<!-- generated from RunConfig by `python -m tracker.config`: edit the docs in tracker/config.py -->

A run's config, from a TOML file (`experiments/*.toml`) with `--set key=value` overrides (read as
TOML, else as a bare string: `--set norm=group`), logged verbatim as the run's params. An unknown
key, a wrong type, a value out of range, not finite or over {MAX_PARAM_CHARS} characters (an MLflow
param's limit) is one line naming the key, and exit 2. A file's `[grid]`, `[study]`: docs/sweeps.md.

| key | type | default | values | meaning |
| --- | --- | --- | --- | --- |
"""


def reference(cls: type = RunConfig) -> str:
    """docs/config.md: each key of `cls` with its type, default, allowed values and doc."""
    rows = []
    for f in fields(cls):
        if not f.metadata.get("doc"):
            raise ValueError(f"config key '{f.name}' has no doc: declare it with _key(default, doc)")
        values = f.metadata.get("values")
        values = values() if callable(values) else values or ()
        kind = get_type_hints(cls)[f.name]
        kind = "int or unset" if kind == Optional[int] else kind.__name__
        default = "unset" if f.default is None else f"`{json.dumps(f.default)}`"
        shown = ", ".join(f"`{v}`" for v in values)
        rows.append(f"| `{f.name}` | {kind} | {default} | {shown} | {f.metadata['doc'].replace('|', '/')} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    REFERENCE.write_text(reference())
    print(f"wrote {REFERENCE}")
