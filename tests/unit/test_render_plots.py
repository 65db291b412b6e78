"""Plots in the report: changed/unchanged per file, confusion matrices as escaped tables."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from mlgitops.core.chart import PlotData, compare_plots, confusion_counts, matrix_labels
from mlgitops.core.markdown.report import Report, Revision, render_report, report_to_dict

CONFUSION = {"template": "confusion", "x": "actual", "y": "predicted", "title": "Confusion"}
BASE = Revision("main", "1" * 40, "merge-base")


def rows(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"actual": a, "predicted": p} for a, p in pairs]


def test_confusion_counts_and_labels() -> None:
    counts = confusion_counts(
        rows([("0", "0"), ("0", "1"), ("0", "0"), ("10", "2")]), "actual", "predicted"
    )
    assert counts == {("0", "0"): 2, ("0", "1"): 1, ("10", "2"): 1}
    assert matrix_labels(counts) == ["0", "1", "2", "10"]  # numeric order
    assert matrix_labels({("b", "a"): 1}, None) == ["a", "b"]


def test_compare_plots_statuses() -> None:
    base = {
        "same.csv": PlotData("same.csv", {}, [{"x": 1}]),
        "moved.csv": PlotData("moved.csv", {}, [{"x": 1}]),
        "gone.csv": PlotData("gone.csv", {}, [{"x": 1}]),
    }
    head = {
        "same.csv": PlotData("same.csv", {}, [{"x": 1}]),
        "moved.csv": PlotData("moved.csv", {}, [{"x": 2}]),
        "new.csv": PlotData("new.csv", {"title": "New"}, [{"x": 1}]),
    }
    assert [(c.path, c.status) for c in compare_plots(base, head)] == [
        ("gone.csv", "removed"),
        ("moved.csv", "changed"),
        ("new.csv", "added"),
        ("same.csv", "unchanged"),
    ]


def test_confusion_matrix_table_with_deltas_and_hostile_labels() -> None:
    hostile = "<b>@x|y"
    base = {"c.csv": PlotData("c.csv", CONFUSION, rows([("0", "0")] * 5 + [("1", "1")] * 3))}
    head = {
        "c.csv": PlotData(
            "c.csv",
            CONFUSION,
            rows([("0", "0")] * 4 + [("0", "1")] + [("1", "1")] * 3 + [(hostile, "0")]),
        )
    }
    report = Report(
        Revision("head"), BASE, (), plots=tuple(compare_plots(base, head)), plots_base=BASE
    )
    markdown = render_report(report)
    assert "| `0` | 4 (-1) | 1 (+1) | 0 |" in markdown
    assert "| `1` | 0 | 3 | 0 |" in markdown
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    matrix = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)[-4:]
    assert all(r.count("<t") == 4 for r in matrix)  # header + 3 classes, 4 cells each
    assert "<b>" not in html and "`dvc plots diff 111111111111`" in markdown
    confusion = report_to_dict(report)["plots"][0]["confusion"]
    assert {"actual": "0", "predicted": "1", "base": 0, "head": 1} in confusion
