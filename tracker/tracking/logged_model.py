"""A run's model, logged as a pyfunc "model from code" that serves raw images
(model_code.py; the network inside, ml/inference.py) and with MLflow's pytorch flavor, the bare
net (`mlflow.pytorch.load_model`), and loaded back by URI. Everything goes
through tracker's client: MLflow's log_model and its models:/ and runs:/ resolution use its
global tracking URI instead (./mlflow.db when MLFLOW_TRACKING_URI is unset), so the model is
logged with the client's logged-model calls and URIs are resolved here.

    tracker evaluate models:/mnist-small-batch@champion --dataset mnist
"""
from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import LoggedModelOutput, LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .. import names
from .client import client, message
from ..errors import TrackingError

logging.getLogger("mlflow.pyfunc").setLevel(logging.WARNING)  # "Validating input example" per model

CODE = Path(__file__).with_name("model_code.py")  # the served model's code, copied into each
NETWORK = "network"  # the served model's artifact holding its network (MLflow pytorch, pt2)
NET = "net"  # the artifact holding the bare net, the model's pytorch flavor (MLflow pytorch, pt2)


def _requirements() -> list[str]:
    # stated, not inferred: MLflow infers them by loading the model in a subprocess, which cost
    # 20-50 s a run here (1 s stated); the tests load every model back
    import torch

    return [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}"]


def save(path: Path, served) -> Path:
    """`served` (an ml.inference.Package) as an MLflow model folder, path/model: images as
    stored in (checked by model_code.py: no input schema, see there), `class` and
    `probabilities` out. Its MLmodel names no run or logged model yet (upload does). It also
    has MLflow's pytorch flavor: the bare net (normalized float32 N x C x H x W in, logits out),
    which `mlflow.pytorch.load_model` gives back."""
    import mlflow.pyfunc
    import mlflow.pytorch
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec
    from mlflow.types.schema import Array

    def export(module, example, folder: Path) -> None:  # MLflow's pt2: torch.export, a dynamic batch, no pickle
        inputs = Schema([TensorSpec(example.dtype, (-1, *example.shape[1:]))])
        mlflow.pytorch.save_model(module, str(folder), serialization_format="pt2", input_example=example,
                                  signature=ModelSignature(inputs), pip_requirements=_requirements())

    export(served.module, served.example, path / NETWORK)
    export(served.net, served.net_example, path / NET)
    answers = Schema([ColSpec("long", "class"), ColSpec(Array("float"), "probabilities")])
    config = copy.deepcopy({k: served.facts[k] for k in ("shape", "channels_first", "input")})  # model_code's
    mlflow.pyfunc.save_model(str(path / "model"), python_model=str(CODE),
                             artifacts={NETWORK: str(path / NETWORK), NET: str(path / NET)},
                             signature=ModelSignature(outputs=answers), input_example=served.example,
                             model_config=config, pip_requirements=_requirements(),
                             metadata={"tracker": served.facts})
    _add_pytorch_flavor(path / "model")
    return path / "model"


def _add_pytorch_flavor(model: Path) -> None:
    """The pytorch flavor of the model's NET artifact (a model of its own) as one of the
    model's flavors, its data path made relative to the model."""
    from mlflow.models import Model

    meta = Model.load(str(model / "MLmodel"))
    where = meta.flavors["python_function"]["artifacts"][NET]["path"]
    flavor = Model.load(str(model / where / "MLmodel")).flavors["pytorch"]
    meta.add_flavor("pytorch", **{**flavor, "model_data": f"{where}/{flavor['model_data']}"})
    meta.save(str(model / "MLmodel"))


@contextlib.contextmanager
def exported(served):
    """save(served) in a temporary folder: the pt2 export, the model's seconds of CPU, done
    before anything is sent (a run exports while its sender delivers its last epoch)."""
    with tempfile.TemporaryDirectory() as tmp:
        yield save(Path(tmp), served)


def upload(c: MlflowClient, run_id: str, folder: Path) -> str:
    """Log an exported model folder as the run's model, through the client alone; returns the
    model's id. The run's status is left as it is."""
    from mlflow.models import Model

    run = c.get_run(run_id)
    model = c.create_logged_model(run.info.experiment_id, name=names.MODEL, source_run_id=run_id,
                                  params={k: str(v) for k, v in run.data.params.items()})
    try:
        meta = Model.load(str(folder / "MLmodel"))  # as log_model writes it: the ids it got
        meta.artifact_path, meta.model_uuid = model.artifact_location, model.model_id
        meta.run_id, meta.model_id = run_id, model.model_id
        meta.save(str(folder / "MLmodel"))
        c.log_model_artifacts(model.model_id, str(folder))
        c.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    except BaseException:
        with contextlib.suppress(Exception):  # the store may be what failed
            c.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    c.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    return model.model_id


def log(c: MlflowClient, run_id: str, served) -> str:
    """Export `served` (an ml.inference.Package) and log it as the run's model; returns its id."""
    with exported(served) as folder:
        return upload(c, run_id, folder)


def location(c: MlflowClient, uri: str) -> str:
    """Where the files of a model URI are (models:/NAME@ALIAS, models:/NAME/VERSION,
    models:/MODEL_ID, runs:/RUN_ID/model, or an artifact location as it is)."""
    if uri.startswith("models:/"):
        ref = uri[len("models:/"):].strip("/")
        if ref.startswith("m-") and not {"/", "@"} & set(ref):
            return c.get_logged_model(ref).artifact_location
        name, at, alias = ref.partition("@")
        if at:
            mv = c.get_model_version_by_alias(name, alias)
        else:
            name, _, version = ref.partition("/")
            mv = c.get_model_version(name, version)
        return c.get_model_version_download_uri(mv.name, mv.version)
    if uri.startswith("runs:/"):
        run_id, _, path = uri[len("runs:/"):].strip("/").partition("/")
        run = c.get_run(run_id)
        for out in reversed(list(getattr(run.outputs, "model_outputs", None) or [])):
            model = c.get_logged_model(out.model_id)
            if model.name == (path or names.MODEL):
                return model.artifact_location
        return f"{run.info.artifact_uri}/{path}"
    return uri


def _fetch(c: MlflowClient, uri: str, path: str = "") -> Path:
    """The model's files (or one of them) on this machine; the embedded store's are not copied."""
    where = location(c, uri)
    return Path(mlflow.artifacts.download_artifacts(
        artifact_uri=f"{where.rstrip('/')}/{path}" if path else where,
        tracking_uri=c.tracking_uri, registry_uri=c.tracking_uri))


def signature(uri: str) -> str:
    from mlflow.models import Model

    try:
        meta = Model.load(str(_fetch(client(), uri, "MLmodel")))
    except (MlflowException, OSError) as e:
        raise TrackingError(f"model {uri}: {message(e)}") from None
    sig, facts = meta.signature, (meta.metadata or {}).get("tracker", {})
    if sig is None:
        return ""
    inputs = sig.inputs.to_json() if sig.inputs else facts.get("input", "any")  # ours: checked by its code
    return f"inputs {inputs} -> outputs {sig.outputs.to_json() if sig.outputs else 'any'}"


@dataclass
class Loaded:
    """A logged model, loaded: `served`, tracker's served model (images as their dataset stores
    them in, `class` and `probabilities` out), or `network`, a PyTorch net logged before models
    served raw images (normalized float32 N x C x H x W in, logits out)."""
    uri: str
    served: object = None
    network: object = None
    shape: tuple = ()  # one image as the served model takes it

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The served model's class and probabilities for uint8 images."""
        try:
            out = self.served.predict(images)
        except MlflowException as e:
            raise TrackingError(f"model {self.uri}: {message(e)}") from None
        return out["class"].to_numpy(np.int64, copy=True), np.stack(out["probabilities"].to_numpy())


def _own_code(local: Path, info) -> bool:
    """Whether the model runs this tracker's model_code.py, byte for byte, when it loads."""
    flavor = info.flavors.get("python_function", {})
    code = local / Path(flavor.get("model_code_path") or "missing").name
    return (flavor.get("loader_module") == "mlflow.pyfunc.loaders.code_model" and code.is_file()
            and code.read_bytes() == CODE.read_bytes())


def load(uri: str, allow_pickle: bool = False) -> Loaded:
    """A logged model through MLflow. Loading runs code for a pickle-format PyTorch model, and for
    a served model whose code is not this tracker's model_code.py: those need allow_pickle."""
    import mlflow.pyfunc
    import mlflow.pytorch
    from mlflow.models import Model

    try:
        local = _fetch(client(), uri)
        info = Model.load(str(local))
    except (MlflowException, OSError) as e:
        msg = e.message if isinstance(e, MlflowException) else str(e)
        raise TrackingError(f"model {uri} not found: {msg.splitlines()[0][:200]}") from None
    if (info.metadata or {}).get("tracker"):
        if not (allow_pickle or _own_code(local, info)):
            raise TrackingError(f"model {uri} runs code other than this tracker's served model when "
                                "loaded; pass --allow-pickle if you trust its source")
        shape = tuple(info.metadata["tracker"]["shape"])
        return Loaded(uri, served=mlflow.pyfunc.load_model(str(local)), shape=shape)
    data = info.flavors.get("pytorch", {}).get("model_data")
    if not data:
        raise TrackingError(f"model {uri} is neither a model tracker logged nor a PyTorch model")
    if not (local / data / "model.pt2").exists():
        if not allow_pickle:
            raise TrackingError(f"model {uri} is stored with pickle, which can run code when loaded; "
                                "pass --allow-pickle if you trust its source")
        return Loaded(uri, network=mlflow.pytorch.load_model(str(local), weights_only=False))
    return Loaded(uri, network=mlflow.pytorch.load_model(str(local)))
