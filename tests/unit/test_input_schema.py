"""The input schema format and the validation of tables against it (pure, table-driven)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mlgitops.core.input_schema import (
    SCHEMA_FORMAT,
    SchemaFormatError,
    ValidatedTable,
    encode_columns,
    schema_from_dict,
    validate_columns,
)

DOCUMENT: dict[str, Any] = {
    "format": SCHEMA_FORMAT,
    "target": "churned",
    "task": "classification",
    "rows": 3,
    "columns": [
        {"name": "tenure", "type": "integer", "nullable": False, "min": 1, "max": 71},
        {"name": "charges", "type": "float", "nullable": False, "min": 10.5, "max": 99.0},
        {"name": "promo", "type": "boolean", "nullable": False},
        {
            "name": "plan",
            "type": "category",
            "nullable": False,
            "categories": ["basic", "pro"],
            "encoded_as": ["plan_basic", "plan_pro"],
        },
        {"name": "score", "type": "float", "nullable": True},
    ],
    "features": ["tenure", "charges", "promo", "score", "plan_basic", "plan_pro"],
}
SCHEMA = schema_from_dict(DOCUMENT)


def good() -> dict[str, list[Any]]:
    return {
        "tenure": [3, 70],
        "charges": [20.5, 30],
        "promo": [True, False],
        "plan": ["pro", "basic"],
        "score": [0.5, None],
    }


def test_a_valid_table_converts_and_encodes_in_feature_order() -> None:
    table, problems = validate_columns(SCHEMA, good())
    assert problems == []
    assert table.rows == 2
    encoded = encode_columns(SCHEMA, table)
    assert list(encoded) == list(SCHEMA.features)
    assert encoded["plan_pro"] == [1.0, 0.0] and encoded["plan_basic"] == [0.0, 1.0]
    assert encoded["tenure"] == [3.0, 70.0] and encoded["promo"] == [1.0, 0.0]
    assert encoded["score"][0] == 0.5 and math.isnan(encoded["score"][1])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.pop("plan"), [(None, "plan", "missing column")]),
        (lambda t: t.update(extra=[1, 2]), [(None, "extra", "unexpected column")]),
        (lambda t: t["charges"].__setitem__(1, "abc"), [(2, "charges", "expected a number")]),
        (lambda t: t["charges"].__setitem__(0, None), [(1, "charges", "missing value")]),
        (lambda t: t["charges"].__setitem__(0, math.nan), [(1, "charges", "missing value")]),
        (lambda t: t["charges"].__setitem__(0, math.inf), [(1, "charges", "finite number")]),
        (lambda t: t["tenure"].__setitem__(1, 2.5), [(2, "tenure", "expected an integer")]),
        (lambda t: t["tenure"].__setitem__(1, True), [(2, "tenure", "expected a number")]),
        (lambda t: t["promo"].__setitem__(0, 1), [(1, "promo", "expected true or false")]),
        (lambda t: t["plan"].__setitem__(1, "gold"), [(2, "plan", "never seen in training")]),
        (lambda t: t["plan"].__setitem__(1, None), [(2, "plan", "missing value")]),
        (lambda t: t["tenure"].append(5), [(None, None, "different lengths")]),
        (
            lambda t: (t["plan"].__setitem__(1, "gold"), t["charges"].__setitem__(0, "x")),
            [(1, "charges", "expected a number"), (2, "plan", "never seen")],
        ),
    ],
)
def test_each_kind_of_bad_table_names_its_row_and_column(change: Any, expected: list) -> None:
    table = good()
    change(table)
    _, problems = validate_columns(SCHEMA, table)
    assert [(p.row, p.column) for p in problems] == [(row, col) for row, col, _ in expected]
    for problem, (_, _, message) in zip(problems, expected, strict=True):
        assert message in problem.message


def test_values_outside_the_training_range_are_accepted() -> None:
    table = good()
    table["tenure"] = [0, 500]
    assert validate_columns(SCHEMA, table)[1] == []


def test_text_cells_of_a_csv_are_parsed_and_judged() -> None:
    text = {
        "tenure": ["3", "4"],
        "charges": ["20.5", "1e1"],
        "promo": ["true", "0"],
        "plan": [" pro", "basic"],
        "score": ["", "NaN"],
    }
    table, problems = validate_columns(SCHEMA, text, text_cells=True)
    assert problems == []
    assert table.columns["promo"] == [True, False] and table.columns["plan"] == ["pro", "basic"]
    text["charges"][1] = ""
    text["tenure"][0] = "three"
    _, problems = validate_columns(SCHEMA, text, text_cells=True)
    assert [(p.row, p.column) for p in problems] == [(1, "tenure"), (2, "charges")]
    assert str(problems[1]) == "row 2, column 'charges': missing value (training data had none)"


def test_json_strings_are_not_numbers() -> None:
    table = good()
    table["charges"] = ["20.5", "30"]
    _, problems = validate_columns(SCHEMA, table)
    assert [(p.row, p.column) for p in problems] == [(1, "charges"), (2, "charges")]


def test_problems_are_capped() -> None:
    table = good()
    table = {name: cells * 50 for name, cells in table.items()}
    table["charges"] = ["x"] * 100
    _, problems = validate_columns(SCHEMA, table, max_problems=5)
    assert len(problems) == 5 and [p.row for p in problems] == [1, 2, 3, 4, 5]


def test_an_empty_table_is_valid_with_no_rows() -> None:
    table, problems = validate_columns(SCHEMA, {name: [] for name in SCHEMA.names})
    assert problems == [] and table == ValidatedTable({n: [] for n in SCHEMA.names}, 0)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="other/v9"), "'format' must be"),
        (lambda d: d.pop("columns"), "missing key 'columns'"),
        (lambda d: d["columns"][0].update(type="text"), r"columns\[0\]: 'type' must be"),
        (lambda d: d["columns"][3].pop("encoded_as"), r"columns\[3\]: a category column"),
        (lambda d: d["columns"].append(dict(d["columns"][0])), "duplicate column names"),
        (lambda d: d["features"].append("plan_gold"), "'plan_gold' is not a column"),
        (lambda d: d["columns"][0].update(min="1"), r"columns\[0\].min"),
    ],
)
def test_a_malformed_schema_names_the_key(edit: Any, message: str) -> None:
    import copy

    document = copy.deepcopy(DOCUMENT)
    edit(document)
    with pytest.raises(SchemaFormatError, match=message):
        schema_from_dict(document)
