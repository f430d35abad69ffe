"""docs/config.md is generated from RunConfig's fields, where each key's doc is written once
(`python -m tracker.config`): the file must be what the fields say now, so a key added or a doc
changed without regenerating fails here; a key without a doc fails the generator itself."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from tracker import config
from tracker.config import make_config
from tracker.errors import ConfigError


def _same_fields(**docs: str) -> type:
    """A copy of RunConfig, with the docs given (key -> doc) in place of its own."""
    hints = typing.get_type_hints(config.RunConfig)
    spec = [(f.name, hints[f.name], config._key(f.default, docs.get(f.name, f.metadata["doc"]),
                                                f.metadata["values"]))
            for f in dataclasses.fields(config.RunConfig)]
    return dataclasses.make_dataclass("RunConfig", spec, frozen=True)


def test_docs_config_md_is_current():
    assert config.REFERENCE.read_text() == config.reference(), \
        "docs/config.md is stale: run `python -m tracker.config`"


def test_every_key_is_in_the_table_once_with_its_doc_and_values():
    text = config.reference()
    for f in dataclasses.fields(config.RunConfig):
        assert text.count(f"| `{f.name}` |") == 1, f.name
        assert f.metadata["doc"] in text, f.name
    assert "| `norm` | str | `\"batch\"` | `batch`, `layer`, `group`, `none` |" in text
    assert "`mnist-fast`" in text.split("| `arch` |")[1].split("\n")[0]  # from the models' registry
    assert "| `max_params` | int or unset | unset |" in text


def test_the_check_fails_on_a_new_key_or_a_changed_doc():
    current = config.REFERENCE.read_text()
    assert config.reference(_same_fields()) == current  # a faithful copy passes: the check can pass
    changed = _same_fields(lr="The learning rate, > 0; with onecycle its peak, and a typo'd doc.")
    assert config.reference(changed) != current
    added = dataclasses.make_dataclass("RunConfig", [("tf32", bool, config._key(False, "TF32 matmuls."))],
                                       bases=(config.RunConfig,), frozen=True)
    assert config.reference(added) != current and "| `tf32` | bool | `false` |" in config.reference(added)


def test_a_key_without_a_doc_is_refused():
    bare = dataclasses.make_dataclass("RunConfig", [("tf32", bool, dataclasses.field(default=False))],
                                      bases=(config.RunConfig,), frozen=True)
    with pytest.raises(ValueError, match="config key 'tf32' has no doc"):
        config.reference(bare)


def test_config_takes_a_gpu_index_and_refuses_a_malformed_device():
    assert make_config({"device": "cuda:1"}).device == "cuda:1"
    for bad in ("cuda:x", "gpu", "cuda:01", "cuda:-1"):
        with pytest.raises(ConfigError) as err:
            make_config({"device": bad})
        assert str(err.value).count("\n") == 0
        assert f"config key 'device': unknown value {bad!r}" in str(err.value) and "cuda:N" in str(err.value)


def test_tf32_is_off_by_default_and_a_bool():
    assert make_config({}).tf32 is False  # full fp32 unless asked: see docs/deployment.md
    assert make_config({"tf32": True, "device": "cuda:0"}).as_params()["tf32"] == "True"
    assert make_config({"tf32": True, "device": "cpu"}).tf32  # asked where it cannot run: full fp32 there
    with pytest.raises(ConfigError) as err:
        make_config({"tf32": "yes"})
    assert str(err.value) == "config key 'tf32': expected bool, got 'yes'"
