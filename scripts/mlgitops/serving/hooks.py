"""The prediction log hook: one call per answered request or batch file.

`mlgitops serve` (the MLServer runtime) and `mlgitops predict` call a `PredictionLogger`
when one is given, after the answer is computed; they never depend on what it does with
it. The runtime builds one from the model settings (`parameters.extra.prediction_logger`,
a `module:callable` taking the extra settings and returning a logger). A logger must be
quick and must not raise: a failure of the log is reported once and never fails a
prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PredictionRecord:
    """What was asked and answered, with the version that answered it."""

    request_id: str
    time: float  # seconds since the epoch, when the request was received
    model: str
    version: str  # "v1.2.0"
    inputs: Mapping[str, Sequence[Any]]  # column name → validated cells, in schema order
    outputs: Sequence[Any]  # one prediction per row
    probabilities: Sequence[Sequence[float]] | None  # per row, in `classes` order
    classes: Sequence[Any] | None
    latency_ms: float
    source: str  # "serve" or "predict"


class PredictionLogger(Protocol):
    def log(self, record: PredictionRecord) -> None: ...
