"""Drift markdown: exact layout, and hostile column names that must stay inert."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from mlgitops.core.drift import DriftPolicy, compute_drift
from mlgitops.core.markdown.drift import drift_marker, issue_title, render_markdown

HOSTILE = [
    "a|b",
    "line\nbreak",
    "carriage\rreturn",
    "<script>alert(1)</script>",
    "<!-- hidden",
    "@octocat",
    "#123",
    "[click](javascript:alert(1))",
    "`tick`",
    "``",
    " spaced ",
    "rtl\u202eoverride",
    "zero\u200bwidth",
    "",
]


def _rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| `") or "*(empty)*" in line]


def test_hostile_column_names_keep_the_table_intact() -> None:
    reference = pd.DataFrame({name: [1.0, 2.0, 3.0, 4.0] * 10 for name in HOSTILE})
    current = pd.DataFrame({name: [9.0, 9.0, 9.0, 8.0] * 10 for name in HOSTILE})
    markdown = render_markdown(compute_drift(reference, current, DriftPolicy()))
    rows = _rows(markdown)
    assert len(rows) == len(HOSTILE)
    for row in rows:
        # Seven cells: the only unescaped pipes are the cell borders.
        assert len(re.findall(r"(?<!\\)\|", row)) == 8, row
    # Nothing is live outside a code span.
    outside_code = re.sub(r"(`+).*?\1", "", markdown)
    for live in ("<script", "<!-- hidden", "@octocat", "#123", "javascript:", "\u202e", "\u200b"):
        assert live not in outside_code
    assert "\r" not in markdown


def test_report_layout() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 25, "c": ["a", "b"] * 50})
    current = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0] * 25, "c": ["a", "z"] * 50})
    report = compute_drift(
        reference, current, DriftPolicy(), labels={"reference": "m@v1.0.0", "current": "new.csv"}
    )
    markdown = render_markdown(report, marker=drift_marker("m:data/raw/data.csv"))
    assert markdown.splitlines()[:9] == [
        "<!-- mlgitops:drift key=m:data/raw/data.csv -->",
        "## Data drift: drift detected",
        "",
        "Drift over the policy in 1 of 2 columns.",
        "",
        "- Reference: `m@v1.0.0` (100 rows)",
        "- Current: `new.csv` (100 rows)",
        "- Policy: PSI ≤ 0.2, KS p-value ≥ 0.01, χ² p-value ≥ 0.01 "
        "(a column drifts when any test fails)",
        "",
    ]
    assert "| `c` | categorical | — | — | 1.93e-22 | 100 → 100 | **drift**: chi-square" in markdown
    assert "new categories: `z`" in markdown
    assert "<details><summary>Columns within the policy (1)</summary>" in markdown
    assert "| `x` | numeric | 0.000 | 1.000 | — | 100 → 100 | ok |" in markdown


def test_no_drift_report_has_no_fold() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    markdown = render_markdown(compute_drift(frame, frame, DriftPolicy()))
    assert "No drift over the policy in 1 column." in markdown
    assert "<details>" not in markdown


@pytest.mark.parametrize("key", ["m:data.csv", "-->\n@all <b>", "x" * 300])
def test_marker_cannot_be_closed_or_spread_over_lines(key: str) -> None:
    marker = drift_marker(key)
    assert marker.startswith("<!-- mlgitops:drift key=")
    assert marker.count("-->") == 1 and marker.endswith("-->")
    assert "\n" not in marker and "@all" not in marker.replace("%40", "")


def test_issue_title_is_plain() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    report = compute_drift(frame, frame.assign(x=[5.0, 6.0]), DriftPolicy())
    assert (
        issue_title("churn-model", report) == "Data drift: churn-model (1 of 1 columns over policy)"
    )
    assert "@" not in issue_title("@evil\n<b>", report)


def test_long_reports_fit_githubs_limit_and_say_what_is_hidden() -> None:
    names = [f"feature_{i:04d}_" + "x" * 200 for i in range(400)]
    reference = pd.DataFrame({name: [1.0, 2.0, 3.0, 4.0] * 5 for name in names})
    current = reference.copy()
    current[names[:300]] = 9.0
    report = compute_drift(reference, current, DriftPolicy())
    full = render_markdown(report)
    assert len(full) > 65536
    short = render_markdown(report, marker=drift_marker("m"), max_chars=65536)
    assert len(short) <= 65536
    shown = len(_rows(short))
    assert 0 < shown < 300
    assert "<details>" not in short
    assert f"*{400 - shown} column(s) not shown" in short
    assert short.startswith("<!-- mlgitops:drift key=m -->")
