"""A run's model, logged with MLflow's own PyTorch flavor (pt2, loadable without tracker),
and loaded back by URI.

    tracker evaluate models:/mnist-mnist-small-batch@champion --dataset mnist
"""
from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .client import message
from ..errors import TrackingError
from .uri import tracking_uri


def log(c: MlflowClient, run_id: str, model, example) -> None:
    """Log the model into the run; the run's status is left as it is."""
    import mlflow.pytorch
    import torch
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(c.tracking_uri)
    mlflow.set_experiment(experiment_id=c.get_run(run_id).info.experiment_id)  # the model's home
    with torch.no_grad():
        out = model(torch.as_tensor(example)).numpy()
    # the requirements are stated, not inferred: MLflow infers them by loading the model in a
    # subprocess, which cost 20-50 s a run here (1 s stated); the tests load every model back
    mlflow.pytorch.log_model(model, name="model", input_example=example, run_id=run_id,
                             signature=infer_signature(example, out), serialization_format="pt2",
                             pip_requirements=[f"torch=={torch.__version__.split('+')[0]}",
                                               f"mlflow=={mlflow.__version__}"],
                             validate_serving_input=False)


def signature(uri: str) -> str:
    try:
        info = mlflow.models.get_model_info(uri)
    except MlflowException as e:
        raise TrackingError(f"model {uri}: {message(e)}") from None
    sig = info.signature
    return "" if sig is None else f"inputs {sig.inputs.to_json()} -> outputs {sig.outputs.to_json()}"


def load(uri: str, allow_pickle: bool = False):
    """A logged PyTorch model through MLflow; pickle-format models need allow_pickle."""
    import mlflow.pytorch

    mlflow.set_tracking_uri(tracking_uri())
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        info = mlflow.models.get_model_info(str(local))
    except (MlflowException, OSError) as e:
        msg = e.message if isinstance(e, MlflowException) else str(e)
        raise TrackingError(f"model {uri} not found: {msg.splitlines()[0][:200]}") from None
    data = info.flavors.get("pytorch", {}).get("model_data")
    if not data:
        raise TrackingError(f"model {uri} is not a PyTorch model")
    if not (local / data / "model.pt2").exists():
        if not allow_pickle:
            raise TrackingError(f"model {uri} is stored with pickle, which can run code when loaded; "
                                "pass --allow-pickle if you trust its source")
        return mlflow.pytorch.load_model(str(local), weights_only=False)
    return mlflow.pytorch.load_model(str(local))
