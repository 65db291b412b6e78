"""The governance section of the PR comment and the job summary."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mlgitops.core.governance.results import RuleResult, Status, counts, verdict_line

_INVISIBLE = dict.fromkeys(
    [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF, 0x00AD]
)


_STATUS_MARK = {Status.PASS: "✅", Status.FAIL: "❌", Status.SKIP: "⚪"}


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


_RISKY_TOKEN = re.compile(r"\S*(?:@|#\d|://)\S*")


def md_text(text: str) -> str:
    """Untrusted text made safe for one markdown table cell.

    Invisible and bidi control characters are dropped, HTML is escaped, `|` and newlines
    cannot break the row, and tokens that GitHub would turn into mentions, issue links or
    URLs (`@user`, `#123`, `javascript://`) are put in code spans, where it does not.
    """
    text = text.translate(_INVISIBLE)
    text = " ".join(text.split())
    text = _TAG_START.sub("&lt;", text.replace("&", "&amp;"))

    def code(match: re.Match[str]) -> str:
        return "`" + match.group(0).replace("`", "'") + "`"

    text = _RISKY_TOKEN.sub(code, text)
    return text.replace("|", "\\|")


_TABLE_HEAD = ["| | Rule | Subject | Details |", "|---|---|---|---|"]


def _rows(results: Sequence[RuleResult]) -> list[str]:
    return [
        f"| {_STATUS_MARK[r.status]} | `{r.rule}` | {md_text(r.subject)} | {md_text(r.detail)} |"
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
    base = f"`{md_text(base_label)}`" if base_label else "none"
    lines += [f"Policy `{md_text(policy_file)}` · base {base}", ""]
    failed = [r for r in results if r.status is Status.FAIL]
    others = [r for r in results if r.status is Status.PASS] + [
        r for r in results if r.status is Status.SKIP
    ]
    if failed:
        lines += [*_TABLE_HEAD, *_rows(failed), ""]
    if others:
        tally = counts(results)
        summary = f"{tally['pass']} passed" + (
            f", {tally['skip']} skipped" if tally["skip"] else ""
        )
        lines += [f"<details><summary>{summary}</summary>", ""]
        lines += [*_TABLE_HEAD, *_rows(others), "", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
