"""Markdown for a drift report and the drift issue: pure rendering.

Column names, paths and revisions are data, not markup: each one is shown as a code
span by `mlgitops.core.markdown.escape`, so `|`, HTML, `<!--`, `@mentions`, `#123` and
links cannot break the table, ping anyone or hide content. Line breaks and invisible
(bidi, zero-width) characters are spelled out; look-alike column names are flagged.
"""

from __future__ import annotations

import re

from mlgitops.core.drift import CATEGORICAL, ColumnDrift, DriftReport
from mlgitops.core.markdown import escape

MARKER_PREFIX = "<!-- mlgitops:drift"
_SAFE_KEY = re.compile(r"[^A-Za-z0-9._/:=+-]")


def drift_marker(key: str) -> str:
    """The hidden marker that identifies the drift issue of one model/data path.

    Only a safe alphabet survives (others become `%XX`), so a key can never close
    the HTML comment or inject text.
    """
    safe = _SAFE_KEY.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), key)
    return f"{MARKER_PREFIX} key={safe} -->"


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value != value:  # NaN
        return "NaN"
    return f"{value:.{digits}f}"


def _pvalue(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2e}" if value < 0.001 else f"{value:.3f}"


def _verdict(column: ColumnDrift) -> str:
    if not column.drifted:
        return "ok"
    text = "**drift**: " + "; ".join(escape.cell(reason) for reason in column.reasons)
    if column.new_categories:
        text += "; new categories: " + _names(column.new_categories, limit=5, in_table=True)
    return text


def _table(columns: tuple[ColumnDrift, ...], look_alike: frozenset[str]) -> list[str]:
    lines = [
        "| Column | Type | PSI | KS p-value | χ² p-value | Rows (ref → cur) | Verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for column in columns:
        kind = "categorical" if column.kind == CATEGORICAL else "numeric"
        reasons = _verdict(column)
        lines.append(
            f"| {escape.code_cell(column.column, spell_out=column.column in look_alike)}"
            f" | {kind} | {_number(column.psi)} | "
            f"{_pvalue(column.ks_pvalue)} | {_pvalue(column.chi2_pvalue)} | "
            f"{column.reference_count} → {column.current_count} | {reasons} |"
        )
    return lines


def _names(names: tuple[str, ...], limit: int = 20, *, in_table: bool = False) -> str:
    show = escape.code_cell if in_table else escape.code
    shown = ", ".join(show(name) for name in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown


def summary_line(report: DriftReport) -> str:
    """One sentence: how many columns drifted out of how many judged."""
    judged = len(report.columns) + len(report.missing_columns)
    drifted = len(report.drifted_columns) + len(report.missing_columns)
    if not report.drifted:
        return f"No drift over the policy in {judged} column{'s' if judged != 1 else ''}."
    return f"Drift over the policy in {drifted} of {judged} column{'s' if judged != 1 else ''}."


def issue_title(model: str | None, report: DriftReport) -> str:
    """A plain-text title; the model name is reduced to a safe alphabet."""
    drifted = len(report.drifted_columns) + len(report.missing_columns)
    judged = len(report.columns) + len(report.missing_columns)
    subject = re.sub(r"[^A-Za-z0-9._-]", "-", model)[:80] if model else "data"
    if report.verdict in {"decay", "latency"}:
        return f"Model monitoring: {subject} ({report.verdict} over policy)"
    return f"Data drift: {subject} ({drifted} of {judged} columns over policy)"


# GitHub rejects issue and comment bodies over 65,536 characters.
GITHUB_BODY_LIMIT = 65536
_TRUNCATED = (
    "*{hidden} column(s) not shown to stay within GitHub's size limit; the full report "
    "is in the job summary of the run and in `mlgitops drift --format json`.*"
)


def _monitoring_lines(report: DriftReport) -> list[str]:
    """Sample size, log health, decay and latency: only what the run measured."""
    lines = []
    if report.insufficient:
        lines.append(
            f"- **No verdict**: {report.current_rows} rows in the window, fewer than "
            f"`min_samples` ({report.min_samples}); nothing is opened."
        )
    if report.log:
        log = report.log
        lines.append(
            f"- Prediction logs: {log.get('records', 0)} records in {log.get('segments', 0)} "
            f"segment(s); skipped {log.get('truncated', 0)} cut-off and "
            f"{log.get('corrupt', 0)} corrupt line(s)"
        )
    if report.labelled is not None:
        lines.append(
            f"- Labels: {report.labelled} predictions labelled; {report.unmatched_labels} "
            "label(s) matched no logged request"
        )
    for check in report.decay:
        verdict = "**decay**" if check.failed else "ok"
        lines.append(
            f"- Performance `{check.metric}`: {check.current:.4f} now vs {check.reference:.4f} "
            f"at the reference (allowed fall {check.allowed_drop:g}): {verdict}"
        )
    latency = report.latency
    if latency is not None:
        limits = []
        if latency.p50_max_ms is not None:
            limits.append(f"p50 ≤ {latency.p50_max_ms:g}")
        if latency.p99_max_ms is not None:
            limits.append(f"p99 ≤ {latency.p99_max_ms:g}")
        objective = f" (objective {', '.join(limits)} ms)" if limits else ""
        verdict = ": **over the objective**" if latency.failed else ""
        lines.append(
            f"- Latency over {latency.count} requests: p50 {_number(latency.p50_ms, 1)} ms, "
            f"p99 {_number(latency.p99_ms, 1)} ms{objective}{verdict}"
        )
    lines += [f"- {escape.text(note)}" for note in report.notes]
    return [*lines, ""] if lines else []


def render_markdown(
    report: DriftReport, marker: str | None = None, *, max_chars: int | None = None
) -> str:
    """The report as GitHub-flavoured markdown (drifted columns first, the rest folded).

    With `max_chars`, columns within the policy are dropped first, then drifted rows
    from the end, and a note says how many are not shown.
    """
    drifted = report.drifted_columns
    stable = tuple(column for column in report.columns if not column.drifted)
    text = _render(report, marker, drifted, stable, hidden=0)
    if max_chars is None or len(text) <= max_chars:
        return text
    low, high = 0, len(drifted)  # the most drifted rows that fit: binary search
    while low < high:
        middle = (low + high + 1) // 2
        hidden = len(report.columns) - middle
        if len(_render(report, marker, drifted[:middle], (), hidden)) <= max_chars:
            low = middle
        else:
            high = middle - 1
    return _render(report, marker, drifted[:low], (), len(report.columns) - low)


def _render(
    report: DriftReport,
    marker: str | None,
    drifted: tuple[ColumnDrift, ...],
    stable: tuple[ColumnDrift, ...],
    hidden: int,
) -> str:
    policy = report.policy
    lines = []
    if marker:
        lines.append(marker)
    status = "drift detected" if report.drifted else "no drift"
    if report.insufficient:
        status = "no verdict (too few rows)"
    lines += [f"## Data drift: {status}", "", summary_line(report), ""]
    lines += _monitoring_lines(report)
    reference = report.labels.get("reference")
    current = report.labels.get("current")
    if reference:
        lines.append(f"- Reference: {escape.code(reference)} ({report.reference_rows} rows)")
    if current:
        lines.append(f"- Current: {escape.code(current)} ({report.current_rows} rows)")
    lines.append(
        f"- Policy: PSI ≤ {policy.psi_max:g}, KS p-value ≥ {policy.ks_pvalue_min:g}, "
        f"χ² p-value ≥ {policy.chi2_pvalue_min:g} (a column drifts when any test fails)"
    )
    if report.missing_columns:
        lines.append(f"- Missing from the current data: {_names(report.missing_columns)}")
    if report.new_columns:
        lines.append(f"- Only in the current data (not judged): {_names(report.new_columns)}")
    lines.append("")
    found = escape.look_alikes(
        [c.column for c in report.columns] + list(report.missing_columns + report.new_columns)
    )
    warning = escape.look_alike_warning(found)
    if warning:
        lines += [warning, ""]
    if report.prediction is not None:
        lines += ["Served predictions against the reference's test-set predictions:", ""]
        lines += [*_table((report.prediction,), found.flagged), ""]
    if drifted:
        lines += [*_table(drifted, found.flagged), ""]
    if stable:
        if drifted:
            lines += [
                f"<details><summary>Columns within the policy ({len(stable)})</summary>",
                "",
                *_table(stable, found.flagged),
                "",
                "</details>",
                "",
            ]
        else:
            lines += [*_table(stable, found.flagged), ""]
    if hidden:
        lines += [_TRUNCATED.format(hidden=hidden), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
