"""Paths, parameters and small I/O helpers shared by the pipeline stages."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PARAMS = Path("params.yaml")
DATASET = Path("data/dataset.yaml")
RAW_DATA = Path("data/raw/data.csv")
TRAIN_DATA = Path("data/prepared/train.csv")
TEST_DATA = Path("data/prepared/test.csv")
MODEL = Path("models/model.pkl")
SCHEMA = Path("models/schema.json")
METRICS = Path("reports/metrics.json")
FAIRNESS = Path("reports/fairness.json")
PLOTS = Path("reports/plots")
MODEL_CARD = Path("MODEL_CARD.md")
CARD_TEMPLATE = Path("templates/model_card.md.j2")
PYPROJECT = Path("pyproject.toml")

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass(frozen=True)
class DatasetInfo:
    """The facts about data/raw/data.csv that the stages need (from data/dataset.yaml)."""

    name: str
    title: str
    task: str
    target: str
    description: str
    license: str
    source: str | None
    citation: str | None


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def load_params(path: Path = PARAMS) -> dict[str, Any]:
    """All of params.yaml."""
    return load_yaml(path)


def load_dataset_info(path: Path = DATASET) -> DatasetInfo:
    """data/dataset.yaml as a DatasetInfo; the task must be classification or regression."""
    data = load_yaml(path)
    info = DatasetInfo(
        name=str(data["name"]),
        title=str(data.get("title") or data["name"]),
        task=str(data["task"]),
        target=str(data["target"]),
        description=str(data.get("description") or ""),
        license=str(data.get("license") or "NOASSERTION"),
        source=data.get("source"),
        citation=data.get("citation"),
    )
    if info.task not in (CLASSIFICATION, REGRESSION):
        raise ValueError(f"{path}: task must be {CLASSIFICATION!r} or {REGRESSION!r}")
    return info


def write_json(path: Path, data: Any) -> None:
    """Write JSON with sorted keys and a trailing newline, so equal data gives equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n", "utf-8")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def clean_number(value: float, digits: int = 6) -> float:
    """Round a metric for stable, readable files; NaN and infinity are errors, not metrics."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric value {value!r} is not a finite number")
    return round(number, digits)
