"""One epoch of s8 with batch norm on the real MNIST in ../shared/datasets."""
import pytest

from tests.helpers import REAL_MNIST
from tests.helpers import all_runs, cli, sets

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not (REAL_MNIST / "MNIST" / "raw").is_dir(), reason="real MNIST not present")
def test_s8_batchnorm_one_epoch_reaches_97_percent():
    result = cli("train", *sets({"dataset": "mnist", "arch": "s8", "norm": "batch", "epochs": 1,
                                 "data_dir": str(REAL_MNIST), "download": False, "experiment": "real"}))
    assert result.exit_code == 0, result.output
    (run,) = all_runs()
    assert run.data.params["params_total"] == "47890"
    assert run.data.metrics["test_acc"] >= 0.97
