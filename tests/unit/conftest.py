"""Fixtures of the pure tests that fake a device (tests.helpers.FakeCuda): a plain process's
placement, and torch's kernel settings put back."""
import pytest


@pytest.fixture
def placement(monkeypatch):
    """The test starts as a plain process: no worker slot, no Ray reservation, no GPU share."""
    from tracker.ml import device

    for field, value in (("slot", None), ("cpu_only", False), ("share", None), ("used", "")):
        monkeypatch.setattr(device.PLACEMENT, field, value)


@pytest.fixture
def restore_kernels(monkeypatch):
    """cuDNN's and cuBLAS's settings (deterministic, benchmark, TF32) as they were before."""
    import torch

    flags = [(torch.backends.cudnn, "benchmark"), (torch.backends.cudnn, "deterministic"),
             (torch.backends.cudnn, "allow_tf32"), (torch.backends.cuda.matmul, "allow_tf32")]
    flags = [(backend, flag, getattr(backend, flag)) for backend, flag in flags]
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])  # its imports, before any fake
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    for backend, flag, value in flags:  # set back by hand: monkeypatch cannot undo torch's modules
        setattr(backend, flag, value)
