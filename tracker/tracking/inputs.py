"""A run's datasets as MLflow dataset inputs (the runs table's Dataset column): made from the
plain dicts of tracker/fingerprint.py, and read back as plain dicts for `tracker report`.

    tracker report --experiment mnist-demo --output report/
"""
from __future__ import annotations

import json

from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from .client import client, edge, get


def entity(d: dict) -> DatasetInput:
    """One split: name, digest, local source, profile (sizes, files, sha256), context tag."""
    meta = MetaDataset(LocalArtifactDatasetSource(d["source"]), name=d["name"], digest=d["digest"]).to_dict()
    profile = {**d.get("profile", {}), "shape": d.get("shape")}
    dataset = Dataset(meta["name"], meta["digest"], meta["source_type"], meta["source"],
                      profile=json.dumps(profile))
    return DatasetInput(dataset, [InputTag(MLFLOW_DATASET_CONTEXT, d["context"])])


def to_dict(inp) -> dict:
    """A DatasetInput read from the store, as the dict `entity` was made from."""
    ds = inp.dataset
    try:
        source = json.loads(ds.source).get("uri", ds.source)
    except (ValueError, AttributeError):
        source = ds.source
    try:
        profile = json.loads(ds.profile) if ds.profile else {}
    except ValueError:
        profile = {}
    tags = {t.key: t.value for t in inp.tags}
    return {"name": ds.name, "digest": ds.digest, "source": source, "profile": profile,
            "context": tags.get(MLFLOW_DATASET_CONTEXT, "")}


@edge
def of_run(run_id: str) -> list[dict]:
    """The dataset inputs a run logged (none for a run from before they were logged)."""
    run = get(client(), run_id)
    return [to_dict(i) for i in (run.inputs.dataset_inputs if run.inputs else [])]
