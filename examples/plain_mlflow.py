"""A study logged with plain MLflow calls, knowing nothing of tracker: four regressors on
scikit-learn's bundled diabetes data (no download), each over five seeds of the train/test split,
judged by the test RMSE (lower is better). Then ask tracker what the study may conclude:

    python examples/plain_mlflow.py
    tracker compare --experiment plain-mlflow --by model --metric-key rmse --goal minimize

MLflow logs where MLFLOW_TRACKING_URI says, else to ./mlflow.db (MLflow's default), which
`tracker compare` reads when there is no tracker store in the folder.
"""
from __future__ import annotations

import argparse

import mlflow
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

MODELS = {
    "ridge": lambda seed: Ridge(alpha=0.1),
    "random-forest": lambda seed: RandomForestRegressor(n_estimators=50, random_state=seed),
    "gradient-boosting": lambda seed: GradientBoostingRegressor(n_estimators=60, max_depth=2,
                                                                 learning_rate=0.05, random_state=seed),
    "mean": lambda seed: DummyRegressor(strategy="mean"),  # predicts the training mean: clearly worse
}


def rmse(y, predicted) -> float:
    return float(np.sqrt(np.mean((y - predicted) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds of the split per model (default 5)")
    ap.add_argument("--experiment", default="plain-mlflow", help="MLflow experiment (default plain-mlflow)")
    args = ap.parse_args()
    x, y = load_diabetes(return_X_y=True)
    mlflow.set_experiment(args.experiment)
    for name, make in MODELS.items():
        for seed in range(1, args.seeds + 1):
            x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed)
            model = make(seed).fit(x_train, y_train)
            with mlflow.start_run(run_name=f"{name}-seed{seed}"):
                mlflow.log_params({"model": name, "seed": seed, "test_size": 0.25})
                if hasattr(model, "staged_predict"):  # boosting: the test RMSE after each stage
                    for step, predicted in enumerate(model.staged_predict(x_test), 1):
                        if step % 10 == 0:
                            mlflow.log_metric("rmse", rmse(y_test, predicted), step=step)
                else:
                    mlflow.log_metric("rmse", rmse(y_test, model.predict(x_test)))
                mlflow.log_metric("mae", float(np.mean(np.abs(y_test - model.predict(x_test)))))
        print(f"{name}: {args.seeds} runs logged")


if __name__ == "__main__":
    main()
