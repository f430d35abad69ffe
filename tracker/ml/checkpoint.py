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


def rng_state(data: torch.Generator, device: torch.device | None = None) -> dict:
    """Every RNG a run draws from: torch's CPU generator, the device's (on a GPU, dropout draws
    from it: every visible GPU's, or MPS's), the data order, numpy, python."""
    state = {"torch": torch.get_rng_state(), "data": data.get_state(),
             "numpy": [int(v) for v in np.random.get_state()[1]] + [int(np.random.get_state()[2])],
             "python": list(random.getstate()[1])}
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
        state["cuda_index"] = device.index  # the GPU the run trained on
    elif device is not None and device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore_rng(rng: dict, data: torch.Generator, device: torch.device | None = None) -> None:
    """Set them back. A checkpoint from another device leaves this device's generator as the
    run's seed set it: the run goes on, but does not repeat an uninterrupted one exactly."""
    torch.set_rng_state(rng["torch"])
    data.set_state(rng["data"])
    np.random.set_state(("MT19937", np.array(rng["numpy"][:-1], dtype=np.uint32), rng["numpy"][-1]))
    random.setstate((3, tuple(rng["python"]), None))
    if device is not None and device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state_all(rng["cuda"][:torch.cuda.device_count()])
        # the run's own generator onto the GPU it runs on now (a sweep worker may get another)
        torch.cuda.set_rng_state(rng["cuda"][rng["cuda_index"]], device)
    elif device is not None and device.type == "mps" and "mps" in rng:
        torch.mps.set_rng_state(rng["mps"])
