"""The current side of `mlgitops drift`, streamed: a CSV or prediction logs, on disk or in DVC.

`open_current` tells the kinds apart: a folder (on disk, or DVC-tracked and not checked
out) holds prediction-log segments (`*.jsonl`); a file ending in `.jsonl` is one segment;
any other file is a CSV. Either way rows come in chunks of `CHUNK_ROWS`, so a file of
any size is judged in the same memory.

Also here: the promoted version's test-set predictions and metrics (read at its
revision, git-tracked files of the pipeline) and the ground-truth labels file.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from mlgitops.core.log_drift import LabelKey
from mlgitops.errors import InputError, Location, ToolError
from mlgitops.serving.predlog import SEGMENT_SUFFIX, ReadStats, read_records, segment_paths

CHUNK_ROWS = 50_000
# Records are Python dicts until a chunk becomes a frame: smaller chunks keep the peak low.
LOG_CHUNK_RECORDS = 10_000
REFERENCE_PREDICTIONS = "reports/predictions.csv"
REFERENCE_METRICS = "reports/metrics.json"
MAX_LABELS = 5_000_000  # the join keeps one entry per label


@dataclass(frozen=True)
class CurrentSource:
    """Where the current rows are: `kind` is "csv" or "log"."""

    name: str
    kind: str
    path: Path | None = None  # on disk
    dvc_path: str | None = None  # inside the repository, read through DVC
    repo: Path | None = None

    def _open(self, path: str | Path) -> contextlib.AbstractContextManager[IO[bytes]]:
        if self.dvc_path is None:
            return Path(path).open("rb")
        from dvc.api import DVCFileSystem

        return DVCFileSystem(str(self.repo)).open(str(path), "rb")

    def csv_chunks(self) -> Iterator[pd.DataFrame]:
        """The CSV in frames of CHUNK_ROWS rows."""
        target = self.path if self.dvc_path is None else self.dvc_path
        assert target is not None
        with self._open(target) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                reader = pd.read_csv(text, chunksize=CHUNK_ROWS)
                for chunk in reader:
                    if len(chunk.columns) != len(set(chunk.columns)):
                        raise InputError("duplicate column names", location=Location(self.name))
                    yield chunk
            except pd.errors.EmptyDataError:
                raise InputError("the CSV file is empty", location=Location(self.name)) from None
            except pd.errors.ParserError as error:
                raise InputError(
                    f"not a valid CSV file: {error}", location=Location(self.name)
                ) from None
            except UnicodeDecodeError as error:
                raise InputError(
                    f"not UTF-8 text (byte {error.start})", location=Location(self.name)
                ) from None

    def segments(self) -> list[str | Path]:
        if self.dvc_path is None:
            assert self.path is not None
            return list(segment_paths(self.path)) if self.path.is_dir() else [self.path]
        from dvc.api import DVCFileSystem

        fs = DVCFileSystem(str(self.repo))
        if not fs.isdir(self.dvc_path):
            return [self.dvc_path]
        found = [f for f in fs.find(self.dvc_path) if str(f).endswith(SEGMENT_SUFFIX)]
        return sorted(found, key=lambda f: (Path(str(f)).name, str(f)))

    def records(self, stats: ReadStats) -> Iterator[list[dict[str, Any]]]:
        """The valid records of every segment, in lists of up to LOG_CHUNK_RECORDS."""
        chunk: list[dict[str, Any]] = []
        for segment in self.segments():
            with self._open(segment) as stream:
                for record in read_records(stream, stats):
                    chunk.append(record)
                    if len(chunk) >= LOG_CHUNK_RECORDS:
                        yield chunk
                        chunk = []
        if chunk:
            yield chunk


def open_current(repo: Path, current: str, cwd: Path) -> CurrentSource:
    """Find the current data: a file or folder on disk, else a DVC-tracked repo path."""
    on_disk = cwd / current
    if on_disk.is_dir():
        return CurrentSource(current, "log", path=on_disk)
    if on_disk.is_file():
        kind = "log" if on_disk.name.endswith(SEGMENT_SUFFIX) else "csv"
        return CurrentSource(current, kind, path=on_disk)
    try:
        inside = on_disk.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        raise InputError("file not found", location=Location(current)) from None
    from dvc.api import DVCFileSystem

    try:
        fs = DVCFileSystem(str(repo))
        is_dir, is_file = fs.isdir(inside), fs.isfile(inside)
    except Exception as error:  # DVC's own errors: a broken config, an unreadable cache
        raise ToolError(f"DVC could not look up '{inside}': {error}") from None
    if not (is_dir or is_file):
        raise InputError(
            "file not found, and not a DVC-tracked path of the repository",
            location=Location(current),
        )
    kind = "log" if is_dir or inside.endswith(SEGMENT_SUFFIX) else "csv"
    return CurrentSource(current, kind, dvc_path=inside, repo=repo)


def read_labels(path: Path, name: str) -> dict[LabelKey, Any]:
    """Ground truth joined on request id: columns `request_id`, optional `row`, one label.

    Loaded whole (one entry per label, up to MAX_LABELS); rows without a label are left out.
    """
    if not path.is_file():
        raise InputError("labels file not found", location=Location(name))
    try:
        frame = pd.read_csv(path, dtype={"request_id": str}, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"not a valid labels CSV: {error}", location=Location(name)) from None
    others = [c for c in frame.columns if c not in {"request_id", "row"}]
    if "request_id" not in frame.columns or len(others) != 1:
        raise InputError(
            "a labels CSV has the columns request_id, optionally row, and one label column",
            location=Location(name),
            hint=f"found: {', '.join(map(str, frame.columns))}",
        )
    if len(frame) > MAX_LABELS:
        raise InputError(f"more than {MAX_LABELS} labels", location=Location(name))
    rows = frame["row"] if "row" in frame.columns else pd.Series(0, index=frame.index)
    labels: dict[LabelKey, Any] = {}
    for request, row, label in zip(frame["request_id"], rows, frame[others[0]], strict=True):
        if pd.isna(label) or pd.isna(request) or pd.isna(row):
            continue
        labels[(str(request), int(row))] = label.item() if hasattr(label, "item") else label
    return labels


def label_column(path: Path) -> str:
    """The name of the label column of a labels CSV (the target's name, for retraining)."""
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    return next(str(c) for c in header.columns if c not in {"request_id", "row"})


def read_reference_extras(
    read: Any,
) -> tuple[pd.Series | None, dict[str, float], bool | None]:
    """(test-set predictions, metrics, is a classifier) of the reference version.

    `read(path)` returns the bytes of a repository file at the reference, raising
    InputError when it does not exist there (older versions have no predictions file).
    """
    predictions = None
    metrics: dict[str, float] = {}
    with contextlib.suppress(InputError):
        frame = pd.read_csv(io.BytesIO(read(REFERENCE_PREDICTIONS)))
        if "prediction" in frame.columns and len(frame):
            predictions = frame["prediction"]
    with contextlib.suppress(InputError):
        raw = json.loads(read(REFERENCE_METRICS))
        if isinstance(raw, dict):
            metrics = {
                str(k): float(v)
                for k, v in raw.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
    classification: bool | None = None
    if "accuracy" in metrics:
        classification = True
    elif "rmse" in metrics or "mae" in metrics:
        classification = False
    elif predictions is not None:
        numeric = pd.api.types.is_float_dtype(predictions.dtype)
        classification = not numeric
    return predictions, metrics, classification
