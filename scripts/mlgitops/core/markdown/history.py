"""`mlgitops history --format md`: per model, its versions and its stage events."""

from __future__ import annotations

from collections.abc import Sequence

from mlgitops.core.versioning import ModelHistory


def render_history_md(histories: Sequence[ModelHistory], *, max_events: int = 20) -> str:
    """Markdown: per model, the versions (newest first) and the recent stage events."""
    lines: list[str] = []
    for history in histories:
        lines += [f"## {history.model}", ""]
        if not history.versions:
            lines += ["No versions yet.", ""]
            continue
        stage_line = ", ".join(f"{s}: {history.current(s) or '(none)'}" for s in history.stages())
        lines += [f"Stages: {stage_line or 'none assigned'}", ""]
        lines += ["| Version | Commit | Date | Stages |", "|---|---|---|---|"]
        for v in reversed(history.versions):
            name = f"~~{v.version}~~ (deregistered)" if v.deregistered else str(v.version)
            held = ", ".join(history.stages_of(v.version))
            lines.append(f"| {name} | `{v.commit[:12]}` | {v.date} | {held} |")
        lines.append("")
        if history.events:
            lines += ["| Stage event | Version | Date |", "|---|---|---|"]
            for e in list(reversed(history.events))[:max_events]:
                verb = "assign" if e.assigned else "unassign"
                lines.append(f"| `{e.tag}` ({verb}) | {e.version or '?'} | {e.date} |")
            if len(history.events) > max_events:
                lines.append(f"| ... {len(history.events) - max_events} older events | | |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
