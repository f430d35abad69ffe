"""A sweep's local worker pool: each worker its own slot of the round-robin over the GPUs, and
the share of a GPU's memory the sweep gives workers that share one."""
import multiprocessing as mp
import os

from tracker.ml import device
from tracker.runs.pool import worker_pool


def _slot_of_this_worker(barrier) -> tuple[int, int | None, float | None]:
    if barrier is not None:
        barrier.wait(timeout=300)  # both workers hold a task at once, however slow they start
    return os.getpid(), device.PLACEMENT.slot, device.PLACEMENT.share


def test_each_pool_worker_gets_its_own_slot():
    with mp.Manager() as manager, worker_pool(2) as pool:
        seen = set(pool.map(_slot_of_this_worker, [manager.Barrier(2)] * 4))  # two rounds, a task a worker
    slots = {pid: {slot for p, slot, _ in seen if p == pid} for pid, _, _ in seen}
    assert sorted(s for v in slots.values() for s in v) == [0, 1]  # two workers, slots 0 and 1
    assert all(len(v) == 1 for v in slots.values())  # a worker keeps its slot


def test_each_pool_worker_gets_the_sweeps_share_of_a_gpu():
    with worker_pool(2, 0.25) as pool:
        assert {s[2] for s in pool.map(_slot_of_this_worker, [None] * 4)} == {0.25}
    with worker_pool(2) as pool:
        assert {s[2] for s in pool.map(_slot_of_this_worker, [None] * 4)} == {None}  # a GPU each, or none
