"""Base-versus-head comparison of metrics and params (pure)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mlgitops.core.metrics import MetricValue, flatten, metric_value

Directions = Mapping[str, bool] | Callable[[str], bool | None] | None


class Change(StrEnum):
    """How a metric moved from base to head."""

    BETTER = "better"
    WORSE = "worse"
    UNCHANGED = "unchanged"
    CHANGED = "changed"  # moved, but the policy gives no direction
    ADDED = "added"
    REMOVED = "removed"
    INVALID = "invalid"  # base or head is not a finite number


@dataclass(frozen=True)
class MetricDelta:
    """One metric compared. `absolute` = head - base; `relative` = absolute / |base|."""

    name: str
    base: MetricValue | None
    head: MetricValue | None
    change: Change
    absolute: float | None = None
    relative: float | None = None
    higher_is_better: bool | None = None


@dataclass(frozen=True)
class ParamChange:
    """One parameter that differs; `kind` is added, removed or changed."""

    name: str
    base: Any
    head: Any
    kind: str


def direction_of(directions: Directions, name: str) -> bool | None:
    """higher_is_better for `name` from a mapping or a lookup function (e.g. a Policy's)."""
    if directions is None:
        return None
    if callable(directions):
        return directions(name)
    value = directions.get(name)
    return value if isinstance(value, bool) else None


def _same(base: float, head: float) -> bool:
    return math.isclose(base, head, rel_tol=1e-12, abs_tol=1e-12)


def compare(name: str, base: Any, head: Any, higher_is_better: bool | None) -> MetricDelta:
    """Compare one metric; `base`/`head` are raw values, `...` (Ellipsis) when absent."""
    base_value = None if base is ... else metric_value(base)
    head_value = None if head is ... else metric_value(head)
    if base_value is None and head_value is None:
        raise ValueError(f"metric {name!r} is in neither base nor head")
    if (base_value and not base_value.valid) or (head_value and not head_value.valid):
        return MetricDelta(
            name, base_value, head_value, Change.INVALID, None, None, higher_is_better
        )
    if base_value is None:
        return MetricDelta(name, None, head_value, Change.ADDED, higher_is_better=higher_is_better)
    if head_value is None:
        return MetricDelta(
            name, base_value, None, Change.REMOVED, higher_is_better=higher_is_better
        )
    assert base_value.number is not None and head_value.number is not None
    old, new = base_value.number, head_value.number
    absolute = new - old
    relative = absolute / abs(old) if old != 0 else None
    if _same(old, new):
        change, absolute, relative = Change.UNCHANGED, 0.0, 0.0 if old != 0 else None
    elif higher_is_better is None:
        change = Change.CHANGED
    else:
        change = Change.BETTER if (absolute > 0) == higher_is_better else Change.WORSE
    return MetricDelta(name, base_value, head_value, change, absolute, relative, higher_is_better)


def diff_metrics(
    base: Mapping[str, Any] | None,
    head: Mapping[str, Any],
    directions: Directions = None,
) -> list[MetricDelta]:
    """Compare flat (or nested, flattened here) metric mappings, in head's order then removed.

    `base=None` means there is nothing to compare with: every head metric is ADDED.
    """
    base_flat = flatten(base or {})
    head_flat = flatten(head)
    names = list(head_flat) + [n for n in base_flat if n not in head_flat]
    return [
        compare(
            name,
            base_flat.get(name, ...),
            head_flat.get(name, ...),
            direction_of(directions, name),
        )
        for name in names
    ]


def diff_params(base: Mapping[str, Any] | None, head: Mapping[str, Any]) -> list[ParamChange]:
    """Params that differ (dotted names, sorted). Values compare by type and value."""
    base_flat = flatten(base or {})
    head_flat = flatten(head)
    changes = []
    for name in sorted(set(base_flat) | set(head_flat)):
        if name not in base_flat:
            changes.append(ParamChange(name, None, head_flat[name], "added"))
        elif name not in head_flat:
            changes.append(ParamChange(name, base_flat[name], None, "removed"))
        else:
            old, new = base_flat[name], head_flat[name]
            if type(old) is not type(new) or old != new:
                if not (isinstance(old, float) and isinstance(new, float) and _nan_pair(old, new)):
                    changes.append(ParamChange(name, old, new, "changed"))
    return changes


def _nan_pair(old: float, new: float) -> bool:
    return math.isnan(old) and math.isnan(new)


def count_changes(deltas: list[MetricDelta]) -> dict[str, int]:
    """How many metrics fall in each Change (every Change present, zero included)."""
    counts = {change.value: 0 for change in Change}
    for delta in deltas:
        counts[delta.change.value] += 1
    return counts
