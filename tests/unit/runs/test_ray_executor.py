"""Which GPU a Ray task gets: what a run could not use is refused, a task without a GPU trains on
the CPU, a fraction caps its memory (the GPUs are fakes: tests.helpers.FakeCuda)."""
import pytest
import torch

from tests.helpers import GiB, FakeCuda
from tracker.errors import ConfigError, UserError
from tracker.ml import memory
from tracker.ml.device import pick_device, use
from tracker.runs import ray_executor

pytestmark = pytest.mark.usefixtures("placement")


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
