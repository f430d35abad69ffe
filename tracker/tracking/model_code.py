"""The code of every model tracker logs (MLflow's "models from code": this file is copied into
the model and run where it is loaded, so it imports mlflow, numpy, pandas and torch, never
tracker). It takes images as their dataset stores them (uint8, 0-255; the signature states the
shape) and returns one row per image: `class`, the predicted class index, and `probabilities`,
one per class. The network, with the normalization and test-time augmentation of its run
inside, is a torch.export program in the model's `artifacts/network` (MLflow's pt2 format,
loaded without unpickling anything; see tracker/ml/inference.py).

    mlflow models serve -m models:/mnist-fast-batch@champion --env-manager local
"""
import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.pyfunc import PythonModel


class Classifier(PythonModel):
    def load_context(self, context):
        import mlflow.pytorch

        self.network = mlflow.pytorch.load_model(context.artifacts["network"])

    def predict(self, context, model_input: np.ndarray, params=None) -> pd.DataFrame:
        images = torch.from_numpy(np.ascontiguousarray(model_input))
        with torch.no_grad():
            probabilities, predicted = self.network(images)
        return pd.DataFrame({"class": predicted.numpy().astype(np.int64),
                             "probabilities": list(probabilities.numpy())})


mlflow.models.set_model(Classifier())
