"""Runs whose tracking calls waited for a server that was down, replayed once it answers
(`tracker sync`); a model that waited is rebuilt from the run's last checkpoint.

    tracker sync
"""
from __future__ import annotations

import torch

from ..ml import checkpoint, inference
from ..ml.models import IN_SHAPE, build_model


def model_from_checkpoint(run_id: str) -> inference.Package:
    """The final model of a run rebuilt from its last checkpoint (for `tracker sync`, which
    logs a model that waited for the server); its input example is random pixels (the data
    may not be on this machine)."""
    from ..config import make_config

    state = checkpoint.load(checkpoint.folder(run_id) / checkpoint.LAST)
    cfg = make_config(state["config"])
    model = build_model(cfg)
    model.load_state_dict(state.get("ema", state["model"]))  # the weights that were evaluated
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, *IN_SHAPE[cfg.dataset]), generator=gen, dtype=torch.uint8)
    return inference.package(model, cfg.dataset, cfg.tta, images)


def sync() -> dict[str, int]:
    """Replay every run's outbox (`tracker sync`); a model that waited is rebuilt from its
    checkpoint. Returns run id -> calls replayed (or -1: the server is still down)."""
    from ..tracking import replay

    return replay.sync(model_from_checkpoint)
