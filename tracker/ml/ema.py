"""An exponential moving average of a model's weights, updated after every optimizer step.

    tracker train experiments/mnist-fast.toml --set ema=0.99 --data-dir ../shared/datasets
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """shadow <- decay * shadow + (1 - decay) * weights, for every float tensor of the state
    (parameters and norm statistics, as timm's ModelEmaV2); integer buffers are copied.

    Build it after the model has its device and memory layout: it keeps views of the model's
    tensors, so `update()` costs one fused lerp and no state_dict() per step.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        src, dst = model.state_dict(), self.model.state_dict()
        self._float = [(dst[k], v) for k, v in src.items() if v.is_floating_point()]
        self._other = [(dst[k], v) for k, v in src.items() if not v.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        if self._float:
            shadow, live = zip(*self._float)
            torch._foreach_lerp_(list(shadow), list(live), 1 - self.decay)
        for shadow, live in self._other:
            shadow.copy_(live)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)
