"""Batch predictions from a CSV file, with the inputs checked against the input schema.

From the command line (the model of the work tree, after `dvc pull` or `dvc repro`):

    python -m {{ cookiecutter.package_name }}.predict \\
        --input new.csv --output predictions.csv

This uses whatever model file the work tree holds; nothing here checks a signature. To
predict with a promoted version, which must first verify (its signature and provenance,
as `mlgitops verify` checks them) and is then fetched through DVC and checked against
its dvc.lock:

    mlgitops predict --model {{ cookiecutter.model_name }}@v1.0.0 \\
        --key release.pub --input new.csv --output predictions.csv

(`--identity ID` instead of `--key` for a version signed keyless in GitHub Actions.)

From Python:

    from {{ cookiecutter.package_name }}.predict import load, predict_frame
    model, schema = load()
    predictions = predict_frame(model, schema, frame, version="v1.0.0")

Each output row holds `prediction`, one `probability_<class>` column per class for
classifiers, and `model_version`. A row or column that does not match the schema
stops the run before anything is written (exit code 2, naming the row and column).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python src/<package>/predict.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import joblib
import pandas as pd

from {{ cookiecutter.package_name }}.common import MODEL, SCHEMA
from {{ cookiecutter.package_name }}.schema import InvalidInput, check_frame, encode_frame


def load(model_path: Path = MODEL, schema_path: Path = SCHEMA) -> tuple[Any, dict]:
    """The fitted model and its input schema."""
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    return joblib.load(model_path), schema


def read_input(path: Path) -> pd.DataFrame:
    """A CSV with every cell as written (text), for `check_frame` to judge."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def predict_frame(model: Any, schema: dict, frame: pd.DataFrame, version: str = "") -> pd.DataFrame:
    """Predictions for `frame`; raises InvalidInput (naming row and column) on a bad input."""
    check_frame(schema, frame)
    features = encode_frame(schema, frame)
    result = pd.DataFrame({"prediction": model.predict(features)}, index=frame.index)
    if hasattr(model, "predict_proba"):
        for label, column in zip(model.classes_, model.predict_proba(features).T, strict=True):
            result[f"probability_{label}"] = column
    result["model_version"] = version
    return result


def write_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV whole or not at all: a temporary file next to it, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            frame.to_csv(out, index=False)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path, help="CSV file of feature rows")
    parser.add_argument("--output", required=True, type=Path, help="CSV file to write")
    parser.add_argument("--model", type=Path, default=MODEL, help=f"default: {MODEL}")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help=f"default: {SCHEMA}")
    parser.add_argument("--version", default="workspace", help="written in model_version")
    args = parser.parse_args(argv)
    try:
        model, schema = load(args.model, args.schema)
        predictions = predict_frame(model, schema, read_input(args.input), args.version)
    except InvalidInput as error:
        for problem in error.problems:
            line = f":{problem.row + 1}" if problem.row is not None else ""
            print(f"{args.input}{line}: {problem}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"predict: {error}", file=sys.stderr)
        return 2
    write_atomically(predictions, args.output)
    print(f"predict: {len(predictions)} rows -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
