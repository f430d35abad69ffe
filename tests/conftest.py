"""One tiny CPU config; every output goes to tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import BEST, log_run, store_client
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


@pytest.fixture
def experiment() -> str:
    """The hand-made experiment "hand" in the test store: BEST's runs, and a FAILED batch run and
    a KILLED layer run that do not count."""
    c = store_client()
    exp = c.create_experiment("hand")
    for norm, values in BEST.items():
        for seed, best in enumerate(values, 1):
            log_run(c, exp, norm, seed, best)
    log_run(c, exp, "batch", 9, 0.2, status="FAILED")
    log_run(c, exp, "layer", 9, 0.2, status="KILLED")
    return "hand"
