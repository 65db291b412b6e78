"""Pictures in the report (pure): metric-history charts, changed plots, confusion matrices.

A PR comment cannot show DVC's rendered plots without hosting images. GitHub renders
Mermaid, so the metric history is a Mermaid `xychart-beta` line chart, and a confusion
matrix is small enough to read as a table, base and head side by side.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from mlgitops.core.diff import MetricDelta
from mlgitops.core.markdown import escape
from mlgitops.core.metrics import metric_value

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


# ----------------------------------------------------------------------------- history charts
# Colours of GitHub's Primer palette, each at least 3:1 against both GitHub's light (#ffffff)
# and dark (#0d1117) page: Mermaid's own defaults (#ECECFF on white) are barely visible. The
# square beside each colour names it in the text legend under the chart.
PALETTE = (
    ("#0969da", "🟦"),
    ("#bc4c00", "🟧"),
    ("#1a7f37", "🟩"),
    ("#cf222e", "🟥"),
    ("#8250df", "🟪"),
    ("#a0522d", "🟫"),
)
MAX_LINES_PER_CHART = len(PALETTE)
MAX_UNRULED_METRICS = 12  # charted when the policy gives no metric a rule
# Metrics share a chart when the chart's value range is at most this many times the range
# of each of them: every line still fills a fair part of the height.
SHARED_SCALE_RATIO = 4.0
# A flat line still has a scale: this fraction of its magnitude.
FLAT_SPAN = 0.05
_LARGEST = Decimal(repr(sys.float_info.max))


@dataclass(frozen=True)
class Chart:
    """One Mermaid chart: a shared x-axis of versions and one line per metric."""

    labels: tuple[str, ...]
    lines: tuple[tuple[str, tuple[float, ...]], ...]  # (metric, value per label)
    y_min: Decimal
    y_max: Decimal


def chart_label(text: str) -> str:
    """Text as Mermaid reads it inside a quoted label (the one escaper's rule)."""
    return escape.mermaid_label(text)


def mermaid_number(value: float) -> str:
    """The float exactly (shortest round-trip digits), as a plain decimal Mermaid can parse.

    Mermaid's xychart grammar has no exponent: `4.27947e+06` and `1e-09` are syntax
    errors, so 4279470.0 is written `4279470` and 1e-09 `0.000000001`.
    """
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return _decimal(Decimal(repr(value)))


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def charted_metrics(deltas: Sequence[MetricDelta]) -> list[str]:
    """The metrics worth a chart: every one the policy has a rule for (it knows their
    direction); when the policy names none, every valid metric, up to a limit."""
    valid = [d for d in deltas if d.head is not None and d.head.valid]
    ruled = [d.name for d in valid if d.higher_is_better is not None]
    return ruled or [d.name for d in valid][:MAX_UNRULED_METRICS]


def _span(values: Sequence[float]) -> float:
    low, high = min(values), max(values)
    return max(high - low, FLAT_SPAN * max(abs(low), abs(high)))


def _axis_bounds(values: Sequence[float]) -> tuple[Decimal, Decimal]:
    """A y-range a little wider than the values, rounded outward to a short decimal.

    Worked out in decimals: float padding would overflow near the largest float and
    leave digits like 0.9234999999999.
    """
    low, high = Decimal(repr(min(values))), Decimal(repr(max(values)))
    spread = high - low or max(abs(high), abs(low)) * Decimal("0.02") or Decimal(1)
    unit = Decimal(1).scaleb(spread.adjusted() - 1)
    bottom = ((low - spread / 10) / unit).to_integral_value(rounding=ROUND_FLOOR) * unit
    top = ((high + spread / 10) / unit).to_integral_value(rounding=ROUND_CEILING) * unit
    return max(bottom, -_LARGEST), min(top, _LARGEST)


Series = tuple[str, tuple[float, ...]]  # (metric, value per version)


def _group(series: list[Series]) -> list[list[Series]]:
    """Metrics of similar scale together, in order of their mean value."""
    groups: list[list[Series]] = []
    for name, values in sorted(series, key=lambda item: (sum(item[1]) / len(item[1]), item[0])):
        if groups and len(groups[-1]) < MAX_LINES_PER_CHART:
            candidate = [*groups[-1], (name, values)]
            everything = [v for _, vs in candidate for v in vs]
            narrowest = min(_span(vs) for _, vs in candidate)
            if max(everything) - min(everything) <= SHARED_SCALE_RATIO * narrowest:
                groups[-1] = candidate
                continue
        groups.append([(name, values)])
    return groups


def history_charts(
    metrics: Sequence[str], history: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Chart]:
    """Charts of `metrics` over `history` ((version label, metrics) oldest first).

    Metrics measured at the same versions and of similar scale share a chart; a metric
    with fewer than two numeric points is not charted.
    """
    by_labels: dict[tuple[str, ...], list[Series]] = {}
    for name in dict.fromkeys(metrics):
        points = [
            (label, number)
            for label, values in history
            if (number := metric_value(values.get(name)).number) is not None
        ]
        if len(points) >= 2:
            labels = tuple(label for label, _ in points)
            by_labels.setdefault(labels, []).append((name, tuple(v for _, v in points)))
    charts = []
    for labels, series in by_labels.items():
        order = {name: index for index, (name, _) in enumerate(series)}
        for group in _group(series):
            group.sort(key=lambda item: order[item[0]])
            y_min, y_max = _axis_bounds([v for _, values in group for v in values])
            charts.append(Chart(labels, tuple(group), y_min, y_max))
    return charts


def _legend_height(lines: int) -> int:
    """The chart height at which Mermaid still draws the legend: it only does when the
    legend fits in the half of the height it reserves for the plot (legend font 14 px,
    padding 10 px, 7 px between entries)."""
    return 2 * (10 * 2 + 14 * lines + 7 * (lines - 1)) + 2


def _init_directive(chart: Chart) -> str:
    points = len(chart.labels)
    config = {
        "themeVariables": {
            "xyChart": {"plotColorPalette": ", ".join(colour for colour, _ in PALETTE)}
        },
        "xyChart": {
            # room for the legend beside the plot; a short chart when there are few points
            "width": min(900, max(640, 400 + 40 * points)),
            "height": max(220 if points <= 4 else 300, _legend_height(len(chart.lines))),
            "showLegend": True,
            "titleFontSize": 14,
        },
    }
    return f"%%{{init: {json.dumps(config)}}}%%"


def mermaid_block(chart: Chart) -> str:
    """The chart as a fenced Mermaid block, with a text legend for renderers without one."""
    names = [chart_label(name) for name, _ in chart.lines]
    labels = ", ".join(f'"{chart_label(label)}"' for label in chart.labels)
    lines = [
        "```mermaid",
        _init_directive(chart),
        "xychart-beta",
        f'    title "{", ".join(names)}"',
        f"    x-axis [{labels}]",
        f"    y-axis {_decimal(chart.y_min)} --> {_decimal(chart.y_max)}",
    ]
    for name, (_, values) in zip(names, chart.lines, strict=True):
        lines.append(f'    line "{name}" [{", ".join(mermaid_number(v) for v in values)}]')
    lines.append("```")
    # Labels are reduced to [A-Za-z0-9 ._@+-]: inside a code span, `@` mentions no one.
    legend = " · ".join(
        f"{square} `{name}`" for (_, square), name in zip(PALETTE, names, strict=False)
    )
    return "\n".join([*lines, "", legend])
