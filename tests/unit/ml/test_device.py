"""Device, layout and precision choices, and the CPU path of the device-resident pipeline."""
import pytest
import torch

from tracker.ml import device as train
from tracker.ml.data import Batches, Split
from tracker.ml.models import IN_SHAPE
from tracker.ml.device import channels_last, effective_precision, pick_device


def _fake_accelerators(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(cuda))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"),
                                                 (False, False, "cpu")])
def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _fake_accelerators(monkeypatch, cuda, mps)
    assert pick_device("auto").type == expected
    assert pick_device("cpu").type == "cpu"  # a named device wins


def test_layout_is_the_measured_choice():
    """The decisions benchmarks/pipeline.py measured, written out (not read back from the table):
    CPU fp32 channels_last for every norm; CPU bf16 for all but GroupNorm; CUDA for BatchNorm and
    no norm only (its GroupNorm kernel returns channels-first); MPS never."""
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    for shape in (IN_SHAPE["mnist"], IN_SHAPE["cifar10"]):
        assert [channels_last(cpu, n, shape, "fp32") for n in ("batch", "layer", "group", "none")] == [True] * 4
        assert [channels_last(cpu, n, shape, "bf16") for n in ("batch", "layer", "group", "none")] == [
            True, True, False, True]
        assert [channels_last(cuda, n, shape) for n in ("batch", "layer", "group", "none")] == [
            True, False, False, True]
        assert not any(channels_last(mps, n, shape) for n in ("batch", "layer", "group", "none"))


def test_bf16_falls_back_to_fp32_where_it_would_be_emulated(monkeypatch):
    cpu = torch.device("cpu")
    assert effective_precision(cpu, "fp32") == "fp32"
    monkeypatch.setattr(train, "bf16_supported", lambda device: False)
    assert effective_precision(cpu, "bf16") == "fp32"
    monkeypatch.setattr(train, "bf16_supported", lambda device: True)
    assert effective_precision(cpu, "bf16") == "bf16"


def test_bf16_support_is_read_off_the_cpu():
    flags = open("/proc/cpuinfo").read().split() if __import__("os").path.exists("/proc/cpuinfo") else []
    if not flags:
        pytest.skip("no /proc/cpuinfo here")
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert train.bf16_supported(torch.device("cpu")) == native


def test_batches_live_on_the_device_in_the_chosen_layout():
    gen = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (50, 3, 32, 32), dtype=torch.uint8, generator=gen),
                  torch.randint(0, 10, (50,), generator=gen))
    cpu = torch.device("cpu")
    nhwc = Batches(split, "cifar10", 16, cpu, shuffle=True, augment="crop-flip", seed=3, channels_last=True)
    nchw = Batches(split, "cifar10", 16, cpu, shuffle=True, augment="crop-flip", seed=3)
    assert nhwc.images.device == cpu and nhwc.images.dtype == torch.uint8  # uint8, moved once
    for (a, ya), (b, yb) in zip(nhwc, nchw):
        assert a.is_contiguous(memory_format=torch.channels_last) and b.is_contiguous()
        assert a.dtype == torch.float32 and a.shape[1:] == (3, 32, 32)
        assert torch.equal(a, b) and torch.equal(ya, yb)  # same values, only the layout differs
    assert [len(y) for _, y in nhwc] == [16, 16, 16, 2]


@pytest.mark.parametrize("env, expected", [({}, None), ({"OMP_NUM_THREADS": "1"}, 1),
                                           ({"TRACKER_THREADS": "1", "OMP_NUM_THREADS": "8"}, 1),
                                           ({"OMP_NUM_THREADS": "999"}, None)])
def test_threads_follow_the_cores_or_the_pools_limit(monkeypatch, env, expected):
    import os

    for var in ("TRACKER_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    before = torch.get_num_threads()
    try:
        cores = len(os.sched_getaffinity(0))
        assert train.set_threads() == (expected or cores) == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
