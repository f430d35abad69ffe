"""Checkpoints hold every generator the device draws from: CPU, each GPU's, MPS's (faked here)."""
import random

import numpy as np
import pytest
import torch

from tests.helpers import FakeCuda
from tracker.ml import checkpoint

pytestmark = pytest.mark.usefixtures("placement")


def test_a_checkpoint_restores_the_cpu_generators_exactly(tmp_path):
    gen = torch.Generator().manual_seed(3)
    torch.manual_seed(1), np.random.seed(2), random.seed(4)
    state = checkpoint.rng_state(gen, torch.device("cpu"))
    assert set(state) == {"torch", "data", "numpy", "python"}
    first = (torch.rand(3), torch.randperm(9, generator=gen), np.random.rand(2), random.random())
    path = checkpoint.save_atomic({"rng": state}, tmp_path / "last.pt")
    checkpoint.restore_rng(checkpoint.load(path)["rng"], gen, torch.device("cpu"))
    again = (torch.rand(3), torch.randperm(9, generator=gen), np.random.rand(2), random.random())
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert np.array_equal(first[2], again[2]) and first[3] == again[3]


def test_a_checkpoint_saves_and_restores_every_gpus_generator(monkeypatch, tmp_path):
    FakeCuda(monkeypatch)
    saved = [torch.tensor([1, 2, 3], dtype=torch.uint8), torch.tensor([4, 5, 6], dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in saved])
    set_all, set_one = [], []
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: set_all.append([s.tolist() for s in states]))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, d: set_one.append((s.tolist(), str(d))))
    state = checkpoint.rng_state(torch.Generator(), torch.device("cuda", 1))  # trained on GPU 1
    path = checkpoint.save_atomic({"rng": state}, tmp_path / "last.pt")
    rng = checkpoint.load(path)["rng"]  # weights_only=True reads them back
    checkpoint.restore_rng(rng, torch.Generator(), torch.device("cuda", 1))
    checkpoint.restore_rng(rng, torch.Generator(), torch.device("cuda", 0))  # a worker on GPU 0 resumes
    assert set_all == [[[1, 2, 3], [4, 5, 6]]] * 2
    assert set_one == [([4, 5, 6], "cuda:1"), ([4, 5, 6], "cuda:0")]  # the run's own generator


def test_a_checkpoint_saves_and_restores_the_mps_generator(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: torch.tensor([7, 8], dtype=torch.uint8))
    restored = []
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda s: restored.append(s.tolist()))
    path = checkpoint.save_atomic({"rng": checkpoint.rng_state(torch.Generator(), torch.device("mps"))},
                                  tmp_path / "last.pt")
    checkpoint.restore_rng(checkpoint.load(path)["rng"], torch.Generator(), torch.device("mps"))
    assert restored == [[7, 8]]
