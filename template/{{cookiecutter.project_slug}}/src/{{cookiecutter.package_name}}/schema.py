"""The input schema: what the model was trained on, recorded so inputs can be checked.

`prepare` writes models/schema.json (format `mlgitops.input-schema/v1`) from the cleaned
data, before text columns are one-hot encoded:

    {
      "format": "mlgitops.input-schema/v1",
      "target": "churned", "task": "classification", "rows": 240,
      "columns": [
        {"name": "tenure", "type": "integer", "nullable": false, "min": 1, "max": 71},
        {"name": "plan", "type": "category", "nullable": false,
         "categories": ["basic", "plus"], "encoded_as": ["plan_basic", "plan_plus"]}
      ],
      "features": ["tenure", "plan_basic", "plan_plus"]
    }

`features` are the model's own input columns, in order. `check_frame` refuses a table
the model was not trained for (a missing or extra column, a wrong type, a category
never seen, a missing value where training had none), naming the row and the column;
`encode_frame` turns a checked table into the model's features. `mlgitops predict` and
`mlgitops serve` apply the same rules to files and to requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

SCHEMA_FORMAT = "mlgitops.input-schema/v1"
MAX_PROBLEMS = 20
_MISSING_TEXT = {"", "nan", "na", "n/a", "null", "none"}
_BOOLEAN_TEXT = {"true": True, "1": True, "false": False, "0": False}


def column_type(series: pd.Series) -> str:
    """integer, float, boolean or category: how a column of the training data is typed."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "float"
    return "category"


def _number(value: Any) -> float | int:
    number = value.item() if hasattr(value, "item") else value
    return int(number) if float(number).is_integer() else float(number)


def build_schema(tidy: pd.DataFrame, encoded: pd.DataFrame, target: str, task: str) -> dict:
    """The schema of `tidy` (cleaned, not encoded); `encoded` is what the model trains on."""
    columns = []
    for name in tidy.columns:
        if name == target:
            continue
        series = tidy[name]
        kind = column_type(series)
        entry: dict[str, Any] = {
            "name": str(name),
            "type": kind,
            "nullable": bool(series.isna().any()),
        }
        if kind == "category":
            categories = sorted({str(value) for value in series.dropna()})
            entry["categories"] = categories
            entry["encoded_as"] = [f"{name}_{category}" for category in categories]
        elif kind != "boolean" and series.notna().any():
            entry["min"] = _number(series.min())
            entry["max"] = _number(series.max())
        columns.append(entry)
    return {
        "format": SCHEMA_FORMAT,
        "target": target,
        "task": task,
        "rows": len(tidy),
        "columns": columns,
        "features": [str(name) for name in encoded.columns if name != target],
    }


@dataclass(frozen=True)
class Problem:
    """Why an input was refused; `row` counts data rows from 1 (None: the whole column)."""

    column: str | None
    message: str
    row: int | None = None

    def __str__(self) -> str:
        where = ([f"row {self.row}"] if self.row is not None else []) + (
            [f"column '{self.column}'"] if self.column is not None else []
        )
        return f"{', '.join(where)}: {self.message}" if where else self.message


class InvalidInput(ValueError):
    """The input does not match the schema; `problems` names each row and column."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _cell_problem(column: dict, value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None if column.get("nullable") else "missing value (training data had none)"
    text = str(value).strip()
    if text.lower() in _MISSING_TEXT and isinstance(value, str):
        return None if column.get("nullable") else "missing value (training data had none)"
    kind = column["type"]
    if kind == "category":
        if text not in column["categories"]:
            return f"category {text!r} was never seen in training"
        return None
    if kind == "boolean":
        if isinstance(value, bool) or text.lower() in _BOOLEAN_TEXT:
            return None
        return f"expected true or false, got {value!r}"
    if isinstance(value, bool):
        return f"expected a number, got {value!r}"
    try:
        number = float(text)
    except ValueError:
        return f"expected a number, got {value!r}"
    if not math.isfinite(number):
        return f"expected a finite number, got {value!r}"
    if kind == "integer" and not number.is_integer():
        return f"expected an integer, got {value!r}"
    return None


def check_frame(schema: dict, frame: pd.DataFrame) -> None:
    """Raise InvalidInput unless `frame` has the schema's columns, types and categories.

    Read a CSV for this with `pd.read_csv(path, dtype=str, keep_default_na=False)`, so
    that every cell is checked as written.
    """
    names = [column["name"] for column in schema["columns"]]
    problems = [Problem(n, "missing column") for n in names if n not in frame.columns]
    problems += [
        Problem(str(n), "unexpected column (not in the training data)")
        for n in frame.columns
        if n not in names
    ]
    if not problems:
        for column in schema["columns"]:
            for row, value in enumerate(frame[column["name"]].tolist(), start=1):
                message = _cell_problem(column, value)
                if message:
                    problems.append(Problem(column["name"], message, row))
    if problems:
        order = {name: index for index, name in enumerate(names)}
        problems.sort(key=lambda p: (p.row or 0, order.get(p.column or "", -1)))
        raise InvalidInput(problems[:MAX_PROBLEMS])


def encode_frame(schema: dict, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's features (numbers, one-hot categories) of a frame `check_frame` passed."""
    features: dict[str, pd.Series] = {}
    for column in schema["columns"]:
        values = frame[column["name"]]
        missing = values.isna() | values.astype(str).str.strip().str.lower().isin(_MISSING_TEXT)
        if column["type"] == "category":
            text = values.astype(str).str.strip()
            for category, name in zip(column["categories"], column["encoded_as"], strict=True):
                features[name] = (text == category).astype(float).mask(missing)
        elif column["type"] == "boolean":
            lowered = values.astype(str).str.strip().str.lower()
            features[column["name"]] = lowered.map(_BOOLEAN_TEXT).astype(float).mask(missing)
        else:
            numbers = pd.to_numeric(values.mask(missing), errors="coerce")
            features[column["name"]] = numbers.astype(float)
    return pd.DataFrame({name: features[name] for name in schema["features"]}, index=frame.index)
