"""Will it fit: a batch against its device's free memory (a GPU asked by index, MPS, the host),
and a sweep's workers against the GPUs they share; the GPUs are fakes (tests.helpers.FakeCuda)."""
import multiprocessing as mp

import pytest
import torch

from tests.helpers import GiB, FakeCuda
from tracker.config import make_config
from tracker.errors import ConfigError, UserError
from tracker.ml import device, memory
from tracker.ml.device import use
from tracker.ml.models import IN_SHAPE, build_model

pytestmark = pytest.mark.usefixtures("placement")
PER_PROCESS = memory.CUDA_CONTEXT + memory.CUDA_LIBRARIES


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


# -- several sweep workers on one GPU ---------------------------------------------------------------

def test_how_many_workers_may_share_a_gpu():
    assert memory.crowd(8, 1, {"auto"}) == 8  # test_processes.py's 8 workers, one GPU
    assert memory.crowd(8, 2, {"auto", "cuda"}) == 4 and memory.crowd(5, 2, {"auto"}) == 3  # round-robin
    assert memory.crowd(4, 2, {"auto", "cuda:1"}) == 4  # a GPU named by index may get them all
    assert memory.crowd(8, 0, {"auto"}) == memory.crowd(8, 2, {"cpu"}) == memory.crowd(1, 1, {"auto"}) == 1


def test_workers_that_share_a_gpu_share_its_memory_and_fit_together(monkeypatch, restore_kernels):
    fake = FakeCuda(monkeypatch, gpus=((8, 0),), free=(15 * GiB,), total=16 * GiB)
    share = memory.worker_share(8, {"auto"})
    assert share == pytest.approx((16 * GiB / 8 - PER_PROCESS) / (16 * GiB))  # 1 GiB each, of 16
    assert 8 * (share * 16 * GiB + PER_PROCESS) <= 16 * GiB  # all eight fit, contexts included
    assert memory.worker_share(1, {"auto"}) is memory.worker_share(8, {"cpu"}) is None

    device.claim_slot(mp.get_context("spawn").Value("i", 0), share)  # worker 0 of the pool
    gpu = device.pick_device("auto")
    use(gpu)
    assert ("fraction", share, 0) in fake.calls  # its allocator is capped to its share
    assert memory.available_bytes(gpu) == int(share * 16 * GiB)  # not the 15 GiB free
    model = build_model(make_config({"arch": "s8", "dataset": "cifar10"}))
    with pytest.raises(ConfigError) as err:
        memory.check(model, IN_SHAPE["cifar10"], 4096, 50000, 0, gpu, 4)
    assert "GiB free for this run (its share of the GPU: 6%); use at most about" in str(err.value)
    assert "\n" not in str(err.value)


def test_too_many_workers_for_a_gpu_are_refused_in_one_line(monkeypatch):
    FakeCuda(monkeypatch, gpus=((8, 0), (8, 0)), free=(15 * GiB, 15 * GiB), total=16 * GiB)
    with pytest.raises(UserError) as err:
        memory.worker_share(40, {"auto"})  # 20 a GPU: 20 GiB of contexts and libraries alone
    assert str(err.value) == ("--workers 40: up to 20 processes on one GPU would need about 20.0 GiB for "
                              "their CUDA contexts and libraries alone (estimated), over the 16.0 GiB of a "
                              "GPU here; use at most --workers 30")
    assert memory.worker_share(30, {"auto"}) > 0  # the most it names fits
    with pytest.raises(UserError, match="use at most --workers 15$"):
        memory.worker_share(16, {"cuda:0"})  # all sixteen may train on cuda:0


def test_a_gpu_in_exclusive_process_mode_takes_one_worker(monkeypatch):
    import pynvml

    FakeCuda(monkeypatch, gpus=((8, 0), (8, 0)))
    modes = {"gpu0": pynvml.NVML_COMPUTEMODE_DEFAULT, "gpu1": pynvml.NVML_COMPUTEMODE_EXCLUSIVE_PROCESS}
    monkeypatch.setattr(torch.cuda, "_get_pynvml_handler", lambda i: f"gpu{i}")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetComputeMode", lambda handle: modes[handle])
    assert memory.worker_share(2, {"auto"}) is None  # one worker a GPU: nothing shared, nothing asked
    with pytest.raises(UserError) as err:
        memory.worker_share(4, {"auto"})
    assert str(err.value) == ("--workers 4: cuda:1 is in exclusive-process mode (one process at a time), "
                              "and up to 2 workers would share it; use --workers 2")

    def no_driver(i):
        raise RuntimeError("cuda driver can't be loaded, is cuda enabled?")

    monkeypatch.setattr(torch.cuda, "_get_pynvml_handler", no_driver)
    assert not memory.exclusive(1)  # NVML cannot tell: the memory check still holds
