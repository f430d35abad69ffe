"""Checkpoints: written atomically, read back with weights_only=True.

    tracker resume RUN_ID
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..settings import store_root

LAST, BEST = "last.pt", "best.pt"
ARTIFACTS = "checkpoints"  # the run's artifact folder that holds them


def folder(run_id: str) -> Path:
    """Where this machine keeps a run's checkpoints (they are also logged as artifacts)."""
    return store_root() / "checkpoints" / run_id


def save_atomic(state: dict, path: str | os.PathLike) -> Path:
    """Temp file in the same directory, fsync, then os.replace: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} not found") from None
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} is unreadable or not a tracker checkpoint "
                              f"({e.__class__.__name__}); it was not loaded") from None


def rng_state(data: torch.Generator) -> dict:
    """Every RNG a run draws from: torch, the data order, numpy, python."""
    return {"torch": torch.get_rng_state(), "data": data.get_state(),
            "numpy": [int(v) for v in np.random.get_state()[1]] + [int(np.random.get_state()[2])],
            "python": list(random.getstate()[1])}


def restore_rng(rng: dict, data: torch.Generator) -> None:
    torch.set_rng_state(rng["torch"])
    data.set_state(rng["data"])
    np.random.set_state(("MT19937", np.array(rng["numpy"][:-1], dtype=np.uint32), rng["numpy"][-1]))
    random.setstate((3, tuple(rng["python"]), None))
