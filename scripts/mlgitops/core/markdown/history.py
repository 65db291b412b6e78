"""`mlgitops history --format md`: per model, its versions and its stage events."""

from __future__ import annotations

from collections.abc import Sequence

from mlgitops.core.markdown import escape
from mlgitops.core.versioning import ModelHistory


def render_history_md(histories: Sequence[ModelHistory], *, max_events: int = 20) -> str:
    """Markdown: per model, the versions (newest first) and the recent stage events.

    Model and stage names, tags and dates come from git tags, so they go through the
    escaper like every other repository text.
    """
    lines: list[str] = []
    for history in histories:
        lines += [f"## {escape.heading(history.model)}", ""]
        if not history.versions:
            lines += ["No versions yet.", ""]
            continue
        stage_line = ", ".join(
            f"{escape.text(stage)}: {escape.text(history.current(stage) or '(none)')}"
            for stage in history.stages()
        )
        lines += [f"Stages: {stage_line or 'none assigned'}", ""]
        lines += ["| Version | Commit | Date | Stages |", "|---|---|---|---|"]
        for v in reversed(history.versions):
            version = escape.cell(str(v.version))
            name = f"~~{version}~~ (deregistered)" if v.deregistered else version
            held = ", ".join(escape.cell(s) for s in history.stages_of(v.version))
            lines.append(
                f"| {name} | {escape.code_cell(v.commit[:12])} | {escape.cell(v.date)} | {held} |"
            )
        lines.append("")
        if history.events:
            lines += ["| Stage event | Version | Date |", "|---|---|---|"]
            for e in list(reversed(history.events))[:max_events]:
                verb = "assign" if e.assigned else "unassign"
                version = escape.cell(str(e.version)) if e.version else "?"
                lines.append(
                    f"| {escape.code_cell(e.tag)} ({verb}) | {version} | {escape.cell(e.date)} |"
                )
            if len(history.events) > max_events:
                lines.append(f"| ... {len(history.events) - max_events} older events | | |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
