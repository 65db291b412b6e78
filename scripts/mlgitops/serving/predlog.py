"""Prediction logs: append-only, rotating segments of checksummed JSON Lines.

One record per predicted row, one line per record:

    <crc32 of the JSON, 8 hex digits> <space> <JSON object> <newline>

    {"request_id": "...", "row": 0, "time": "2026-12-01T09:30:00.123456Z",
     "model": "churn-model", "version": "v1.2.0", "inputs": {"age": 41, ...},
     "output": 1, "proba": {"0": 0.2, "1": 0.8}, "latency_ms": 12.5}

Every writer process appends to segments of its own (`<host>-<pid>` in the name), so
writes of different processes never share a file; the threads of one process share a
lock. Each request's records reach the file in one `write()` on an `O_APPEND`
descriptor. A segment is closed and a new one started when the next write would take
it over `segment_bytes`.

A writer killed mid-write leaves at most its last line incomplete: it has no newline,
or its checksum does not match. The reader skips such lines and counts them
(`ReadStats.truncated`, `ReadStats.corrupt`) instead of reading them as data.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mlgitops.core.monitoring import LogPolicy, json_safe, logged_inputs
from mlgitops.errors import InputError

SEGMENT_SUFFIX = ".jsonl"
SEGMENT_PREFIX = "predictions"
MAX_RECORD_BYTES = 1024 * 1024  # one row of inputs; serving bounds request bodies below this
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class PredictionLogError(ValueError):
    """A record that cannot be logged (too large, mismatched rows)."""


def frame(record: Mapping[str, Any]) -> bytes:
    """One record as a line: checksum, space, compact JSON, newline."""
    body = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PredictionLogWriter:
    """Appends prediction records to `folder`; safe across threads and processes."""

    def __init__(
        self,
        folder: Path,
        *,
        model: str,
        version: str,
        policy: LogPolicy | None = None,
        salt: str | None = None,
        segment_bytes: int | None = None,
        fsync: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self.model = model
        self.version = version
        self.policy = policy or LogPolicy()
        if self.policy.hash and not salt:
            raise InputError(
                f"the policy hashes logged columns ({', '.join(self.policy.hash)}) but "
                f"{self.policy.salt_env} is not set",
                hint=f"set {self.policy.salt_env} to a secret value; an unsalted hash of "
                "personal data can be reversed by trying every value",
            )
        self.salt = salt
        self.segment_bytes = segment_bytes or int(self.policy.segment_mb * 1024 * 1024)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1
        self._size = 0
        self._sequence = 0
        self._host = _UNSAFE.sub("-", socket.gethostname())[:40] or "host"

    @classmethod
    def from_policy(
        cls,
        root: Path,
        policy: LogPolicy,
        *,
        model: str,
        version: str,
        environ: Mapping[str, str] | None = None,
    ) -> PredictionLogWriter:
        """A logger writing to `root / policy.folder`, salted from `policy.salt_env`."""
        env = os.environ if environ is None else environ
        return cls(
            root / policy.folder,
            model=model,
            version=version,
            policy=policy,
            salt=env.get(policy.salt_env) or None,
        )

    # ------------------------------------------------------------------ writing
    def log(
        self,
        *,
        request_id: str,
        inputs: Sequence[Mapping[str, Any]],
        outputs: Sequence[Any],
        latency_ms: float,
        probabilities: Sequence[Mapping[str, float]] | None = None,
        received: float | None = None,
    ) -> int:
        """Record one request (one record per row); returns the number of records.

        `received`: when the request arrived (seconds since the epoch; default now)."""
        if len(inputs) != len(outputs) or (
            probabilities is not None and len(probabilities) != len(outputs)
        ):
            raise PredictionLogError("inputs, outputs and probabilities differ in length")
        now = _utc(time.time() if received is None else received)
        lines = []
        for row, (values, output) in enumerate(zip(inputs, outputs, strict=True)):
            record: dict[str, Any] = {
                "request_id": str(request_id),
                "row": row,
                "time": now,
                "model": self.model,
                "version": self.version,
                "inputs": logged_inputs(values, self.policy, self.salt),
                "output": json_safe(output),
                "latency_ms": round(float(latency_ms), 3),
            }
            if probabilities is not None:
                record["proba"] = {str(k): json_safe(v) for k, v in probabilities[row].items()}
            line = frame(record)
            if len(line) > MAX_RECORD_BYTES:
                raise PredictionLogError(
                    f"a record of {len(line)} bytes is over the limit of {MAX_RECORD_BYTES}"
                )
            lines.append(line)
        self._append(b"".join(lines))
        return len(lines)

    def _append(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None or self._pid != os.getpid():
                self._open()  # after a fork the child gets segments of its own
            elif self._size and self._size + len(data) > self.segment_bytes:
                self._close_fd()
                self._open()
            assert self._fd is not None
            view = memoryview(data)
            while view:  # a regular file may take fewer bytes than asked (disk full)
                written = os.write(self._fd, view)
                view = view[written:]
            self._size += len(data)
            if self.fsync:
                os.fsync(self._fd)

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        while True:
            self._sequence += 1
            name = (
                f"{SEGMENT_PREFIX}-{stamp}-{self._host}-{self._pid}-{self._sequence:05d}"
                f"{SEGMENT_SUFFIX}"
            )
            try:
                # O_EXCL: a reused pid never appends to a segment of an earlier process.
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
                self._fd = os.open(self.folder / name, flags, 0o640)
                break
            except FileExistsError:
                continue
        self._size = 0

    def _close_fd(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    def __enter__(self) -> PredictionLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- reading


@dataclass
class ReadStats:
    """What a read found besides the records: skipped lines are counted, never read."""

    segments: int = 0
    records: int = 0
    truncated: int = 0  # a last line without its newline: a write cut short
    corrupt: int = 0  # a complete line whose checksum or JSON is wrong

    @property
    def skipped(self) -> int:
        return self.truncated + self.corrupt


def read_records(stream: IO[bytes], stats: ReadStats) -> Iterator[dict[str, Any]]:
    """The valid records of one segment, streamed line by line."""
    stats.segments += 1
    for line in stream:
        if not line.endswith(b"\n"):
            stats.truncated += 1
            continue
        record = parse_line(line)
        if record is None:
            stats.corrupt += 1
            continue
        stats.records += 1
        yield record


def parse_line(line: bytes) -> dict[str, Any] | None:
    """A record, or None when the line is not one intact record."""
    if len(line) < 12 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        record = json.loads(body.decode())  # str: json skips guessing the encoding
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def segment_paths(folder: Path) -> list[Path]:
    """The segments under `folder` (recursively), oldest name first."""
    return sorted(folder.rglob(f"*{SEGMENT_SUFFIX}"), key=lambda p: (p.name, str(p)))


def iter_folder(folder: Path, stats: ReadStats) -> Iterator[dict[str, Any]]:
    """Every valid record of every segment under `folder`."""
    for path in segment_paths(folder):
        with path.open("rb") as stream:
            yield from read_records(stream, stats)


def write_records(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write already-built records as one segment (fixtures, tests and benchmarks)."""
    with path.open("wb") as stream:
        for record in records:
            stream.write(frame(record))


# --------------------------------------------------------------------------- the serving hook

# `mlgitops serve` puts the log settings here for the MLServer process it starts.
SETTINGS_ENV = "MLGITOPS_PREDICTION_LOG"
HOOK = "mlgitops.serving.predlog:hook_logger"


class HookLogger:
    """The `serving.hooks.PredictionLogger` of `mlgitops serve` and `mlgitops predict`."""

    def __init__(self, folder: Path, policy: LogPolicy, salt: str | None) -> None:
        self.folder, self.policy, self.salt = folder, policy, salt
        self._writers: dict[tuple[str, str], PredictionLogWriter] = {}
        self._lock = threading.Lock()

    def _writer(self, model: str, version: str) -> PredictionLogWriter:
        with self._lock:
            key = (model, version)
            if key not in self._writers:
                self._writers[key] = PredictionLogWriter(
                    self.folder, model=model, version=version, policy=self.policy, salt=self.salt
                )
            return self._writers[key]

    def log(self, record: Any) -> None:
        """One `serving.hooks.PredictionRecord`: inputs by column, outputs by row."""
        columns = {str(name): list(cells) for name, cells in record.inputs.items()}
        rows = len(record.outputs)
        inputs = [{name: cells[i] for name, cells in columns.items()} for i in range(rows)]
        probabilities = None
        if record.probabilities is not None and record.classes is not None:
            classes = [str(c) for c in record.classes]
            probabilities = [dict(zip(classes, row, strict=True)) for row in record.probabilities]
        self._writer(record.model, record.version).log(
            request_id=record.request_id,
            inputs=inputs,
            outputs=list(record.outputs),
            probabilities=probabilities,
            latency_ms=record.latency_ms,
            received=record.time,
        )

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.close()


def hook_settings(folder: Path, policy: LogPolicy) -> str:
    """The JSON that `hook_logger` reads from SETTINGS_ENV (absolute folder)."""
    return json.dumps({**policy.to_dict(), "folder": str(folder.resolve())})


def hook_logger(extra: Mapping[str, Any] | None = None) -> HookLogger:
    """The factory named in the model settings (`prediction_logger`): settings from
    SETTINGS_ENV, the hashing salt from the variable the policy names."""
    policy = LogPolicy.from_dict(json.loads(os.environ[SETTINGS_ENV]))
    return logger_for(Path(policy.folder), policy, os.environ)


def logger_for(folder: Path, policy: LogPolicy, environ: Mapping[str, str]) -> HookLogger:
    """A hook logger writing to `folder`; refuses hashed columns without a salt."""
    salt = environ.get(policy.salt_env) or None
    PredictionLogWriter(folder, model="", version="", policy=policy, salt=salt)  # checks only
    return HookLogger(folder, policy, salt)
