"""Fixtures: the real data (data/raw/data.csv), read from the repository root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.common import (
    DATASET,
    PARAMS,
    RAW_DATA,
    DatasetInfo,
    load_dataset_info,
    load_params,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _at_repository_root() -> Iterator[None]:
    """Stage code uses paths relative to the repository root, as `dvc repro` runs it."""
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def info() -> DatasetInfo:
    return load_dataset_info(ROOT / DATASET)


@pytest.fixture(scope="session")
def params() -> dict:
    return load_params(ROOT / PARAMS)


@pytest.fixture(scope="session")
def raw(info: DatasetInfo) -> pd.DataFrame:
    path = ROOT / RAW_DATA
    if not path.exists():
        pytest.skip(f"{RAW_DATA} is missing: run `dvc pull` first")
    return pd.read_csv(path)
