"""The code of every model tracker logs (MLflow's "models from code": this file is copied into
the model and run where it is loaded, so it imports mlflow, numpy, pandas and torch, never
tracker). It takes images as their dataset stores them, uint8 pixels 0-255 (N x H x W, or
N x H x W x C), or with the channel axis first (N x C x H x W); any numbers will do (JSON's,
over REST) if they are whole and in 0-255. Anything else is refused with an MlflowException,
which `mlflow models serve` answers with HTTP 400, naming what the model takes (its
model_config's `input`). It returns one row per image: `class`, the predicted class index,
and `probabilities`, one per class. The network, with the normalization and test-time
augmentation of its run inside, is a torch.export program in the model's `artifacts/network`
(MLflow's pt2 format, loaded without unpickling anything; see tracker/ml/inference.py).

The model states no input schema, on purpose: MLflow's scoring server casts a request to a
tensor schema's dtype before the model sees it (np.array(data, dtype=uint8) truncates 0.37 to
0 and -0.42 to 0), so a uint8 schema turned pixels scaled to 0-1 into a black image, answered
with HTTP 200. Without one, the model sees the numbers as sent and checks them itself, the
same way in Python and over REST.

    mlflow models serve -m models:/mnist-fast-batch@champion --env-manager local
"""
import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel


class Classifier(PythonModel):
    def load_context(self, context):
        import mlflow.pytorch

        self.network = mlflow.pytorch.load_model(context.artifacts["network"])
        config = context.model_config
        self.shape = tuple(config["shape"])  # one image as its dataset stores it
        self.channels_first = tuple(config["channels_first"])  # C x H x W
        self.takes = config["input"]

    def predict(self, context, model_input: np.ndarray, params=None) -> pd.DataFrame:
        images = torch.from_numpy(self.pixels(model_input))
        with torch.no_grad():
            probabilities, predicted = self.network(images)
        return pd.DataFrame({"class": predicted.numpy().astype(np.int64),
                             "probabilities": list(probabilities.numpy())})

    def pixels(self, model_input) -> np.ndarray:
        """The input as uint8 images as stored, or an MlflowException (HTTP 400) saying why not."""
        x = np.asarray(model_input)
        if x.ndim < 2 or x.shape[1:] not in (self.shape, self.channels_first):
            self.refuse(f"got shape {' x '.join(map(str, x.shape))}")
        if len(x) == 0:
            self.refuse("got no images")
        if x.dtype.kind not in "uif":
            self.refuse(f"got values of dtype {x.dtype}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            self.refuse("got NaN or infinite values")
        low, high = x.min(), x.max()
        if x.dtype.kind == "f" and (x != np.round(x)).any():
            guess = " (pixels scaled to 0-1?)" if 0 <= low and high <= 1 else " (normalized?)" if low < 0 else ""
            self.refuse(f"got fractions from {low:.4g} to {high:.4g}{guess}")
        if low < 0 or high > 255:
            self.refuse(f"got values from {low:g} to {high:g}")
        brightest = x.reshape(len(x), -1).max(1)
        if (brightest == 1).any():  # a binarized image scaled to 0-1, not a picture in 0-255
            self.refuse(f"image {int(np.argmax(brightest == 1))}'s brightest pixel is 1 (pixels scaled to 0-1?)")
        if x.shape[1:] != self.shape:
            x = np.moveaxis(x, 1, -1).reshape(len(x), *self.shape)
        return np.ascontiguousarray(x, dtype=np.uint8)

    def refuse(self, why: str):
        raise MlflowException.invalid_parameter_value(f"this model takes {self.takes}; {why}")


mlflow.models.set_model(Classifier())
