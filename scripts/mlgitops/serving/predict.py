"""Batch predictions for a CSV file with a fetched, verified model version.

The CSV is read as text (every cell as written) and judged by the input schema of the
version; any problem stops the run before a byte is written, and the error names the
line, row and column. The output is written whole or not at all (a temporary file next
to it, then a rename): one row per input row, in order, with `prediction`, one
`probability_<class>` column per class for a classifier, and `model_version` (the tag).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mlgitops.core.input_schema import InputProblem, InputSchema, validate_columns
from mlgitops.errors import InputError, Location
from mlgitops.serving.fetch import FetchedVersion, fetch_model_version
from mlgitops.serving.hooks import PredictionLogger, PredictionRecord
from mlgitops.serving.model import Predictions, load_model, predict_table

# The whole file is held in memory; beyond this, split it.
MAX_INPUT_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class BatchResult:
    version: FetchedVersion
    rows: int
    output: Path


def read_csv_columns(path: Path) -> dict[str, list[str]]:
    """Column name → cells (text) of a CSV file; InputError naming the line if malformed."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(
                f"file is {size} bytes, over the limit of {MAX_INPUT_BYTES}",
                location=Location(name),
            )
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", location=Location(name)) from None
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start})", location=Location(name)) from None
    except OSError as error:
        raise InputError(f"cannot read it: {error.strerror}", location=Location(name)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the CSV file is empty", location=Location(name)) from None
    names = [column.strip() for column in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(
            f"column '{duplicated[0]}' appears more than once", location=Location(name, 1)
        )
    columns: dict[str, list[str]] = {column: [] for column in names}
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != len(names):
                raise InputError(
                    f"{len(row)} cells, but the header has {len(names)} columns",
                    location=Location(name, reader.line_num),
                )
            for column, cell in zip(names, row, strict=True):
                columns[column].append(cell)
    except csv.Error as error:
        raise InputError(
            f"not valid CSV: {error}", location=Location(name, reader.line_num)
        ) from None
    return columns


def problems_error(problems: list[InputProblem], source: str) -> InputError:
    """One InputError listing every problem by line (header is line 1), row and column."""
    lines = []
    for problem in problems:
        where = f"line {problem.row + 1} (row {problem.row})" if problem.row else "header"
        column = f", column '{problem.column}'" if problem.column else ""
        lines.append(f"  {where}{column}: {problem.message}")
    first = problems[0]
    return InputError(
        "the input does not match the model's input schema:\n" + "\n".join(lines),
        location=Location(source, first.row + 1 if first.row else 1),
        hint="the schema of the training data is models/schema.json of that version",
    )


def _output_columns(predictions: Predictions, tag: str) -> dict[str, list[object]]:
    columns: dict[str, list[object]] = {"prediction": list(predictions.labels)}
    if predictions.probabilities is not None and predictions.classes is not None:
        for index, label in enumerate(predictions.classes):
            columns[f"probability_{label}"] = [row[index] for row in predictions.probabilities]
    columns["model_version"] = [tag] * len(predictions.labels)
    return columns


def write_csv_atomically(columns: dict[str, list[object]], path: Path) -> None:
    """Write the columns as a CSV file whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(columns)
            writer.writerows(zip(*columns.values(), strict=True))
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def predict_file(
    schema: InputSchema,
    model: object,
    input_path: Path,
    output_path: Path,
    *,
    tag: str,
    logger: PredictionLogger | None = None,
    model_name: str = "",
    version: str = "",
) -> int:
    """Validate `input_path`, predict, write `output_path`; returns the number of rows."""
    started = time.time()
    clock = time.perf_counter()
    table, problems = validate_columns(schema, read_csv_columns(input_path), text_cells=True)
    if problems:
        raise problems_error(problems, str(input_path))
    if table.rows == 0:
        raise InputError(
            "the CSV file has a header but no rows", location=Location(str(input_path))
        )
    predictions = predict_table(model, schema, table)
    write_csv_atomically(_output_columns(predictions, tag), output_path)
    if logger is not None:
        logger.log(
            PredictionRecord(
                request_id=str(uuid.uuid4()),
                time=started,
                model=model_name,
                version=version,
                inputs=table.columns,
                outputs=predictions.labels,
                probabilities=predictions.probabilities,
                classes=predictions.classes,
                latency_ms=(time.perf_counter() - clock) * 1000,
                source="predict",
            )
        )
    return table.rows


def predict_version(
    repo_root: Path,
    reference: str,
    input_path: Path,
    output_path: Path,
    *,
    logger: PredictionLogger | None = None,
) -> BatchResult:
    """Fetch `reference` (verified), then `predict_file` with it."""
    with tempfile.TemporaryDirectory(prefix="mlgitops-predict-") as scratch:
        fetched = fetch_model_version(repo_root, reference, Path(scratch))
        assert fetched.schema is not None  # required by fetch_model_version's default
        rows = predict_file(
            fetched.schema,
            load_model(fetched.path),
            input_path,
            output_path,
            tag=fetched.tag,
            logger=logger,
            model_name=fetched.model,
            version=fetched.version,
        )
    return BatchResult(fetched, rows, output_path)
