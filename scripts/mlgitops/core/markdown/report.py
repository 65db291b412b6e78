"""The PR report: data model, markdown rendering and JSON form (pure).

Everything that comes from the repository (metric and param names and values, model
names, refs) is data, shown only through `mlgitops.core.markdown.escape`: as code spans,
so it cannot break the table, open HTML or a comment, mention a user, link an issue, or
hide text; names that look alike are spelled out and named in a warning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgitops.core.chart import (
    MAX_MATRIX_LABELS,
    PlotChange,
    charted_metrics,
    history_charts,
    matrix_labels,
    mermaid_block,
)
from mlgitops.core.diff import Change, MetricDelta, ParamChange, count_changes
from mlgitops.core.markdown import escape
from mlgitops.core.markdown.escape import code, code_cell
from mlgitops.core.metrics import MetricValue, json_safe

REPORT_FORMAT_VERSION = 1

MARKS = {
    Change.BETTER: "🟢 better",
    Change.WORSE: "🔴 worse",
    Change.UNCHANGED: "⚪ unchanged",
    Change.CHANGED: "🔵 changed",
    Change.ADDED: "🆕 added",
    Change.REMOVED: "🗑️ removed",
    Change.INVALID: "⚠️ invalid",
}


@dataclass(frozen=True)
class Revision:
    """A side of the comparison. `kind`: merge-base, promoted, ref, workspace or none."""

    label: str
    sha: str | None = None
    kind: str = "ref"


@dataclass(frozen=True)
class HistoryPoint:
    """Metrics of one promoted version (label `v1.2.0`) or of the head (label `head`)."""

    label: str
    metrics: Mapping[str, Any]


@dataclass(frozen=True)
class ModelReport:
    """One model's metrics compared, against the base the comparison actually used."""

    name: str
    base: Revision
    deltas: tuple[MetricDelta, ...]
    metrics_file: str | None = None
    history: tuple[HistoryPoint, ...] = ()
    note: str | None = None  # markdown; repository data in it must go through `escape`


@dataclass(frozen=True)
class Report:
    """The whole PR report: what `render_report` and `report_to_dict` show."""

    head: Revision
    base: Revision
    models: tuple[ModelReport, ...]
    params: tuple[ParamChange, ...] = ()
    params_base: Revision | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)  # markdown, like ModelReport.note
    plots: tuple[PlotChange, ...] = ()
    plots_base: Revision | None = None


def format_number(value: float) -> str:
    """Short, exact enough for review: 0.956140 → 0.9561, 52.3049 → 52.3049, 1e-07 → 1e-07."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude < 1e-3 or magnitude >= 1e6:
        return f"{value:.3e}"
    return f"{value:.4f}".rstrip("0").rstrip(".") if magnitude < 1000 else f"{value:.2f}"


def _value_cell(value: MetricValue | None) -> str:
    if value is None:
        return "—"
    if value.number is not None and not isinstance(value.raw, bool):
        if isinstance(value.raw, int):
            return str(value.raw)
        return format_number(value.number)
    return code_cell(_raw_text(value.raw))


def _raw_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "null"
    if isinstance(raw, float) and not math.isfinite(raw):
        return "NaN" if math.isnan(raw) else ("Infinity" if raw > 0 else "-Infinity")
    return str(raw)


def _delta_cells(delta: MetricDelta) -> tuple[str, str]:
    if delta.absolute is None:
        return "", ""
    absolute = "0" if delta.absolute == 0 else f"{'+' if delta.absolute > 0 else ''}"
    if delta.absolute != 0:
        absolute += format_number(delta.absolute)
    if delta.relative is None:
        relative = ""
    else:
        relative = "0 %" if delta.relative == 0 else f"{delta.relative * 100:+.2f} %"
    return absolute, relative


def _mark(delta: MetricDelta) -> str:
    mark = MARKS[delta.change]
    if delta.change is Change.INVALID:
        problems = [v.problem for v in (delta.base, delta.head) if v and v.problem]
        mark += f" ({escape.cell('; '.join(dict.fromkeys(p for p in problems if p)))})"
    elif delta.change is Change.CHANGED:
        mark += " (no direction in policy)"
    if delta.higher_is_better is not None and delta.change not in {Change.INVALID}:
        mark += " ↑" if delta.higher_is_better else " ↓"
    return mark


# ----------------------------------------------------------------------------- verdict
def all_deltas(report: Report) -> list[MetricDelta]:
    """Every metric comparison of every model of the report."""
    return [delta for model in report.models for delta in model.deltas]


def verdict(report: Report) -> str:
    """One line: how many metrics moved which way, worst news first."""
    counts = count_changes(all_deltas(report))
    if not report.models:
        return "⚠️ No metrics found: nothing to compare."
    if all(model.base.kind == "none" for model in report.models):
        return "📝 No base to compare with: head values only."
    order = [
        (Change.WORSE, "worse"),
        (Change.INVALID, "invalid"),
        (Change.BETTER, "better"),
        (Change.CHANGED, "changed"),
        (Change.UNCHANGED, "unchanged"),
        (Change.ADDED, "added"),
        (Change.REMOVED, "removed"),
    ]
    parts = [f"{counts[c.value]} {label}" for c, label in order if counts[c.value]]
    if counts[Change.WORSE.value]:
        lead = "🔴"
    elif counts[Change.INVALID.value]:
        lead = "⚠️"
    elif counts[Change.BETTER.value]:
        lead = "🟢"
    else:
        lead = "⚪"
    noun = "metric" if sum(counts.values()) == 1 else "metrics"
    return f"{lead} {', '.join(parts)} ({noun} vs base)."


# ----------------------------------------------------------------------------- chart
def _history_charts(model: ModelReport) -> list[str]:
    history = [(point.label, point.metrics) for point in model.history]
    return [mermaid_block(c) for c in history_charts(charted_metrics(model.deltas), history)]


# ----------------------------------------------------------------------------- markdown
def _revision_text(revision: Revision) -> str:
    if revision.kind == "none":
        return "nothing (no base)"
    text = code(revision.label)
    if revision.sha and revision.sha != revision.label:
        text += f" ({code(revision.sha[:12])})"
    return text


def _model_section(model: ModelReport, look_alike: frozenset[str]) -> list[str]:
    lines = [f"### {code(model.name, spell_out=model.name in look_alike)}", ""]
    where = f"Base: {_revision_text(model.base)}"
    if model.metrics_file:
        where = f"Metrics file {code(model.metrics_file)} · " + where
    lines += [where, ""]
    if model.note:
        lines += [f"> 📝 {model.note}", ""]
    if not model.deltas:
        lines += ["No metrics.", ""]
        return lines
    lines += [
        "| Metric | Base | Head | Δ | Δ % | |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for delta in model.deltas:
        absolute, relative = _delta_cells(delta)
        cells = [
            code_cell(delta.name, spell_out=delta.name in look_alike),
            _value_cell(delta.base),
            _value_cell(delta.head),
            absolute,
            relative,
            _mark(delta),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    charts = _history_charts(model)
    if charts:
        versions = ", ".join(code(p.label) for p in model.history)
        lines += [
            "<details><summary>Metric history of the last promoted versions</summary>",
            "",
            f"Versions: {versions}",
            "",
        ]
        for chart in charts:
            lines += [chart, ""]
        lines += ["</details>", ""]
    return lines


def _param_value(value: Any) -> str:
    if value is None:
        return "—"
    return code_cell(_raw_text(value) if not isinstance(value, str) else value)


def _matrix_section(plot: PlotChange) -> list[str]:
    labels = matrix_labels(plot.matrix_base, plot.matrix_head)
    if plot.matrix_head is None or not labels or len(labels) > MAX_MATRIX_LABELS:
        return []
    head, base = plot.matrix_head, plot.matrix_base
    lines = [
        f"Confusion matrix {code(plot.path)} at head"
        + (" (change vs base)" if base is not None else "")
        + ": rows are actual, columns predicted classes.",
        "",
        "| actual \\ predicted | " + " | ".join(code_cell(label) for label in labels) + " |",
        "|---|" + "--:|" * len(labels),
    ]
    for actual in labels:
        cells = []
        for predicted in labels:
            count = head.get((actual, predicted), 0)
            cell = str(count)
            if base is not None:
                delta = count - base.get((actual, predicted), 0)
                if delta:
                    cell += f" ({delta:+d})"
            cells.append(cell)
        lines.append(f"| {code_cell(actual)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _plots_section(report: Report) -> list[str]:
    if not report.plots:
        return []
    base = f" vs {_revision_text(report.plots_base)}" if report.plots_base else ""
    lines = [f"### Plots{base}", "", "| Plot | Title | |", "|---|---|---|"]
    for plot in report.plots:
        title = code_cell(plot.title) if plot.title else ""
        lines.append(f"| {code_cell(plot.path)} | {title} | {escape.cell(plot.status)} |")
    lines.append("")
    for plot in report.plots:
        lines += _matrix_section(plot)
    if report.plots_base and report.plots_base.sha:
        lines += [
            f"All plots, base and head together: `dvc plots diff {report.plots_base.sha[:12]}`",
            "",
        ]
    return lines


def render_report(report: Report, *, title: str = "Model metrics") -> str:
    """The report as GitHub-flavoured markdown (for the sticky comment and job summary)."""
    lines = [
        f"## 📊 {title}",
        "",
        f"Head {_revision_text(report.head)} vs base {_revision_text(report.base)}",
        "",
        f"**Verdict:** {verdict(report)}",
        "",
    ]
    for note in report.notes:
        lines += [f"> 📝 {note}", ""]
    found = escape.look_alikes(
        [m.name for m in report.models]
        + [d.name for m in report.models for d in m.deltas]
        + [p.name for p in report.params]
    )
    warning = escape.look_alike_warning(found)
    if warning:
        lines += [warning, ""]
    for model in report.models:
        lines += _model_section(model, found.flagged)
    if report.params:
        base = f" vs {_revision_text(report.params_base)}" if report.params_base else ""
        lines += [
            f"### Params changed{base}",
            "",
            "| Param | Base | Head | |",
            "|---|---|---|---|",
        ]
        for change in report.params:
            name = code_cell(change.name, spell_out=change.name in found.flagged)
            cells = [name, _param_value(change.base), _param_value(change.head)]
            lines.append("| " + " | ".join([*cells, change.kind]) + " |")
        lines.append("")
    else:
        lines += ["No params changed.", ""]
    lines += _plots_section(report)
    lines.append("<sub>Metrics, params and plots read with DVC by `mlgitops report`.</sub>")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- JSON
def _value_json(value: MetricValue | None) -> Any:
    if value is None:
        return None
    return {"raw": json_safe(value.raw), "valid": value.valid, "problem": value.problem}


def _revision_json(revision: Revision | None) -> Any:
    if revision is None:
        return None
    return {"label": revision.label, "sha": revision.sha, "kind": revision.kind}


def _matrix_json(plot: PlotChange) -> list[dict[str, Any]] | None:
    if plot.matrix_head is None and plot.matrix_base is None:
        return None
    labels = matrix_labels(plot.matrix_base, plot.matrix_head)
    return [
        {
            "actual": actual,
            "predicted": predicted,
            "base": None if plot.matrix_base is None else plot.matrix_base.get(pair, 0),
            "head": None if plot.matrix_head is None else plot.matrix_head.get(pair, 0),
        }
        for actual in labels
        for predicted in labels
        for pair in [(actual, predicted)]
    ]


def report_to_dict(report: Report) -> dict[str, Any]:
    """The same data as the markdown, machine-readable (strict JSON: no NaN)."""
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "head": _revision_json(report.head),
        "base": _revision_json(report.base),
        "verdict": verdict(report),
        "counts": count_changes(all_deltas(report)),
        "notes": list(report.notes),
        "models": [
            {
                "name": model.name,
                "metrics_file": model.metrics_file,
                "base": _revision_json(model.base),
                "note": model.note,
                "metrics": [
                    {
                        "name": delta.name,
                        "base": _value_json(delta.base),
                        "head": _value_json(delta.head),
                        "absolute": delta.absolute,
                        "relative": delta.relative,
                        "change": delta.change.value,
                        "higher_is_better": delta.higher_is_better,
                    }
                    for delta in model.deltas
                ],
                "history": [
                    {"label": point.label, "metrics": json_safe(dict(point.metrics))}
                    for point in model.history
                ],
            }
            for model in report.models
        ],
        "plots_base": _revision_json(report.plots_base),
        "plots": [
            {
                "path": plot.path,
                "title": plot.title,
                "template": plot.template,
                "change": plot.status,
                "confusion": _matrix_json(plot),
            }
            for plot in report.plots
        ],
        "params_base": _revision_json(report.params_base),
        "params": [
            {
                "name": change.name,
                "base": json_safe(change.base),
                "head": json_safe(change.head),
                "change": change.kind,
            }
            for change in report.params
        ],
    }
