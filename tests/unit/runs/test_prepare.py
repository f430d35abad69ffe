"""What a run prepares before it exists: the splits the batch-size check counts, and the params
that say how it computes (TF32, determinism), on the CPU here and on a fake GPU."""
import pytest
import torch

from tests.helpers import FakeCuda
from tracker import names
from tracker.config import make_config
from tracker.ml import memory
from tracker.runs.prepare import prepare

pytestmark = pytest.mark.usefixtures("placement")


def test_prepare_counts_the_validation_split(tiny, monkeypatch):
    seen = []
    real = memory.check

    def check(*args):
        seen.append(args[4])  # data_bytes: the splits on the device
        return real(*args)

    monkeypatch.setattr(memory, "check", check)
    p = prepare(make_config({**tiny, "val_split": 0.25}))
    assert len(p.train) + len(p.val) == 600 and len(p.val) > 100 and len(p.test) == 200
    assert seen == [(600 + 200) * 28 * 28]


def test_every_run_records_its_tf32_and_determinism(tiny, monkeypatch, restore_kernels, capsys):
    p = prepare(make_config(tiny))  # this host: the CPU, deterministic as it is, no TF32
    assert (p.params["tf32"], p.params[names.TF32_USED]) == ("False", "False")
    assert (p.params["deterministic"], p.params[names.DETERMINISTIC_USED]) == ("True", "True")
    asked = prepare(make_config({**tiny, "tf32": True}))  # as bf16: where it runs, else full fp32
    assert (asked.params["tf32"], asked.params[names.TF32_USED]) == ("True", "False")
    assert "warning: cpu has no TF32 (a CUDA GPU of Ampere or later has); training in full fp32" in capsys.readouterr().err

    FakeCuda(monkeypatch, gpus=((9, 0), (7, 0)))  # an H100, a V100
    on = prepare(make_config({**tiny, "device": "cuda:0", "tf32": True, "deterministic": False}))
    assert on.device == torch.device("cuda", 0) and on.params["device_used"] == "cuda:0"
    assert (on.params[names.TF32_USED], on.params[names.DETERMINISTIC_USED]) == ("True", "False")
    assert "TF32" not in capsys.readouterr().err
    off = prepare(make_config({**tiny, "device": "cuda:1", "tf32": True}))
    assert (off.params[names.TF32_USED], off.params[names.DETERMINISTIC_USED]) == ("False", "True")
    assert "warning: cuda:1 has no TF32" in capsys.readouterr().err
