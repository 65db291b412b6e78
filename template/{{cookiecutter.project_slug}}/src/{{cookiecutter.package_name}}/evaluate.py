"""Stage `evaluate`: metrics, per-group (fairness) metrics, plot data and feature importance.

Writes reports/metrics.json (flat: metric name -> number), reports/fairness.json, the CSV
files under reports/plots/ that `dvc plots show` draws, and reports/predictions.csv (the
test-set predictions that prediction drift is measured against).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python src/<package>/evaluate.py` by dvc.yaml
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, is_classifier
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from {{ cookiecutter.package_name }}.common import (
    CLASSIFICATION,
    FAIRNESS,
    METRICS,
    MODEL,
    PLOTS,
    TEST_DATA,
    clean_number,
    load_dataset_info,
    load_params,
    write_json,
)

# Test-set predictions of this version: `mlgitops drift` compares served outputs with them.
PREDICTIONS = Path("reports/predictions.csv")

# Metrics that need both classes (or several rows) are left out of per-group results.
GROUP_METRICS = {
    CLASSIFICATION: ("accuracy", "f1", "precision", "recall"),
    "regression": ("rmse", "mae"),
}


def classification_metrics(
    y_true: pd.Series, y_pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray
) -> dict[str, float]:
    """accuracy, f1, precision, recall (binary: the last class is positive; else macro), roc_auc."""
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    options: dict[str, Any] = {"average": average, "zero_division": 0}
    if binary:
        options["pos_label"] = classes[1]
    metrics = {
        "accuracy": accuracy_score(y_true, y_pred),
        "f1": f1_score(y_true, y_pred, **options),
        "precision": precision_score(y_true, y_pred, **options),
        "recall": recall_score(y_true, y_pred, **options),
    }
    if proba is not None and y_true.nunique() == len(classes):
        if binary:
            metrics["roc_auc"] = roc_auc_score(y_true, proba[:, 1])
        else:
            metrics["roc_auc"] = roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    return metrics


def regression_metrics(y_true: pd.Series, y_pred: np.ndarray) -> dict[str, float]:
    """rmse, mae and (with at least two rows) r2."""
    metrics = {
        "rmse": float(np.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": mean_absolute_error(y_true, y_pred),
    }
    if len(y_true) >= 2:
        metrics["r2"] = r2_score(y_true, y_pred)
    return metrics


def compute_metrics(
    task: str, model: BaseEstimator, features: pd.DataFrame, y_true: pd.Series
) -> dict[str, float]:
    """The task's metrics of `model` on (features, y_true), rounded to 6 decimals."""
    y_pred = model.predict(features)
    if task == CLASSIFICATION:
        proba = model.predict_proba(features) if hasattr(model, "predict_proba") else None
        raw = classification_metrics(y_true, y_pred, proba, model.classes_)
    else:
        raw = regression_metrics(y_true, y_pred)
    return {name: clean_number(value) for name, value in raw.items()}


def group_labels(values: pd.Series, bins: list[float]) -> pd.Series:
    """A group label per row: by bin edges for numbers, else one group per distinct value."""
    if bins:
        edges = sorted(float(edge) for edge in bins)
        labels = [f"< {edges[0]:g}"]
        labels += [f"{low:g} to < {high:g}" for low, high in zip(edges, edges[1:], strict=False)]
        labels.append(f">= {edges[-1]:g}")
        positions = np.searchsorted(edges, values.to_numpy(dtype=float), side="right")
        return pd.Series([labels[index] for index in positions], index=values.index)
    return values.map(lambda value: f"{value:g}" if isinstance(value, float) else str(value))


def fairness_report(
    task: str, model: BaseEstimator, test: pd.DataFrame, target: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """Metrics per group of `settings['column']` (no column: one group named 'all')."""
    column = settings.get("column")
    if column is None:
        groups = pd.Series("all", index=test.index)
    elif column not in test.columns:
        raise ValueError(
            f"params.yaml evaluate.fairness.column={column!r} is not a column of the data"
        )
    else:
        groups = group_labels(test[column], list(settings.get("bins") or []))
    y_pred = pd.Series(model.predict(test.drop(columns=[target])), index=test.index)
    results: dict[str, dict[str, float | int]] = {}
    for label in sorted(groups.unique()):
        rows = groups == label
        truth, predicted = test.loc[rows, target], y_pred[rows].to_numpy()
        if task == CLASSIFICATION:
            raw = classification_metrics(truth, predicted, None, model.classes_)
        else:
            raw = regression_metrics(truth, predicted)
        entry: dict[str, float | int] = {
            name: clean_number(raw[name]) for name in GROUP_METRICS[task] if name in raw
        }
        entry["count"] = int(rows.sum())
        results[str(label)] = entry
    return {"column": column or "all", "metric": str(settings.get("metric")), "groups": results}


# Permuted copies are predicted in batches of about this many rows: one `predict` call
# instead of one per feature and repeat (a forest's per-call overhead dominates otherwise).
IMPORTANCE_BATCH_ROWS = 50_000


def importance_table(
    model: BaseEstimator, features: pd.DataFrame, y_true: pd.Series, repeats: int, seed: int
) -> pd.DataFrame:
    """Permutation importance per feature, largest first.

    The algorithm of `sklearn.inspection.permutation_importance` with the model's default
    score (accuracy or R2): shuffle one column `repeats` times, importance = baseline score
    minus the mean shuffled score. Shuffles come from one seeded generator, column by column,
    so the result is reproducible; the shuffled copies are predicted in large batches.
    """
    generator = np.random.RandomState(seed)
    baseline = model.score(features, y_true)
    rows = len(features)
    jobs: list[str] = []
    blocks: list[pd.DataFrame] = []
    scores: dict[str, list[float]] = {name: [] for name in features.columns}

    def flush() -> None:
        if not blocks:
            return
        predicted = model.predict(pd.concat(blocks, ignore_index=True))
        for index, name in enumerate(jobs):
            part = predicted[index * rows : (index + 1) * rows]
            scores[name].append(_score(model, y_true, part))
        jobs.clear()
        blocks.clear()

    for name in features.columns:
        for _ in range(repeats):
            shuffled = features.copy()
            shuffled[name] = features[name].to_numpy()[generator.permutation(rows)]
            jobs.append(name)
            blocks.append(shuffled)
            if len(blocks) * rows >= IMPORTANCE_BATCH_ROWS:
                flush()
    flush()
    importance = [round(float(baseline - np.mean(scores[name])), 6) for name in features.columns]
    table = pd.DataFrame({"feature": features.columns, "importance": importance})
    ordered = table.sort_values(["importance", "feature"], ascending=[False, True])
    return ordered.reset_index(drop=True)


def _score(model: BaseEstimator, y_true: pd.Series, y_pred: np.ndarray) -> float:
    """The model's default score: accuracy for classifiers, R2 for regressors."""
    if is_classifier(model):
        return float(accuracy_score(y_true, y_pred))
    return float(r2_score(y_true, y_pred))


def main() -> None:
    params = load_params()["evaluate"]
    info = load_dataset_info()
    model = joblib.load(MODEL)
    test = pd.read_csv(TEST_DATA)
    features, y_true = test.drop(columns=[info.target]), test[info.target]

    metrics = compute_metrics(info.task, model, features, y_true)
    write_json(METRICS, metrics)
    write_json(FAIRNESS, fairness_report(info.task, model, test, info.target, params["fairness"]))

    PLOTS.mkdir(parents=True, exist_ok=True)
    predictions = pd.DataFrame({"actual": y_true, "predicted": model.predict(features)})
    plot_name = "confusion.csv" if info.task == CLASSIFICATION else "residuals.csv"
    if info.task != CLASSIFICATION:
        predictions["predicted"] = predictions["predicted"].round(6)
        predictions["residual"] = (predictions["actual"] - predictions["predicted"]).round(6)
    predictions.to_csv(PLOTS / plot_name, index=False)
    pd.DataFrame({"prediction": predictions["predicted"]}).to_csv(PREDICTIONS, index=False)
    importance = importance_table(
        model, features, y_true, int(params["importance_repeats"]), int(params["seed"])
    )
    importance.to_csv(PLOTS / "importance.csv", index=False)
    print("evaluate: " + ", ".join(f"{name}={value}" for name, value in metrics.items()))


if __name__ == "__main__":
    main()
