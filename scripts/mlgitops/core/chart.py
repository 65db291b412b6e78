"""DVC plots in the report (pure): which plot data changed, and confusion matrices as tables.

A PR comment cannot show DVC's rendered plots without hosting images, but a confusion
matrix is small enough to read as a table, base and head side by side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_MATRIX_LABELS = 12


@dataclass(frozen=True)
class PlotData:
    """One plot file at one revision: its DVC plot properties and rows (None: absent)."""

    path: str
    props: Mapping[str, Any]
    rows: Sequence[Mapping[str, Any]] | None


@dataclass(frozen=True)
class PlotChange:
    path: str
    title: str | None
    template: str | None
    status: str  # changed, unchanged, added, removed
    matrix_base: Mapping[tuple[str, str], int] | None = None
    matrix_head: Mapping[tuple[str, str], int] | None = None


def confusion_counts(
    rows: Sequence[Mapping[str, Any]], actual: str, predicted: str
) -> dict[tuple[str, str], int]:
    """(actual, predicted) → count, from the per-sample rows DVC's confusion template plots."""
    return dict(Counter((str(row.get(actual)), str(row.get(predicted))) for row in rows))


def _matrix(data: PlotData | None) -> dict[tuple[str, str], int] | None:
    if data is None or data.rows is None or data.props.get("template") != "confusion":
        return None
    x, y = data.props.get("x"), data.props.get("y")
    if not isinstance(x, str) or not isinstance(y, str):
        return None
    return confusion_counts(data.rows, x, y)


def compare_plots(
    base: Mapping[str, PlotData] | None, head: Mapping[str, PlotData]
) -> list[PlotChange]:
    """Per plot file: did its data change? Confusion matrices come along for rendering."""
    changes = []
    for path in sorted(set(head) | set(base or {})):
        old = (base or {}).get(path)
        new = head.get(path)
        either = new or old
        props = either.props if either is not None else {}
        title = props.get("title") if isinstance(props.get("title"), str) else None
        template = props.get("template") if isinstance(props.get("template"), str) else None
        if base is None or old is None or old.rows is None:
            status = "added" if base is not None else "unchanged"
        elif new is None or new.rows is None:
            status = "removed"
        else:
            status = "unchanged" if list(old.rows) == list(new.rows) else "changed"
        changes.append(PlotChange(path, title, template, status, _matrix(old), _matrix(new)))
    return changes


def matrix_labels(*matrices: Mapping[tuple[str, str], int] | None) -> list[str]:
    """Class labels of the matrices, numeric ones in numeric order."""
    labels = {label for m in matrices if m for pair in m for label in pair}

    def key(label: str) -> tuple[int, float, str]:
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)

    return sorted(labels, key=key)
