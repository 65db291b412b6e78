"""The stages on the real data: cleaning, a reproducible split, every model, metrics, card."""

from __future__ import annotations

import io
import math
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.common import (
    CARD_TEMPLATE,
    CLASSIFICATION,
    DATASET,
    DatasetInfo,
    load_dataset_info,
)
from {{ cookiecutter.package_name }}.evaluate import (
    compute_metrics,
    fairness_report,
    importance_table,
)
from {{ cookiecutter.package_name }}.model_card import (
    render_card,
)
from {{ cookiecutter.package_name }}.prepare import (
    clean,
    split,
)
from {{ cookiecutter.package_name }}.train import (
    MODELS,
    fit,
)

TASK = load_dataset_info(Path(__file__).resolve().parent.parent / DATASET).task
# Tests train small forests and boosters: the behaviour is the same, the run takes seconds.
MAX_ESTIMATORS = 20
CLASSIFICATION_METRICS = {"accuracy", "f1", "precision", "recall", "roc_auc"}
REGRESSION_METRICS = {"rmse", "mae", "r2"}


def quick(train_params: dict) -> dict:
    """`train_params` with at most MAX_ESTIMATORS trees or boosting rounds per model."""
    result = {}
    for key, value in train_params.items():
        if isinstance(value, dict) and "n_estimators" in value:
            value = {**value, "n_estimators": min(value["n_estimators"], MAX_ESTIMATORS)}
        result[key] = value
    return result


@pytest.fixture(scope="module")
def prepared(
    raw: pd.DataFrame, info: DatasetInfo, params: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = clean(raw, info.target)
    return split(
        frame, info.target, info.task, params["prepare"]["test_size"], params["prepare"]["seed"]
    )


def test_clean_drops_duplicates_and_missing_rows(raw: pd.DataFrame, info: DatasetInfo) -> None:
    dirty = pd.concat([raw, raw.head(3)], ignore_index=True)
    dirty[info.target] = dirty[info.target].astype(object)
    dirty.loc[0, info.target] = None  # its copy at the end stays: same rows as the raw data
    cleaned = clean(dirty, info.target)
    assert not cleaned.duplicated().any()
    assert not cleaned.isna().any().any()
    assert len(cleaned) == len(raw.drop_duplicates().dropna())


def test_split_is_reproducible_and_disjoint(raw: pd.DataFrame, info: DatasetInfo) -> None:
    frame = clean(raw, info.target)
    first = split(frame, info.target, info.task, 0.25, 7)
    second = split(frame, info.target, info.task, 0.25, 7)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    assert len(first[0]) + len(first[1]) == len(frame)
    if info.task == CLASSIFICATION:
        shares = [part[info.target].value_counts(normalize=True) for part in first]
        assert (shares[0] - shares[1]).abs().max() < 0.05


@pytest.mark.parametrize("model_name", sorted(MODELS[TASK]))
def test_every_model_trains_and_scores(
    prepared: tuple[pd.DataFrame, pd.DataFrame], info: DatasetInfo, params: dict, model_name: str
) -> None:
    train, test = prepared
    train_params = quick({**params["train"], "model": model_name})
    model = fit(train, info.target, info.task, train_params)
    metrics = compute_metrics(info.task, model, test.drop(columns=[info.target]), test[info.target])
    expected = CLASSIFICATION_METRICS if info.task == CLASSIFICATION else REGRESSION_METRICS
    assert expected <= set(metrics)
    assert all(math.isfinite(value) for value in metrics.values())


def test_training_is_deterministic(
    prepared: tuple[pd.DataFrame, pd.DataFrame], info: DatasetInfo, params: dict
) -> None:
    train, _ = prepared
    dumps = []
    for _ in range(2):
        buffer = io.BytesIO()
        joblib.dump(fit(train, info.target, info.task, quick(params["train"])), buffer)
        dumps.append(buffer.getvalue())
    assert dumps[0] == dumps[1]


def test_fairness_groups_cover_the_test_set(
    prepared: tuple[pd.DataFrame, pd.DataFrame], info: DatasetInfo, params: dict
) -> None:
    train, test = prepared
    model = fit(train, info.target, info.task, quick(params["train"]))
    report = fairness_report(info.task, model, test, info.target, params["evaluate"]["fairness"])
    assert sum(group["count"] for group in report["groups"].values()) == len(test)
    importance = importance_table(model, test.drop(columns=[info.target]), test[info.target], 1, 0)
    assert len(importance) == test.shape[1] - 1


def test_model_card_front_matter_matches_metrics(
    tmp_path: Path, info: DatasetInfo, params: dict
) -> None:
    metrics = (
        {"accuracy": 0.9, "f1": 0.8} if info.task == CLASSIFICATION else {"rmse": 50.0, "mae": 40.0}
    )
    fairness = {"column": "all", "metric": "x", "groups": {"all": {**metrics, "count": 10}}}
    pyproject = {
        "project": {"name": "demo", "license": "MIT", "authors": [{"name": "A"}]},
        "tool": {"mlgitops": {"model_name": "demo-model"}},
    }
    card = render_card(
        CARD_TEMPLATE.read_text(encoding="utf-8"), pyproject, info, params, metrics, fairness
    )
    _, header, body = card.split("---\n", 2)
    matter = yaml.safe_load(header)
    results = matter["model-index"][0]["results"][0]["metrics"]
    assert {item["type"]: item["value"] for item in results} == metrics
    for section in (
        "Model Details",
        "Intended Use",
        "Training Data",
        "Evaluation",
        "Limitations",
        "Ethical Considerations",
    ):
        assert f"\n## {section}\n" in body
