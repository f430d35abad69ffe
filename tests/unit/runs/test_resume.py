"""A resume on another device: tagged where each part ran, and refused where the precision would change."""
from types import SimpleNamespace

import pytest

from tracker.config import make_config
from tracker.errors import ConfigError
from tracker.runs import resume


def test_a_resume_elsewhere_is_tagged_and_a_precision_change_refused(monkeypatch):
    info = SimpleNamespace(run_id="r1", tags={}, params={"device_used": "cuda:0", "channels_last": "True",
                                                         "precision_used": "bf16"})
    on_cpu = SimpleNamespace(params={"device_used": "cpu", "channels_last": "False"}, precision="bf16")
    at_home = SimpleNamespace(params={"device_used": "cuda:0", "channels_last": "True"}, precision="bf16")
    assert resume._moved(info, at_home, {"epoch": 2}) == {}
    first = resume._moved(info, on_cpu, {"epoch": 2})
    assert first == {"tracker.resumed_on": "epoch 3: cpu, bf16, channels_last False"}
    info.tags.update(first)  # once moved, every later part says where it ran, home included
    assert resume._moved(info, at_home, {"epoch": 4}) == {"tracker.resumed_on": (
        "epoch 3: cpu, bf16, channels_last False; epoch 5: cuda:0, bf16, channels_last True")}

    monkeypatch.setattr(resume, "effective_precision", lambda d, precision: "fp32")  # no native bf16
    with pytest.raises(ConfigError) as err:
        resume._same_precision(info, make_config({"precision": "bf16", "device": "cpu"}))
    assert str(err.value) == ("config key 'device': run r1 trained in bf16 on cuda:0, and cpu would "
                              "continue it in fp32 (bf16 needs a device with native bf16); resume it "
                              "where it trains in bf16 (--set device=...)")
    monkeypatch.setattr(resume, "effective_precision", lambda d, precision: precision)
    resume._same_precision(info, make_config({"precision": "bf16", "device": "cpu"}))  # no error
