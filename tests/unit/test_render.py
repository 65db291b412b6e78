"""render_report: the markdown stays a table whatever the data, and says the right things.

The markdown is parsed with markdown-it-py (CommonMark + GFM tables; it ships with DVC's
dependencies) and the HTML is checked: every row has its cells, nothing is raw HTML or a
link, and mentions/issue refs only ever appear inside <code>.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from markdown_it import MarkdownIt

from mlgitops.core.diff import diff_metrics, diff_params
from mlgitops.core.markdown.escape import visible
from mlgitops.core.markdown.report import (
    HistoryPoint,
    ModelReport,
    Report,
    Revision,
    format_number,
    render_report,
    report_to_dict,
    verdict,
)

BASE = Revision("main", "1" * 40, "merge-base")
HEAD = Revision("feature", "2" * 40, "ref")

HOSTILE = [
    "a|b",
    "line\nbreak | x",
    "<script>alert(1)</script>",
    "<!-- hidden",
    "@octocat please",
    "fixes #123",
    "[click](javascript:alert(1))",
    "rtl\u202etxt.exe",
    "zero\u200bwidth\u2060joiner\ufeff",
    "`tick` ``double``",
    "| leading pipe",
    "trailing backslash\\",
    "**bold** _em_ ~~strike~~",
    "\u2066isolate\u2069",
    "https://evil.example/x",
    "-->",
]


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def _report(base: dict[str, object], head: dict[str, object], **kwargs: object) -> Report:
    model = ModelReport(
        "model",
        BASE,
        tuple(diff_metrics(base, head, {"accuracy": True, "rmse": False})),
        "reports/metrics.json",
    )
    return Report(HEAD, BASE, (model,), **kwargs)  # type: ignore[arg-type]


def _outside_code(html: str) -> str:
    return re.sub(r"<code>.*?</code>", "", html, flags=re.S)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_and_values_stay_data(name: str) -> None:
    report = _report(
        {name: 0.5, "accuracy": 0.9},
        {name: 0.6, "accuracy": 0.91, f"{name}!": name},
        params=tuple(diff_params({name: name}, {name: f"{name}2", "x": name})),
        params_base=BASE,
    )
    markdown = render_report(report)
    html = _html(markdown)
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    metric_rows = [r for r in rows if r.count("<td") == 6]
    param_rows = [r for r in rows if r.count("<td") == 4]
    assert len(metric_rows) == 3  # every metric kept its own row with six cells
    assert len(param_rows) == 2
    assert all(r.count("<td") in {0, 4, 6} for r in rows)
    outside = _outside_code(html)
    assert "<script" not in html and "<!--" not in html
    assert "<a " not in html  # no link of any kind, javascript: or other
    assert "@octocat" not in outside and "#123" not in outside
    for char in "\u202e\u200b\u2060\ufeff\u2066\u2069":
        assert char not in markdown
    # the content is all there, readable inside the code spans
    assert visible(name).replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")[
        :20
    ] in html.replace("&amp;", "&")


def test_table_marks_direction_and_changes() -> None:
    markdown = render_report(
        _report(
            {"accuracy": 0.90, "rmse": 3.0, "f1": 0.5, "gone": 1},
            {"accuracy": 0.95, "rmse": 3.5, "f1": 0.6, "new": math.nan},
        )
    )
    assert "| `accuracy` | 0.9 | 0.95 | +0.05 | +5.56 % | 🟢 better ↑ |" in markdown
    assert "| `rmse` | 3 | 3.5 | +0.5 | +16.67 % | 🔴 worse ↓ |" in markdown
    assert "| `f1` | 0.5 | 0.6 | +0.1 | +20.00 % | 🔵 changed (no direction in policy) |" in (
        markdown
    )
    assert "| `new` | — | `NaN` |  |  | ⚠️ invalid (NaN) |" in markdown
    assert "| `gone` | 1 | — |  |  | 🗑️ removed |" in markdown
    assert "**Verdict:** 🔴 1 worse, 1 invalid, 1 better, 1 changed, 1 removed" in markdown


@pytest.mark.parametrize(
    ("base", "head", "expected"),
    [
        ({"accuracy": 0.9}, {"accuracy": 0.9}, "⚪ 1 unchanged (metric vs base)."),
        ({"accuracy": 0.9}, {"accuracy": 0.95}, "🟢 1 better (metric vs base)."),
        ({"accuracy": 0.9}, {"accuracy": True}, "⚠️ 1 invalid (metric vs base)."),
        ({"accuracy": 0.9, "rmse": 1.0}, {"accuracy": 1.0, "rmse": 2.0}, "🔴 1 worse, 1 better"),
    ],
)
def test_verdict(base: dict[str, object], head: dict[str, object], expected: str) -> None:
    assert verdict(_report(base, head)).startswith(expected)


def test_verdict_without_any_base() -> None:
    model = ModelReport("m", Revision("none", None, "none"), tuple(diff_metrics(None, {"a": 1})))
    report = Report(HEAD, Revision("main", None, "merge-base"), (model,))
    assert verdict(report) == "📝 No base to compare with: head values only."
    assert "nothing (no base)" in render_report(report)


def test_mermaid_history_chart() -> None:
    history = (
        HistoryPoint("v1.0.0", {"accuracy": 0.9}),
        HistoryPoint("v1.1.0", {"accuracy": math.nan}),  # skipped, not plotted as 0
        HistoryPoint("v1.2.0", {"accuracy": 0.93}),
        HistoryPoint("head", {"accuracy": 0.95}),
    )
    model = ModelReport(
        "m", BASE, tuple(diff_metrics({"accuracy": 0.93}, {"accuracy": 0.95})), history=history
    )
    markdown = render_report(Report(HEAD, BASE, (model,)))
    assert "```mermaid\n%%{init: " in markdown and "\nxychart-beta\n" in markdown
    assert 'x-axis ["v1.0.0", "v1.2.0", "head"]' in markdown
    assert 'line "accuracy" [0.9, 0.93, 0.95]' in markdown


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.95614035, "0.9561"), (52.30491, "52.3049"), (1e-7, "1.000e-07"), (12345.678, "12345.68")],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_json_has_the_same_data_and_is_strict() -> None:
    report = _report(
        {"accuracy": 0.9},
        {"accuracy": 0.95, "bad": math.inf},
        params=tuple(diff_params({"a": 1}, {"a": 2})),
        params_base=BASE,
    )
    data = report_to_dict(report)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["models"][0]["metrics"][0] == {
        "name": "accuracy",
        "base": {"raw": 0.9, "valid": True, "problem": None},
        "head": {"raw": 0.95, "valid": True, "problem": None},
        "absolute": pytest.approx(0.05),
        "relative": pytest.approx(0.05 / 0.9),
        "change": "better",
        "higher_is_better": True,
    }
    assert data["models"][0]["metrics"][1]["head"] == {
        "raw": "inf",
        "valid": False,
        "problem": "infinite",
    }
    assert data["params"] == [{"name": "a", "base": 1, "head": 2, "change": "changed"}]
    assert data["counts"]["better"] == 1 and data["counts"]["invalid"] == 1
