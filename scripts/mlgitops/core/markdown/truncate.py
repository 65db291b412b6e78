"""Cut a markdown body to a size without leaving a block open that would swallow the
text appended after it (a truncation notice).

Fences are found as CommonMark defines them, line by line: up to three spaces, then
three or more backticks or tildes; a backtick fence's info string has no backtick, and
only a run of the same character, at least as long, closes it. So a metric name
written with three backticks inside a code span (`` ```x `` in a table row) opens
nothing, while a real ```` ```mermaid ```` block left open is closed.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _open_blocks(lines: list[str]) -> tuple[str | None, int]:
    """The fence (e.g. "```") still open after `lines`, and how many `<details>` are
    open outside fences."""
    fence: str | None = None
    details = 0
    for line in lines:
        match = _FENCE.match(line)
        if match is not None:
            run, rest = match.group(1), match.group(2)
            if fence is None and not (run[0] == "`" and "`" in rest):
                fence = run  # (a backtick run followed by a backtick is inline code)
                continue
            if fence is not None and run[0] == fence[0] and len(run) >= len(fence):
                if not rest.strip():
                    fence = None
                    continue
        if fence is None:
            details = max(details + line.count("<details") - line.count("</details>"), 0)
    return fence, details


def cut(markdown: str, limit: int) -> str:
    """`markdown` cut to at most `limit` characters at a line end, every fence and
    `<details>` it leaves open closed, so whatever is appended renders as written."""
    if len(markdown) <= limit:
        return markdown
    room = limit
    while True:
        piece = markdown[:room]
        newline = piece.rfind("\n")
        if newline > 0:
            piece = piece[:newline]
        lines = piece.split("\n")
        fence, details = _open_blocks(lines)
        closing = ([fence] if fence else []) + ["</details>"] * details
        result = "\n".join([*lines, *closing]) if closing else piece
        if len(result) <= limit or room <= 0:
            return result[:limit]
        room -= len(result) - limit
