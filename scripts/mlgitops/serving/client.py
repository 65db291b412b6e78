"""A small V2 client for a served version: request bodies from rows, and one POST.

For smoke tests, load tests and the demo; the standard library only (no MLServer).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from mlgitops.core.input_schema import InputSchema

_DATATYPES = {"integer": "INT64", "float": "FP64", "boolean": "BOOL", "category": "BYTES"}


def infer_body(schema: InputSchema, columns: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """A V2 inference request with one input per schema column, in schema order.

    `columns` maps column name to cells (numbers, booleans, strings; None for missing).
    Columns not in the schema are left out; the server refuses a missing one.
    """
    inputs = []
    for column in schema.columns:
        if column.name not in columns:
            continue
        cells = [None if _is_nan(cell) else cell for cell in columns[column.name]]
        inputs.append(
            {
                "name": column.name,
                "datatype": _DATATYPES[column.type],
                "shape": [len(cells), 1],
                "data": cells,
            }
        )
    return {"inputs": inputs}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def post_json(url: str, body: Any, timeout: float = 30.0) -> tuple[int, Any]:
    """POST `body` as JSON; (status, decoded JSON or text) for 2xx and 4xx/5xx alike."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body, allow_nan=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = int(response.status), response.read()
    except urllib.error.HTTPError as error:
        status, payload = int(error.code), error.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode("utf-8", errors="replace")
