"""Stage `prepare`: load data/raw/data.csv, clean it, split it into train and test sets,
and record the input schema of the cleaned data (models/schema.json)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python src/<package>/prepare.py` by dvc.yaml
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd
from sklearn.model_selection import train_test_split

from {{ cookiecutter.package_name }}.common import (
    CLASSIFICATION,
    RAW_DATA,
    SCHEMA,
    TEST_DATA,
    TRAIN_DATA,
    load_dataset_info,
    load_params,
    write_json,
)
from {{ cookiecutter.package_name }}.schema import build_schema


def tidy(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Tidy column names, drop duplicate rows and rows with missing values."""
    frame = frame.rename(columns=lambda name: str(name).strip())
    if target not in frame.columns:
        raise ValueError(f"target column {target!r} is not in the data: {list(frame.columns)}")
    return frame.drop_duplicates().dropna().reset_index(drop=True)


def encode(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """One-hot encode text feature columns: 0/1 indicator columns, so every model gets numbers."""
    features = frame.drop(columns=[target])
    text_columns = [
        name for name in features.columns if not pd.api.types.is_numeric_dtype(features[name])
    ]
    if text_columns:
        features = pd.get_dummies(features, columns=text_columns, dtype=float)
    return pd.concat([features, frame[target]], axis=1)


def clean(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Tidy the data, then one-hot encode its text columns (`tidy`, then `encode`)."""
    return encode(tidy(frame, target), target)


def split(
    frame: pd.DataFrame, target: str, task: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split with a fixed seed; classification splits keep the class proportions (stratified)."""
    stratify = frame[target] if task == CLASSIFICATION else None
    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, shuffle=True, stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def main() -> None:
    params = load_params()["prepare"]
    info = load_dataset_info()
    tidied = tidy(pd.read_csv(RAW_DATA), info.target)
    frame = encode(tidied, info.target)
    train, test = split(
        frame, info.target, info.task, float(params["test_size"]), int(params["seed"])
    )
    TRAIN_DATA.parent.mkdir(parents=True, exist_ok=True)
    train.to_csv(TRAIN_DATA, index=False)
    test.to_csv(TEST_DATA, index=False)
    # What the model accepts, for `predict` and `serve` to check inputs against.
    write_json(SCHEMA, build_schema(tidied, frame, info.target, info.task))
    print(f"prepare: {len(frame)} rows after cleaning -> {len(train)} train, {len(test)} test")


if __name__ == "__main__":
    main()
