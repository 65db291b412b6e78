"""Metric-history charts, parsed by Mermaid itself: every number exact, every chart valid.

Mermaid's xychart grammar has no exponent notation, so the values that broke the charts
(4,279,470 written `4.27947e+06`, 1e-9) are here, with zeros, negatives, flat lines, 50
versions and labels that try to close the block.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from helpers.rendering import check_markdown, parse_mermaid, require_mermaid

from mlgitops.core.chart import (
    PALETTE,
    chart_label,
    charted_metrics,
    history_charts,
    mermaid_block,
    mermaid_number,
)
from mlgitops.core.diff import diff_metrics
from mlgitops.core.markdown.report import HistoryPoint, ModelReport, Report, Revision, render_report

History = list[tuple[str, Mapping[str, Any]]]


def _history(series: Mapping[str, Sequence[float]], labels: Sequence[str] | None = None) -> History:
    length = len(next(iter(series.values())))
    labels = labels or [f"v1.{i}.0" for i in range(length - 1)] + ["head"]
    return [(label, {name: values[i] for name, values in series.items()}) for i, label in
            enumerate(labels)]  # fmt: skip


CASES: dict[str, History] = {
    "zeros": _history({"loss": [0.0, 0.0, 0.0]}),
    "ones": _history({"accuracy": [1.0, 1.0]}),
    "tiny": _history({"error_rate": [1e-9, 2.5e-9, 1e-9]}),
    "large": _history({"rmse": [4279470.0, 4.0e6, 4312345.678]}),
    "integers": _history({"count": [4279470, 4000000, 12]}),
    "negative": _history({"r2": [-0.5, -0.2, 0.1], "delta": [-3.0, -3.0, -2.5]}),
    "equal points": _history({"f1": [0.9, 0.9], "recall": [0.9, 0.9]}),
    "fifty versions": _history({"accuracy": [0.9 + i * 0.001 for i in range(50)]}),
    "subnormal and huge": _history({"a": [5e-324, 1e-300], "b": [1e300, 1.7976931348623157e308]}),
    "mixed scales": _history(
        {
            "accuracy": [0.95, 0.96, 0.955],
            "recall": [0.93, 0.97, 0.98],
            "roc_auc": [0.99, 0.995, 0.991],
            "mae": [3.1e6, 3.0e6, 3.05e6],
        }
    ),
    "hostile labels": _history(
        {'x"]\n```\n<b>@user': [1.0, 2.0], "%%{init: {}}%%": [1.5, 1.0]},
        labels=['v"1', "```"],
    ),
}


def _charts(history: History) -> list[Any]:
    names = list(dict.fromkeys(name for _, values in history for name in values))
    return history_charts(names, history)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (1e-9, "0.000000001"),
        (4279470.0, "4279470"),
        (-2.5, "-2.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e22, "10000000000000000000000"),
    ],
)
def test_numbers_are_exact_plain_decimals(value: float, text: str) -> None:
    assert mermaid_number(value) == text
    assert float(text) == value


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        mermaid_number(bad)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("background", ["#ffffff", "#0d1117"])  # GitHub light, dark
def test_palette_is_visible_on_githubs_light_and_dark_pages(background: str) -> None:
    for colour, _ in PALETTE:
        lighter, darker = sorted([_luminance(colour), _luminance(background)], reverse=True)
        contrast = (lighter + 0.05) / (darker + 0.05)
        assert contrast >= 3.0, f"{colour} on {background}: {contrast:.2f}:1"


def test_every_metric_with_a_rule_is_charted_not_the_first_three() -> None:
    base = {"accuracy": 0.9, "f1": 0.9, "precision": 0.9, "recall": 0.8, "roc_auc": 0.95, "n": 3}
    head = {**base, "recall": 0.85}
    directions = {"accuracy": True, "f1": True, "precision": True, "recall": True, "roc_auc": True}
    deltas = diff_metrics(base, head, directions.get)
    assert charted_metrics(deltas) == ["accuracy", "f1", "precision", "recall", "roc_auc"]
    # no rule anywhere: every valid metric, rather than none
    assert sorted(charted_metrics(diff_metrics(base, head, None))) == sorted(base)


def test_metrics_of_one_scale_share_a_chart_and_others_get_their_own() -> None:
    charts = _charts(CASES["mixed scales"])
    assert [[name for name, _ in chart.lines] for chart in charts] == [
        ["accuracy", "recall", "roc_auc"],
        ["mae"],
    ]


def test_a_metric_missing_at_some_version_is_charted_on_its_own_versions() -> None:
    history: History = [
        ("v1", {"a": 1.0, "b": 2.0}),
        ("v2", {"a": 1.5}),
        ("head", {"a": 1.2, "b": 2.2}),
    ]
    charts = history_charts(["a", "b"], history)
    assert {chart.labels: chart.lines[0][0] for chart in charts} == {
        ("v1", "v2", "head"): "a",
        ("v1", "head"): "b",
    }


def test_few_points_make_a_small_chart() -> None:
    (small,) = _charts(CASES["ones"])
    (large,) = _charts(CASES["fifty versions"])
    assert '"height": 220' in mermaid_block(small) and '"height": 300' in mermaid_block(large)


def test_mermaid_reads_every_chart_exactly() -> None:
    require_mermaid()
    expected = []
    blocks = []
    for case, history in CASES.items():
        for chart in _charts(history):
            markdown = mermaid_block(chart)
            rendered = check_markdown(markdown)
            assert rendered.problems == [], case
            assert len(rendered.mermaid) == 1, case
            blocks.append(rendered.mermaid[0])
            expected.append((case, chart))
    results = parse_mermaid(blocks)
    assert len(results) == len(expected)
    palette = ", ".join(colour for colour, _ in PALETTE)
    for (case, chart), result in zip(expected, results, strict=True):
        assert result["ok"], f"{case}: {result.get('error')}"
        assert result["type"] == "xychart", case
        assert result["palette"] == palette, case
        assert result["categories"] == [chart_label(label) for label in chart.labels], case
        assert [p["title"] for p in result["plots"]] == [chart_label(n) for n, _ in chart.lines]
        low, high = result["yRange"]
        assert low < high, case
        for plot, (_, values) in zip(result["plots"], chart.lines, strict=True):
            assert plot["type"] == "line"
            assert plot["values"] == list(values), case  # no rounding on the way
            assert all(low <= value <= high for value in values), case


def test_charts_from_separate_blocks_do_not_share_settings() -> None:
    require_mermaid()
    (chart,) = _charts(CASES["ones"])
    plain = "xychart-beta\n    line [1, 2]\n"
    _, second = parse_mermaid([check_markdown(mermaid_block(chart)).mermaid[0], plain])
    assert second["ok"] and second["palette"] != ", ".join(colour for colour, _ in PALETTE)


def test_the_report_renders_and_its_charts_parse() -> None:
    require_mermaid()
    versions = [
        HistoryPoint(f"v1.{i}.0", {"accuracy": 0.9 + i / 1000, "recall": 0.8 + i / 500})
        for i in range(50)
    ]
    history = (*versions, HistoryPoint("head", {"accuracy": 0.97, "recall": 1e-9}))
    directions = {"accuracy": True, "recall": True}.get
    deltas = diff_metrics({"accuracy": 0.95, "recall": 0.9}, {"accuracy": 0.97, "recall": 1e-9},
                          directions)  # fmt: skip
    model = ModelReport("model", Revision("main", "1" * 40, "merge-base"), tuple(deltas),
                        history=history)  # fmt: skip
    markdown = render_report(
        Report(Revision("head", "2" * 40), Revision("main", "1" * 40), (model,))
    )
    rendered = check_markdown(markdown)
    assert rendered.problems == []
    results = parse_mermaid(rendered.mermaid)
    assert results and all(result["ok"] for result in results)
    charted = {plot["title"] for result in results for plot in result["plots"]}
    assert charted == {"accuracy", "recall"}
