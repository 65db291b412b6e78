"""Metric and parameter values as data: flattening, and which values can be compared.

A metric is comparable only when it is a finite real number. Booleans (JSON `true`
is an int in Python), NaN, infinities, strings (even "0.9") and nulls are invalid: they
are reported as such, never compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricValue:
    """A raw metric value and, when it is comparable, its float."""

    raw: Any
    number: float | None
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.number is not None


def metric_value(raw: Any) -> MetricValue:
    """Classify one raw value read from a metrics file."""
    if isinstance(raw, bool):
        return MetricValue(raw, None, "boolean, not a number")
    if isinstance(raw, int):
        return MetricValue(raw, float(raw))
    if isinstance(raw, float):
        if math.isnan(raw):
            return MetricValue(raw, None, "NaN")
        if math.isinf(raw):
            return MetricValue(raw, None, "infinite")
        return MetricValue(raw, raw)
    if raw is None:
        return MetricValue(raw, None, "null")
    if isinstance(raw, str):
        return MetricValue(raw, None, "text, not a number")
    return MetricValue(raw, None, f"{type(raw).__name__}, not a number")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}, "c": 2}` → `{"a.b": 1, "c": 2}` (DVC's own dotted notation).

    Lists are kept as values (DVC params may be lists; a list metric is invalid).
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def with_dropped_values(read: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """`read` (metrics as DVC returned them) plus the values DVC leaves out, from `raw`
    (the same file parsed as written).

    DVC drops a metric whose value is null, a list or an empty mapping; without it, a
    metric that became null would read as removed. Put back, it is reported invalid.
    """
    merged = dict(read)
    for name, value in flatten(raw).items():
        if name not in merged and (value is None or isinstance(value, list | Mapping)):
            merged[name] = value
    return merged


def json_safe(value: Any) -> Any:
    """A value JSON can carry strictly: NaN/Infinity become strings, the rest as is."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
