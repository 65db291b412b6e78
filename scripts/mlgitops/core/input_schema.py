"""The input schema of a model and the validation of rows against it (pure, stdlib only).

The baked pipeline records the schema of the data a model was trained on in
`models/schema.json` (format `mlgitops.input-schema/v1`, described in docs/serving.md):
the feature columns in order, each with its type (`integer`, `float`, `boolean` or
`category`), the categories seen, the range seen, and whether a value was ever missing;
plus `features`, the columns the model itself takes once categories are one-hot encoded.

`validate_columns` checks a table given column by column (a CSV file, or the inputs of a
V2 inference request) and returns every problem found, each naming its row and column;
`encode_columns` turns a valid table into the model's feature columns. Batch `predict`
and the MLServer runtime both go through these two functions, so a file and a request
are judged by the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SCHEMA_FORMAT = "mlgitops.input-schema/v1"
COLUMN_TYPES = ("integer", "float", "boolean", "category")
# A file or a request with many bad cells gets the first ones, not thousands of lines.
MAX_PROBLEMS = 20

_TRUE_TEXT = {"true", "1"}
_FALSE_TEXT = {"false", "0"}
_MISSING_TEXT = {"", "nan", "na", "n/a", "null", "none"}


class SchemaFormatError(ValueError):
    """A schema file does not follow the format; the message names the key at fault."""


@dataclass(frozen=True)
class ColumnSchema:
    """One input column as seen in the training data."""

    name: str
    type: str
    nullable: bool = False
    categories: tuple[str, ...] = ()
    # One-hot columns the model takes for each category, in the order of `categories`.
    encoded_as: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class InputSchema:
    """What a model accepts: its input columns (in order) and its feature columns."""

    columns: tuple[ColumnSchema, ...]
    features: tuple[str, ...]
    target: str | None = None
    task: str | None = None
    rows: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> ColumnSchema | None:
        return next((column for column in self.columns if column.name == name), None)


@dataclass(frozen=True)
class InputProblem:
    """One reason a table was refused. `row` counts data rows from 1 (None: the whole column)."""

    column: str | None
    message: str
    row: int | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True)
class ValidatedTable:
    """Cells converted to their column's type; `rows` is the number of data rows."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    rows: int = 0


# --------------------------------------------------------------------------- format


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise SchemaFormatError(f"{where}: missing key '{key}'")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SchemaFormatError(f"{where}: '{key}' has the wrong type")
    return value


def _number_or_none(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaFormatError(f"{where}: must be a number or null")
    return float(value)


def schema_from_dict(data: Any) -> InputSchema:
    """Parse a schema document (the JSON of models/schema.json); SchemaFormatError if wrong."""
    if not isinstance(data, Mapping):
        raise SchemaFormatError("the schema must be a JSON object")
    if data.get("format") != SCHEMA_FORMAT:
        raise SchemaFormatError(f"'format' must be {SCHEMA_FORMAT!r}, got {data.get('format')!r}")
    columns: list[ColumnSchema] = []
    for index, raw in enumerate(_require(data, "columns", list, "schema")):
        where = f"columns[{index}]"
        if not isinstance(raw, Mapping):
            raise SchemaFormatError(f"{where}: must be an object")
        name = _require(raw, "name", str, where)
        kind = _require(raw, "type", str, where)
        if kind not in COLUMN_TYPES:
            raise SchemaFormatError(f"{where}: 'type' must be one of {', '.join(COLUMN_TYPES)}")
        categories = tuple(str(c) for c in raw.get("categories") or ())
        encoded = tuple(str(c) for c in raw.get("encoded_as") or ())
        if kind == "category" and (not categories or len(encoded) != len(categories)):
            raise SchemaFormatError(
                f"{where}: a category column needs 'categories' and as many 'encoded_as'"
            )
        columns.append(
            ColumnSchema(
                name=name,
                type=kind,
                nullable=bool(raw.get("nullable", False)),
                categories=categories,
                encoded_as=encoded,
                minimum=_number_or_none(raw.get("min"), f"{where}.min"),
                maximum=_number_or_none(raw.get("max"), f"{where}.max"),
            )
        )
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        raise SchemaFormatError("schema: duplicate column names")
    features = tuple(str(f) for f in _require(data, "features", list, "schema"))
    known = {c.name for c in columns if c.type != "category"}
    known |= {name for c in columns for name in c.encoded_as}
    unknown = [name for name in features if name not in known]
    if unknown:
        raise SchemaFormatError(f"features: '{unknown[0]}' is not a column or a one-hot column")
    rows = data.get("rows")
    return InputSchema(
        columns=tuple(columns),
        features=features,
        target=data.get("target") if isinstance(data.get("target"), str) else None,
        task=data.get("task") if isinstance(data.get("task"), str) else None,
        rows=rows if isinstance(rows, int) and not isinstance(rows, bool) else None,
    )


# --------------------------------------------------------------------------- cells


def _is_missing(value: Any, text_cells: bool) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return text_cells and isinstance(value, str) and value.strip().lower() in _MISSING_TEXT


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _convert(column: ColumnSchema, value: Any, text_cells: bool) -> tuple[Any, str | None]:
    """(the value in the column's type, None) or (None, why it is refused)."""
    kind = column.type
    if kind == "category":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None, f"expected a category, got {_describe(value)}"
        text = value.strip() if isinstance(value, str) else str(value)
        if text not in column.categories:
            shown = ", ".join(repr(c) for c in column.categories[:10])
            more = ", ..." if len(column.categories) > 10 else ""
            return None, f"category {text!r} was never seen in training (known: {shown}{more})"
        return text, None
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        if text_cells and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE_TEXT | _FALSE_TEXT:
                return lowered in _TRUE_TEXT, None
        return None, f"expected true or false, got {_describe(value)}"
    number: float
    if isinstance(value, bool):
        return None, f"expected a number, got {_describe(value)}"
    if isinstance(value, int | float):
        number = float(value)
    elif text_cells and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None, f"expected a number, got {_describe(value)}"
    else:
        return None, f"expected a number, got {_describe(value)}"
    if not math.isfinite(number):
        return None, f"expected a finite number, got {_describe(value)}"
    if kind == "integer":
        if not number.is_integer():
            return None, f"expected an integer, got {_describe(value)}"
        return int(number), None
    return number, None


def validate_columns(
    schema: InputSchema,
    columns: Mapping[str, Sequence[Any]],
    *,
    text_cells: bool = False,
    max_problems: int = MAX_PROBLEMS,
) -> tuple[ValidatedTable, list[InputProblem]]:
    """Check a table given as column name → cells against `schema`.

    Refused: a missing or an extra column, columns of unequal length, a cell of the wrong
    type, a category never seen in training, a missing value (None, NaN; with
    `text_cells`, also an empty cell or 'NaN') where training had none, infinity. With
    `text_cells` (CSV), cells are text to parse; otherwise they must already be numbers,
    booleans or strings (JSON). Values outside the training range are accepted: the range
    is recorded for monitoring, and a forest predicts there as it does at the edge.

    Returns the converted table and the problems (at most `max_problems`); the table is
    only meaningful when there are no problems.
    """
    problems: list[InputProblem] = []
    expected = schema.names
    missing = [name for name in expected if name not in columns]
    extra = [name for name in columns if name not in set(expected)]
    for name in missing:
        problems.append(InputProblem(name, "missing column"))
    for name in extra:
        problems.append(InputProblem(name, "unexpected column (not in the training data)"))
    lengths = {len(cells) for name, cells in columns.items() if name in set(expected)}
    if len(lengths) > 1:
        problems.append(InputProblem(None, f"columns have different lengths: {sorted(lengths)}"))
    if problems:
        return ValidatedTable(), problems[:max_problems]
    rows = lengths.pop() if lengths else 0
    converted: dict[str, list[Any]] = {}
    for column in schema.columns:
        cells = columns[column.name]
        out: list[Any] = []
        for index, value in enumerate(cells):
            if _is_missing(value, text_cells):
                if not column.nullable:
                    problems.append(
                        InputProblem(
                            column.name, "missing value (training data had none)", index + 1
                        )
                    )
                out.append(None)
                continue
            cell, error = _convert(column, value, text_cells)
            if error is not None:
                problems.append(InputProblem(column.name, error, index + 1))
            out.append(cell)
        converted[column.name] = out
        if len(problems) >= max_problems:
            break
    problems.sort(key=lambda p: (p.row or 0, expected.index(p.column) if p.column else -1))
    return ValidatedTable(converted, rows), problems[:max_problems]


def encode_columns(schema: InputSchema, table: ValidatedTable) -> dict[str, list[float]]:
    """The model's feature columns, in `schema.features` order, from a validated table.

    Category columns become one 0/1 column per category seen (as the pipeline's one-hot
    encoding did); a missing value stays NaN for the model to handle.
    """
    encoded: dict[str, list[float]] = {}
    for column in schema.columns:
        cells = table.columns[column.name]
        if column.type == "category":
            for category, name in zip(column.categories, column.encoded_as, strict=True):
                encoded[name] = [
                    math.nan if cell is None else float(cell == category) for cell in cells
                ]
        else:
            encoded[column.name] = [math.nan if cell is None else float(cell) for cell in cells]
    return {name: encoded[name] for name in schema.features}
