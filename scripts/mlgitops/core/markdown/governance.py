"""The governance section of the PR comment and the job summary."""

from __future__ import annotations

from collections.abc import Sequence

from mlgitops.core.governance.results import RuleResult, Status, counts, verdict_line
from mlgitops.core.markdown import escape

_STATUS_MARK = {Status.PASS: "✅", Status.FAIL: "❌", Status.SKIP: "⚪"}
_TABLE_HEAD = ["| | Rule | Subject | Details |", "|---|---|---|---|"]


def _rows(results: Sequence[RuleResult], look_alike: frozenset[str]) -> list[str]:
    return [
        f"| {_STATUS_MARK[r.status]} | {escape.code_cell(r.rule)}"
        f" | {escape.cell(r.subject, spell_out=r.subject in look_alike)}"
        f" | {escape.cell(r.detail)} |"
        for r in results
    ]


def render_markdown(
    results: Sequence[RuleResult], *, policy_file: str, base_label: str | None
) -> str:
    """The governance section of the PR comment and job summary.

    Failed rules come first in an open table; passed and skipped rules, with their
    numbers, follow in a collapsed `<details>` block, so a long policy stays readable.
    """
    lines = [f"### {verdict_line(results)}", ""]
    base = escape.code(base_label) if base_label else "none"
    lines += [f"Policy {escape.code(policy_file)} · base {base}", ""]
    found = escape.look_alikes(r.subject for r in results)
    warning = escape.look_alike_warning(found)
    if warning:
        lines += [warning, ""]
    failed = [r for r in results if r.status is Status.FAIL]
    others = [r for r in results if r.status is Status.PASS] + [
        r for r in results if r.status is Status.SKIP
    ]
    if failed:
        lines += [*_TABLE_HEAD, *_rows(failed, found.flagged), ""]
    if others:
        tally = counts(results)
        summary = f"{tally['pass']} passed" + (
            f", {tally['skip']} skipped" if tally["skip"] else ""
        )
        lines += [f"<details><summary>{summary}</summary>", ""]
        lines += [*_TABLE_HEAD, *_rows(others, found.flagged), "", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
