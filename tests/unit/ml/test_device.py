"""Device, layout, precision and kernel choices (TF32, determinism), where a sweep's workers and
Ray's tasks train, and the CPU path of the device-resident pipeline. The GPU and MPS paths run
against fakes that answer as a host with those devices would (tests.helpers.FakeCuda)."""
import multiprocessing as mp
import os
import warnings

import pytest
import torch

from tests.helpers import GiB, FakeCuda
from tracker import names
from tracker.errors import ConfigError
from tracker.ml import device
from tracker.ml import device as train
from tracker.ml.data import Batches, Split
from tracker.ml.models import IN_SHAPE
from tracker.ml.device import autocast, channels_last, effective_precision, pick_device, use

pytestmark = pytest.mark.usefixtures("placement")


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


# -- which device, by index ---------------------------------------------------------------------

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


def test_the_device_picked_last_is_what_a_ray_task_reports(monkeypatch):
    FakeCuda(monkeypatch, gpus=((8, 0),) * 2)
    device.claim_slot(mp.get_context("spawn").Value("i", 1))
    pick_device("auto")
    assert device.PLACEMENT.used == "cuda:1"
    device.place(cpu_only=True)
    pick_device("auto")
    assert device.PLACEMENT.used == "cpu"
    assert device.tally(["cuda:0", "cpu", "cuda:0", "cuda:0"]) == "cpu x1, cuda:0 x3"


# -- what a GPU process sets up -----------------------------------------------------------------

def test_a_gpu_run_gets_its_device_and_deterministic_kernels(monkeypatch, restore_kernels):
    fake = FakeCuda(monkeypatch)
    assert use(torch.device("cuda", 1), deterministic=True)[names.DETERMINISTIC_USED] == "True"
    assert fake.calls == [("set_device", torch.device("cuda", 1))]  # no memory cap outside Ray
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == (False, True)
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert use(torch.device("cuda", 0), deterministic=False)[names.DETERMINISTIC_USED] == "False"
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == (True, False)
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_cpu_run_changes_no_kernel_setting(restore_kernels):
    before = torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    assert use(torch.device("cpu"), deterministic=True) == {names.TF32_USED: "False",
                                                            names.DETERMINISTIC_USED: "True"}
    assert (torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()) == before
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == tf32
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert use(torch.device("mps"))[names.DETERMINISTIC_USED] == "unchecked"  # MPS has no switch


def test_tf32_is_off_unless_asked_and_recorded_where_it_runs(monkeypatch, restore_kernels):
    FakeCuda(monkeypatch, gpus=((8, 0), (7, 0)))  # an A100 (TF32 units), a V100 (none)
    torch.backends.cudnn.allow_tf32 = True  # torch's default: cuDNN's convolutions in TF32
    assert use(torch.device("cuda", 0))[names.TF32_USED] == "False"  # tf32 = false, the default
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (False, False)
    assert torch.get_float32_matmul_precision() == "highest"
    assert use(torch.device("cuda", 0), tf32=True)[names.TF32_USED] == "True"
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (True, True)
    assert use(torch.device("cuda", 1), tf32=True)[names.TF32_USED] == "False"  # asked, but no TF32 there


def test_cublas_set_after_the_first_cuda_call_is_not_deterministic(monkeypatch, restore_kernels, capsys):
    fake = FakeCuda(monkeypatch)
    fake.initialized = True  # this process used CUDA before the setting was there
    assert use(torch.device("cuda", 0))[names.DETERMINISTIC_USED] == "False"
    assert "CUBLAS_WORKSPACE_CONFIG was set after this process's first CUDA call" in capsys.readouterr().err
    assert use(torch.device("cuda", 0))[names.DETERMINISTIC_USED] == "True"  # set before, since the first
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    fake.initialized = False
    assert use(torch.device("cuda", 0))[names.DETERMINISTIC_USED] == "True"  # set before CUDA's first call


def test_an_op_without_a_deterministic_kernel_is_recorded(restore_kernels):
    torch.use_deterministic_algorithms(True, warn_only=True)  # as use() sets it on a GPU
    seen = set()
    index, values = torch.tensor([0, 0]), torch.tensor([1.0, 2.0])
    for _ in range(2):  # every time, not once a process: a sweep worker's second run records it too
        seen.clear()
        with device.watch_determinism(seen):
            torch.zeros(4).put_(index, values)  # no deterministic kernel, on the CPU too
            torch.zeros(4).index_put_((index,), values, accumulate=True)  # has one
            warnings.warn(f"{device.REPEATS} does not have a deterministic implementation, but you set ...")
        assert seen == {"put_"}
    with pytest.warns(UserWarning, match="something else"), device.watch_determinism(seen):
        warnings.warn("something else")  # other warnings show as before
    torch.use_deterministic_algorithms(False)
    with device.watch_determinism(seen := set()):
        torch.zeros(4).put_(index, values)
    assert seen == set()  # deterministic = false: nothing to record


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


# -- Ray: where its tasks train ------------------------------------------------------------------

def test_ray_says_where_runs_train_when_gpus_go_unused_or_shared():
    assert device.ray_gpu_note(0, {"auto"}, 4) == (
        "note: the cluster has 4 GPUs, but --gpus-per-run is 0: runs with device auto train on "
        "the CPU (--gpus-per-run 1, or 0.5 for two runs a GPU, uses them)")
    assert device.ray_gpu_note(0.25, {"auto"}, 4) == ("note: --gpus-per-run 0.25: up to 4 runs "
                                                      "share a GPU, each capped at 25% of its memory")
    # no GPU at the start: a cluster that autoscales may add GPU nodes, and auto still means the CPU
    assert device.ray_gpu_note(0, {"auto"}, 0) == (
        "note: --gpus-per-run is 0: runs with device auto train on the CPU, also on GPU nodes the "
        "cluster adds later (--gpus-per-run 1, or 0.5 for two runs a GPU, uses them)")
    assert device.ray_gpu_note(1, {"auto"}, 4) == device.ray_gpu_note(1, {"auto"}, 0) == ""
    assert device.ray_gpu_note(0, {"cpu"}, 4) == device.ray_gpu_note(0, {"cpu"}, 0) == ""
