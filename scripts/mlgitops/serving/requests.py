"""Open Inference Protocol V2 requests as tables: decoding, checking and answering.

A request names one input per column of the input schema (the pandas codec's shape):

    {"inputs": [{"name": "mean radius", "datatype": "FP64", "shape": [2], "data": [17.9, 12.4]},
                {"name": "plan", "datatype": "BYTES", "shape": [2], "data": ["pro", "basic"]}]}

`request_table` checks one request on its own, before it can join a batch, and raises
`InvalidRequest` (HTTP 400) naming the input and the row: a duplicate or unknown input,
a `shape` that disagrees with the data, a datatype that is not the column's, a cell of
the wrong type, a category never seen, a missing value where training had none.
`canonical_request` rewrites an accepted request in one fixed form (every column, in
schema order, flat data, one datatype per column type, no client parameters), so that
requests batched together merge cell for cell and nothing of one request (its headers,
its shape) leaks into another's answer.

Only pydantic types of MLServer are used here, no server.
"""

from __future__ import annotations

from typing import Any

from mlserver.errors import MLServerError
from mlserver.types import (
    InferenceRequest,
    InferenceResponse,
    RequestInput,
    ResponseOutput,
)

from mlgitops.core.input_schema import InputSchema, ValidatedTable, validate_columns
from mlgitops.serving.model import Predictions

PREDICT_OUTPUT = "predict"
PROBA_OUTPUT = "predict_proba"
_NUMERIC = {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64"}
_NUMERIC |= {"UINT8", "UINT16", "UINT32", "UINT64"}
ACCEPTED_DATATYPES = {
    "integer": _NUMERIC,
    "float": _NUMERIC,
    "boolean": {"BOOL"},
    "category": {"BYTES"},
}
CANONICAL_DATATYPE = {"integer": "INT64", "float": "FP64", "boolean": "BOOL", "category": "BYTES"}
_SHOWN_PROBLEMS = 5


class InvalidRequest(MLServerError):
    """A request the schema refuses: 400, with a message naming the input (never a trace)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=400)


def _datatype_name(request_input: RequestInput) -> str:
    datatype = request_input.datatype  # an enum, or its value once pydantic stored that
    return str(getattr(datatype, "value", datatype))


def _flat_cells(request_input: RequestInput) -> list[Any]:
    name = request_input.name
    shape = list(request_input.shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1) or shape[0] < 0:
        raise InvalidRequest(
            f"input '{name}': shape {shape} is not [rows] or [rows, 1] (one input per column)"
        )
    data = request_input.data.root
    if not isinstance(data, list):
        data = [data]
    cells = [cell[0] if isinstance(cell, list) and len(cell) == 1 else cell for cell in data]
    if any(isinstance(cell, list | dict) for cell in cells):
        raise InvalidRequest(f"input '{name}': data must be a flat list of values")
    if len(cells) != shape[0]:
        raise InvalidRequest(
            f"input '{name}': shape {shape} says {shape[0]} rows, but data has {len(cells)} values"
        )
    if _datatype_name(request_input) == "BYTES":
        try:
            cells = [c.decode("utf-8") if isinstance(c, bytes) else c for c in cells]
        except UnicodeDecodeError:
            raise InvalidRequest(f"input '{name}': BYTES data must be UTF-8 text") from None
    return cells


def request_table(schema: InputSchema, request: InferenceRequest) -> ValidatedTable:
    """The request's cells checked against `schema`; raises InvalidRequest otherwise."""
    columns: dict[str, list[Any]] = {}
    for request_input in request.inputs:
        name = request_input.name
        if name in columns:
            raise InvalidRequest(f"input '{name}' appears more than once")
        column = schema.column(name)
        if column is not None:
            datatype = _datatype_name(request_input)
            if datatype not in ACCEPTED_DATATYPES[column.type]:
                raise InvalidRequest(
                    f"input '{name}': datatype {datatype} does not fit a {column.type} column "
                    f"(send {CANONICAL_DATATYPE[column.type]})"
                )
        columns[name] = _flat_cells(request_input)
    if request.outputs:
        unknown = [o.name for o in request.outputs if o.name not in (PREDICT_OUTPUT, PROBA_OUTPUT)]
        if unknown:
            raise InvalidRequest(
                f"output '{unknown[0]}' is not served (use '{PREDICT_OUTPUT}', '{PROBA_OUTPUT}')"
            )
    table, problems = validate_columns(schema, columns)
    if problems:
        shown = []
        for problem in problems[:_SHOWN_PROBLEMS]:
            where = f"input '{problem.column}'" if problem.column else "request"
            if problem.row is not None:
                where += f", row {problem.row}"
            shown.append(f"{where}: {problem.message}")
        if len(problems) > _SHOWN_PROBLEMS:
            shown.append(f"and {len(problems) - _SHOWN_PROBLEMS} more")
        raise InvalidRequest("; ".join(shown))
    if table.rows == 0:
        raise InvalidRequest("the request has no rows")
    return table


def canonical_request(
    schema: InputSchema, request: InferenceRequest, table: ValidatedTable
) -> InferenceRequest:
    """The accepted request in one fixed form, safe to merge with others in a batch."""
    inputs = [
        RequestInput(
            name=column.name,
            datatype=CANONICAL_DATATYPE[column.type],
            shape=[table.rows, 1],
            data=table.columns[column.name],
        )
        for column in schema.columns
    ]
    return InferenceRequest(id=request.id, inputs=inputs)


def table_of_canonical(schema: InputSchema, request: InferenceRequest) -> ValidatedTable:
    """The table of a (merged) canonical request; raises InvalidRequest if it is not one."""
    columns = {item.name: list(item.data.root) for item in request.inputs}
    table, problems = validate_columns(schema, columns)
    if problems:  # every part was checked alone; a merge that breaks a rule is our bug
        raise InvalidRequest(f"batched request does not match the schema: {problems[0]}")
    return table


def _datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def response_of(
    model_name: str, version: str | None, predictions: Predictions, wanted: set[str] | None
) -> InferenceResponse:
    """`predict` (one label per row) and, for a classifier, `predict_proba` (rows by classes)."""
    rows = len(predictions.labels)
    outputs = []
    if wanted is None or PREDICT_OUTPUT in wanted:
        labels = predictions.labels
        datatype = _datatype(labels)
        data = labels if datatype != "BYTES" else [str(label) for label in labels]
        outputs.append(
            ResponseOutput(name=PREDICT_OUTPUT, datatype=datatype, shape=[rows, 1], data=data)
        )
    if predictions.probabilities is not None and (wanted is None or PROBA_OUTPUT in wanted):
        classes = predictions.classes or []
        outputs.append(
            ResponseOutput(
                name=PROBA_OUTPUT,
                datatype="FP64",
                shape=[rows, len(classes)],
                data=[p for row in predictions.probabilities for p in row],
            )
        )
    return InferenceResponse(model_name=model_name, model_version=version, outputs=outputs)
