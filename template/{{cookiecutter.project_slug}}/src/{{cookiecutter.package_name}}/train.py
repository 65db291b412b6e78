"""Stage `train`: fit the model chosen in params.yaml (`train.model`) and save models/model.pkl."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python src/<package>/train.py` by dvc.yaml
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import joblib
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from {{ cookiecutter.package_name }}.common import (
    CLASSIFICATION,
    MODEL,
    REGRESSION,
    TRAIN_DATA,
    load_dataset_info,
    load_params,
)


def _random_forest_classifier(seed: int, **hyper: Any) -> BaseEstimator:
    return RandomForestClassifier(random_state=seed, n_jobs=1, **hyper)


def _logistic_regression(seed: int, **hyper: Any) -> BaseEstimator:
    return make_pipeline(StandardScaler(), LogisticRegression(random_state=seed, **hyper))


def _gradient_boosting_classifier(seed: int, **hyper: Any) -> BaseEstimator:
    return GradientBoostingClassifier(random_state=seed, **hyper)


def _ridge(seed: int, **hyper: Any) -> BaseEstimator:
    return make_pipeline(StandardScaler(), Ridge(random_state=seed, **hyper))


def _random_forest_regressor(seed: int, **hyper: Any) -> BaseEstimator:
    return RandomForestRegressor(random_state=seed, n_jobs=1, **hyper)


def _gradient_boosting_regressor(seed: int, **hyper: Any) -> BaseEstimator:
    return GradientBoostingRegressor(random_state=seed, **hyper)


# params.yaml `train.model` -> builder; its hyper-parameters are `train.<model>`.
MODELS = {
    CLASSIFICATION: {
        "random_forest": _random_forest_classifier,
        "logistic_regression": _logistic_regression,
        "gradient_boosting": _gradient_boosting_classifier,
    },
    REGRESSION: {
        "ridge": _ridge,
        "random_forest": _random_forest_regressor,
        "gradient_boosting": _gradient_boosting_regressor,
    },
}


def build_model(
    task: str, name: str, seed: int, hyper: dict[str, Any] | None = None
) -> BaseEstimator:
    """The estimator for `name`, seeded and single-threaded so that training is reproducible."""
    try:
        builder = MODELS[task][name]
    except KeyError:
        choices = ", ".join(sorted(MODELS.get(task, {})))
        raise ValueError(f"params.yaml train.model={name!r}: choose one of {choices}") from None
    return builder(seed, **(hyper or {}))


def fit(train: pd.DataFrame, target: str, task: str, params: dict[str, Any]) -> BaseEstimator:
    """Fit the model that `params` (the `train` section of params.yaml) describes."""
    name = str(params["model"])
    model = build_model(task, name, int(params["seed"]), params.get(name))
    model.fit(train.drop(columns=[target]), train[target])
    return model


def main() -> None:
    params = load_params()["train"]
    info = load_dataset_info()
    train = pd.read_csv(TRAIN_DATA)
    model = fit(train, info.target, info.task, params)
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL)
    print(f"train: {params['model']} on {len(train)} rows -> {MODEL}")


if __name__ == "__main__":
    main()
