"""The evaluation loop: one sync per evaluation, not per batch (a GPU would wait on each)."""
import pytest
import torch

from tracker.config import make_config
from tracker.ml.data import Batches, Split
from tracker.ml.models import build_model
from tracker.ml.train import evaluate


def test_evaluation_syncs_once_not_per_batch(monkeypatch):
    torch.manual_seed(0)
    model = build_model(make_config({"arch": "mnist-small", "dropout": 0.0}))
    gen = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (100, 1, 28, 28), dtype=torch.uint8, generator=gen),
                  torch.randint(0, 10, (100,), generator=gen))
    whole = next(iter(Batches(split, "mnist", 100, torch.device("cpu"))))  # one batch: the reference
    with torch.no_grad():
        model.eval()
        scores = model(whole[0])
    calls = []
    real = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: calls.append(1) or real(self))
    out = evaluate(model, Batches(split, "mnist", 16, torch.device("cpu")))  # 7 batches
    assert len(calls) == 2  # the loss and the accuracy, once each
    monkeypatch.undo()
    assert out["test_acc"] == (scores.argmax(1) == whole[1]).sum().item() / 100
    loss = torch.nn.functional.cross_entropy(scores, whole[1]).item()
    assert out["test_loss"] == pytest.approx(loss, rel=1e-5)
