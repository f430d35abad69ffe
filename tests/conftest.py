"""One tiny CPU config; every output goes to tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

from tracker.testkit.fakedata import write_mnist


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh embedded store in tmp_path; no server, no progress bars."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TRACKER_DATA_DIR", raising=False)
    monkeypatch.setenv("TRACKER_STORE", str(tmp_path / "mlruns"))
    monkeypatch.setenv("TRACKER_PROGRESS", "0")
    return tmp_path


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    return write_mnist(tmp_path_factory.mktemp("data"))


@pytest.fixture
def tiny(mnist_dir) -> dict:
    """Overrides for a run that takes seconds."""
    return {"dataset": "mnist", "arch": "mnist-small", "epochs": 2, "batch_size": 32,
            "lr": 0.05, "dropout": 0.0, "data_dir": str(mnist_dir), "experiment": "tiny",
            "download": False}
