"""The GPU and MPS paths, run here with torch's CUDA and MPS functions replaced by fakes that
answer as a host with those devices would (and refuse what torch 2.4 refuses); on a GPU host the
same code runs for real under benchmarks/gpu_check.sh."""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import random
import time

import numpy as np
import pytest
import torch

from tracker.config import make_config
from tracker.errors import ConfigError, UserError
from tracker.ml import checkpoint, data, device, memory
from tracker.ml.data import Batches, Split
from tracker.ml.device import autocast, channels_last, effective_precision, pick_device, use
from tracker.ml.models import IN_SHAPE, build_model
from tracker.ml.train import evaluate
from tracker.runs import ray_executor
from tracker.runs.pool import worker_pool

GiB = 1024 ** 3


@pytest.fixture(autouse=True)
def placement(monkeypatch):
    """Each test starts as a plain process: no worker slot, no Ray reservation."""
    for field, value in (("slot", None), ("cpu_only", False), ("share", None)):
        monkeypatch.setattr(device.PLACEMENT, field, value)


class FakeCuda:
    """torch.cuda on a host with these GPUs (compute capability, free and total bytes each),
    recording the calls that change state."""

    def __init__(self, monkeypatch, gpus=((8, 0), (8, 0)), free=(6 * GiB, 3 * GiB), total=16 * GiB):
        self.gpus, self.free, self.total, self.current, self.calls = gpus, free, total, 0, []
        for name, fn in (("is_available", lambda: True), ("device_count", lambda: len(gpus)),
                         ("set_device", lambda d: self.calls.append(("set_device", d))),
                         ("set_per_process_memory_fraction", lambda f, d=None: self.calls.append(("fraction", f, d))),
                         ("mem_get_info", self.mem_get_info), ("memory_reserved", lambda d=None: 0),
                         ("device", self.device), ("is_bf16_supported", self.is_bf16_supported)):
            monkeypatch.setattr(torch.cuda, name, fn)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)

    def mem_get_info(self, device=None):
        if not isinstance(device, int):  # torch 2.4: a device without an index raises
            raise ValueError("Expected a torch.device with a specified index or an integer")
        return self.free[device], self.total

    @contextlib.contextmanager
    def device(self, d):
        before, self.current = self.current, d.index if isinstance(d, torch.device) else d
        try:
            yield
        finally:
            self.current = before

    def is_bf16_supported(self, including_emulation=True):
        """Asked of the current device: native from compute capability 8, else emulated."""
        return self.gpus[self.current][0] >= 8 or including_emulation


# -- which device, by index ---------------------------------------------------------------------

def test_config_takes_a_gpu_index_and_refuses_a_malformed_device():
    assert make_config({"device": "cuda:1"}).device == "cuda:1"
    for bad in ("cuda:x", "gpu", "cuda:01", "cuda:-1"):
        with pytest.raises(ConfigError) as err:
            make_config({"device": bad})
        assert str(err.value).count("\n") == 0
        assert f"config key 'device': unknown value {bad!r}" in str(err.value) and "cuda:N" in str(err.value)


def test_a_gpu_index_that_is_not_there_is_one_line_naming_what_is(monkeypatch):
    FakeCuda(monkeypatch)
    assert pick_device("cuda:1") == torch.device("cuda", 1)
    assert pick_device("cuda") == torch.device("cuda", 0) == pick_device("auto")
    with pytest.raises(ConfigError) as err:
        pick_device("cuda:2")
    assert str(err.value) == ("config key 'device': cuda:2 is not available on this machine; it has "
                              "cuda:0, cuda:1, cpu (use device = \"auto\" to pick the best of them)")


def test_sweep_workers_spread_round_robin_over_the_gpus(monkeypatch):
    FakeCuda(monkeypatch, gpus=((8, 0),) * 3)
    counter = mp.get_context("spawn").Value("i", 0)
    picked = []
    for _ in range(5):  # five workers, as worker_pool's initializer numbers them
        device.claim_slot(counter)
        picked.append((str(pick_device("auto")), str(pick_device("cuda")), str(pick_device("cuda:2"))))
    assert [p[0] for p in picked] == ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]
    assert [p[1] for p in picked] == [p[0] for p in picked]
    assert {p[2] for p in picked} == {"cuda:2"}  # a named GPU stays where it was named


def _slot_of_this_worker(_: int) -> tuple[int, int | None]:
    time.sleep(0.3)  # long enough that both workers take a task
    return os.getpid(), device.PLACEMENT.slot


def test_each_pool_worker_gets_its_own_slot():
    with worker_pool(2) as pool:
        seen = set(pool.map(_slot_of_this_worker, range(6)))
    slots = {pid: {slot for p, slot in seen if p == pid} for pid, _ in seen}
    assert sorted(s for v in slots.values() for s in v) == [0, 1]  # two workers, slots 0 and 1
    assert all(len(v) == 1 for v in slots.values())  # a worker keeps its slot


# -- what a GPU process sets up -----------------------------------------------------------------

@pytest.fixture
def restore_kernels(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", torch.backends.cudnn.benchmark)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", torch.backends.cudnn.deterministic)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])  # its imports, before any fake
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_a_gpu_run_gets_its_device_and_deterministic_kernels(monkeypatch, restore_kernels):
    fake = FakeCuda(monkeypatch)
    use(torch.device("cuda", 1), deterministic=True)
    assert fake.calls == [("set_device", torch.device("cuda", 1))]  # no memory cap outside Ray
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == (False, True)
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    use(torch.device("cuda", 0), deterministic=False)
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == (True, False)
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_cpu_run_changes_no_kernel_setting(restore_kernels):
    before = torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()
    use(torch.device("cpu"), deterministic=True)
    assert (torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()) == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


# -- precision, autocast and layout -------------------------------------------------------------

def test_bf16_only_on_gpus_that_have_it_natively(monkeypatch):
    FakeCuda(monkeypatch, gpus=((7, 5), (8, 0)), free=(GiB, GiB))  # a T4 (emulates bf16), an A100
    assert effective_precision(torch.device("cuda", 0), "bf16") == "fp32"
    assert effective_precision(torch.device("cuda", 1), "bf16") == "bf16"
    assert effective_precision(torch.device("cuda", 1), "fp32") == "fp32"
    assert effective_precision(torch.device("mps"), "bf16") == "fp32"


def test_fp32_builds_no_autocast_and_bf16_computes_in_bf16(monkeypatch):
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.mm(a, b).dtype == torch.bfloat16

    def refused(*args, **kwargs):  # torch 2.4 raises on torch.autocast(device_type="mps")
        raise RuntimeError("User specified an unsupported autocast device_type 'mps'")

    monkeypatch.setattr(torch, "autocast", refused)
    for where in ("mps", "cuda", "cpu"):
        with autocast(torch.device(where), "fp32"):
            assert torch.mm(a, b).dtype == torch.float32


def test_channels_last_on_cuda_only_where_the_norm_keeps_it():
    cuda = torch.device("cuda", 0)
    for shape in (IN_SHAPE["mnist"], IN_SHAPE["cifar10"]):
        assert channels_last(cuda, "batch", shape) and channels_last(cuda, "none", shape)
        assert not channels_last(cuda, "group", shape) and not channels_last(cuda, "layer", shape)
    assert not channels_last(torch.device("mps"), "batch", IN_SHAPE["cifar10"])


# -- will it fit ------------------------------------------------------------------------------

def test_gpu_memory_is_asked_by_index(monkeypatch):
    FakeCuda(monkeypatch, free=(6 * GiB, 3 * GiB))
    assert memory.available_bytes(torch.device("cuda", 1)) == 3 * GiB - memory.CUDA_LIBRARIES
    assert memory.available_bytes(torch.device("cuda", 0)) == 6 * GiB - memory.CUDA_LIBRARIES
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert memory.available_bytes(torch.device("cuda")) == 3 * GiB - memory.CUDA_LIBRARIES


def test_mps_memory_is_what_metal_recommends_else_the_hosts(monkeypatch):
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 12 * GiB, raising=False)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 2 * GiB)
    assert memory.available_bytes(torch.device("mps")) == 10 * GiB
    monkeypatch.delattr(torch.mps, "recommended_max_memory")  # torch 2.4 has no such call

    class Host:
        available = 5 * GiB

    monkeypatch.setattr(memory.psutil, "virtual_memory", lambda: Host)
    assert memory.available_bytes(torch.device("mps")) == 5 * GiB
    assert memory.available_bytes(torch.device("cpu")) == 5 * GiB


def test_the_estimate_counts_the_optimizer_state_and_every_split(monkeypatch):
    model = build_model(make_config({"arch": "s8", "dataset": "cifar10"}))
    weights = sum(p.numel() for p in model.parameters()) * 4
    monkeypatch.setattr(memory, "available_bytes", lambda d: 64 * GiB)

    def need(copies, data_bytes=0):
        return memory.check(model, IN_SHAPE["cifar10"], 64, 1000, data_bytes, torch.device("cpu"), copies)

    assert memory.state_copies("adam", 0.9, 0.0) == 4 and memory.state_copies("sgd", 0.0, 0.0) == 2
    assert memory.state_copies("sgd", 0.9, 0.999) == 4
    assert need(memory.state_copies("adam", 0.0, 0.0)) - need(memory.state_copies("sgd", 0.0, 0.0)) == 2 * weights
    assert need(2, data_bytes=12345) - need(2) == 12345


def test_prepare_counts_the_validation_split(tiny, monkeypatch):
    from tracker.runs.prepare import prepare

    seen = []
    real = memory.check

    def check(*args):
        seen.append(args[4])  # data_bytes: the splits on the device
        return real(*args)

    monkeypatch.setattr(memory, "check", check)
    p = prepare(make_config({**tiny, "val_split": 0.25}))
    assert len(p.train) + len(p.val) == 600 and len(p.val) > 100 and len(p.test) == 200
    assert seen == [(600 + 200) * 28 * 28]


# -- Ray: which GPU a task gets -----------------------------------------------------------------

def test_ray_refuses_what_a_run_could_not_use():
    for gpus, devices, words in ((2, {"auto"}, "--gpus-per-run 2: a run trains on one GPU"),
                                 (1.5, {"auto"}, "--gpus-per-run 1.5"),
                                 (1, {"cuda:1"}, "'device': cuda:1 names a GPU by index"),
                                 (0, {"cuda"}, "'device': cuda, but --gpus-per-run is 0")):
        with pytest.raises(UserError) as err:
            ray_executor.check_gpus(gpus, devices)
        assert words in str(err.value) and "\n" not in str(err.value)
    for gpus in (0, 0.25, 1):
        ray_executor.check_gpus(gpus, {"auto", "cpu"})


def test_ray_says_where_runs_train_when_gpus_go_unused_or_shared():
    assert ray_executor.gpu_note(0, {"auto"}, 4) == (
        "note: the cluster has 4 GPUs, but --gpus-per-run is 0: runs with device auto train on "
        "the CPU (--gpus-per-run 1, or 0.5 for two runs a GPU, uses them)")
    assert ray_executor.gpu_note(0.25, {"auto"}, 4) == ("note: --gpus-per-run 0.25: up to 4 runs "
                                                        "share a GPU, each capped at 25% of its memory")
    assert ray_executor.gpu_note(0, {"auto"}, 0) == ray_executor.gpu_note(1, {"auto"}, 4) == ""
    assert ray_executor.gpu_note(0, {"cpu"}, 4) == ""


def test_a_ray_task_without_a_gpu_trains_on_the_cpu(monkeypatch):
    FakeCuda(monkeypatch, gpus=((8, 0),))  # Ray leaves the node's GPU visible to the task
    ray_executor.place_task(0)
    assert pick_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="cuda is not available on this machine; it has cpu"):
        pick_device("cuda")


def test_a_ray_task_with_a_gpu_share_is_capped_to_it(monkeypatch, restore_kernels):
    fake = FakeCuda(monkeypatch, gpus=((8, 0),), free=(12 * GiB,), total=16 * GiB)
    ray_executor.place_task(0.25)
    gpu = pick_device("auto")
    assert gpu == torch.device("cuda", 0)
    use(gpu)
    assert ("fraction", 0.25, 0) in fake.calls
    assert memory.available_bytes(gpu) == 4 * GiB  # a quarter of 16, not the 12 free
    ray_executor.place_task(1)
    assert memory.available_bytes(gpu) == 12 * GiB - memory.CUDA_LIBRARIES


# -- the data on its way to the device ----------------------------------------------------------

def test_copies_to_a_gpu_are_pinned_and_to_mps_plain(monkeypatch):
    copies = []

    def pin(self):
        pinned = self.clone()
        pinned.pinned_here = True
        return pinned

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    monkeypatch.setattr(torch.Tensor, "to", lambda self, d, non_blocking=False: copies.append(
        (getattr(self, "pinned_here", False), str(d), non_blocking)) or self)
    data.to_device(torch.arange(4), torch.device("cuda", 1))
    data.to_device(torch.arange(4), torch.device("mps"))
    assert copies == [(True, "cuda:1", True), (False, "mps", False)]


def _split(n=40, channels=3, size=32):
    gen = torch.Generator().manual_seed(0)
    return Split(torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen),
                 torch.randint(0, 10, (n,), generator=gen))


def test_an_epoch_makes_no_non_blocking_copy_from_pageable_memory(monkeypatch):
    unpinned = []
    real = torch.Tensor.to

    def spy(self, *args, **kwargs):
        if kwargs.get("non_blocking") and self.device.type == "cpu" and not self.is_pinned():
            unpinned.append(tuple(self.shape))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    meta = torch.device("meta")  # a device other than the CPU, without a GPU
    batches = Batches(_split(), "cifar10", 16, meta, shuffle=True, augment="crop-flip", seed=1)
    shapes = [(tuple(x.shape), x.device.type, y.device.type) for x, y in batches]
    assert shapes == [((16, 3, 32, 32), "meta", "meta")] * 2 + [((8, 3, 32, 32), "meta", "meta")]
    assert unpinned == []


def test_albumentations_keeps_the_split_on_the_cpu_and_sends_each_batch_once():
    meta = torch.device("meta")
    batches = Batches(_split(), "cifar10", 16, meta, shuffle=True, augment="albumentations", seed=1)
    assert batches.images.device.type == "cpu" and batches.labels.device.type == "cpu"
    x, y = next(iter(batches))
    assert (x.device.type, y.device.type, x.dtype, tuple(x.shape)) == ("meta", "meta", torch.float32, (16, 3, 32, 32))
    plain = Batches(_split(), "cifar10", 16, meta)
    assert plain.images.device.type == "meta"  # every other path keeps the split on the device


def test_evaluation_syncs_once_not_per_batch(monkeypatch):
    torch.manual_seed(0)
    model = build_model(make_config({"arch": "mnist-small", "dropout": 0.0}))
    split = _split(n=100, channels=1, size=28)
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


# -- checkpoints hold every generator the device draws from -------------------------------------

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


# -- a resume on another device -----------------------------------------------------------------

def test_a_resume_elsewhere_is_tagged_and_a_precision_change_refused(monkeypatch):
    from types import SimpleNamespace

    from tracker.runs import resume

    info = SimpleNamespace(run_id="r1", tags={}, params={"device_used": "cuda:0", "channels_last": "True",
                                                         "precision_used": "bf16"})
    on_cpu = SimpleNamespace(params={"device_used": "cpu", "channels_last": "False"}, precision="bf16")
    at_home = SimpleNamespace(params={"device_used": "cuda:0", "channels_last": "True"}, precision="bf16")
    assert resume._moved(info, at_home, {"epoch": 2}) == {}
    first = resume._moved(info, on_cpu, {"epoch": 2})
    assert first == {"tracker.resumed_on": "epoch 3: cpu, bf16, channels_last False"}
    info.tags.update(first)  # once moved, every later part says where it ran, home included
    assert resume._moved(info, at_home, {"epoch": 4}) == {"tracker.resumed_on": (
        "epoch 3: cpu, bf16, channels_last False; epoch 5: cuda:0, bf16, channels_last True")}

    monkeypatch.setattr(resume, "effective_precision", lambda d, precision: "fp32")  # no native bf16
    with pytest.raises(ConfigError) as err:
        resume._same_precision(info, make_config({"precision": "bf16", "device": "cpu"}))
    assert str(err.value) == ("config key 'device': run r1 trained in bf16 on cuda:0, and cpu would "
                              "continue it in fp32 (bf16 needs a device with native bf16); resume it "
                              "where it trains in bf16 (--set device=...)")
    monkeypatch.setattr(resume, "effective_precision", lambda d, precision: precision)
    resume._same_precision(info, make_config({"precision": "bf16", "device": "cpu"}))  # no error
