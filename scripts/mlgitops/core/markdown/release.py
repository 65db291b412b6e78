"""Release notes and tag messages for a promoted model version (pure rendering).

Metric and parameter names, paths, the pull request's title and author are data, shown
only through `mlgitops.core.markdown.escape`, so that `|`, newlines, HTML, `@mentions`,
`#123` references and invisible (bidi, zero-width) characters can neither break the
table, ping anyone, link an issue, nor hide content.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlgitops.core.markdown import escape

# GitHub rejects release bodies over 125,000 characters.
MAX_RELEASE_BODY = 125_000


@dataclass(frozen=True)
class DataHash:
    """One DVC-tracked path of the release: what dvc.lock (or a .dvc file) pins it to."""

    path: str
    md5: str
    stage: str
    kind: str  # "dep" or "out"
    size: int | None = None
    nfiles: int | None = None


@dataclass(frozen=True)
class PullRequestRef:
    number: int
    title: str
    url: str
    author: str = ""


@dataclass(frozen=True)
class ReleaseFacts:
    """Everything the release notes show, read by the caller at the tagged commit."""

    model: str
    version: str
    tag: str
    commit: str
    bump_source: str = ""
    repository: str | None = None
    server_url: str = "https://github.com"
    metrics: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    data: Sequence[DataHash] = ()
    card: str | None = None
    card_path: str = "MODEL_CARD.md"
    pull_request: PullRequestRef | None = None
    previous_tag: str | None = None


def format_value(value: object) -> str:
    """A metric or parameter value for a table; non-finite numbers are flagged."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"invalid ({value})"
        return f"{value:.6g}"
    if value is None:
        return "null"
    return escape.code_cell(value if isinstance(value, str) else repr(value))


def data_hashes_from_lock(lock: Mapping[str, Any]) -> list[DataHash]:
    """Every dep and out that dvc.lock pins by hash, stage by stage."""
    hashes = []
    stages = lock.get("stages", {}) if isinstance(lock, Mapping) else {}
    for stage_name, stage in stages.items() if isinstance(stages, Mapping) else ():
        if not isinstance(stage, Mapping):
            continue
        for kind, key in (("dep", "deps"), ("out", "outs")):
            for entry in stage.get(key) or ():
                if isinstance(entry, Mapping) and entry.get("md5") and entry.get("path"):
                    hashes.append(
                        DataHash(
                            path=str(entry["path"]),
                            md5=str(entry["md5"]),
                            stage=str(stage_name),
                            kind=kind,
                            size=entry.get("size"),
                            nfiles=entry.get("nfiles"),
                        )
                    )
    return hashes


def data_hashes_from_dvcfile(dvcfile: str, content: Mapping[str, Any]) -> list[DataHash]:
    """The outs of a `.dvc` file (from `dvc add` or `dvc import`), paths relative to it."""
    directory = dvcfile.rpartition("/")[0]
    hashes = []
    for entry in content.get("outs") or () if isinstance(content, Mapping) else ():
        if isinstance(entry, Mapping) and entry.get("md5") and entry.get("path"):
            path = f"{directory}/{entry['path']}" if directory else str(entry["path"])
            hashes.append(
                DataHash(
                    path=path,
                    md5=str(entry["md5"]),
                    stage=dvcfile,
                    kind="out",
                    size=entry.get("size"),
                    nfiles=entry.get("nfiles"),
                )
            )
    return hashes


def split_front_matter(card: str) -> tuple[str | None, str]:
    """Split `---\\n<yaml>\\n---\\n<markdown>` into its YAML text and markdown body."""
    lines = card.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, card
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return None, card


def release_title(facts: ReleaseFacts) -> str:
    return f"{facts.model} {facts.version}"


def metrics_summary(metrics: Mapping[str, Any], limit: int = 8) -> str:
    """`accuracy=0.96, f1=0.95` for tag messages and logs (plain text, one line)."""
    parts = []
    for name, value in list(sorted(metrics.items()))[:limit]:
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        parts.append(f"{' '.join(str(name).split())}={shown}")
    if len(metrics) > limit:
        parts.append(f"... (+{len(metrics) - limit} more)")
    return ", ".join(parts) if parts else "no metrics recorded"


def tag_message(facts: ReleaseFacts) -> str:
    """The annotated tag's message: model, version, metrics, where it came from."""
    lines = [
        f"Release {facts.model} {facts.version}",
        "",
        f"model: {facts.model}",
        f"version: {facts.version}",
        f"metrics: {metrics_summary(facts.metrics)}",
    ]
    if facts.bump_source:
        lines.append(f"bump: {facts.bump_source}")
    if facts.pull_request:
        lines.append(f"pull request: #{facts.pull_request.number}")
    return "\n".join(lines) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _commit_link(facts: ReleaseFacts) -> str:
    if facts.repository:
        url = f"{facts.server_url}/{facts.repository}/commit/{facts.commit}"
        return escape.link(escape.code(facts.commit[:12]), url)
    return escape.code(facts.commit)


def _provenance(facts: ReleaseFacts) -> list[str]:
    lines = [f"- **Code:** {_commit_link(facts)}"]
    if facts.pull_request:
        pr = facts.pull_request
        by = f" by {escape.text(pr.author)}" if pr.author else ""
        lines.append(f"- **Merged pull request:** #{pr.number} {escape.text(pr.title)}{by}")
    else:
        lines.append("- **Merged pull request:** none found for this commit")
    if facts.bump_source:
        lines.append(f"- **Version bump:** {escape.text(facts.bump_source)}")
    if facts.previous_tag:
        lines.append(f"- **Previous version:** {escape.code(facts.previous_tag)}")
    return [*lines, ""]


def _values_section(
    title: str, header: str, values: Mapping[str, Any], look_alike: frozenset[str], none: str
) -> list[str]:
    lines = [f"### {title}", ""]
    if not values:
        return [*lines, none, ""]
    rows = [
        [escape.cell(key, spell_out=key in look_alike), format_value(value)]
        for key, value in sorted(values.items())
    ]
    return [*lines, *_table([header, "Value"], rows), ""]


def _data_section(data: Sequence[DataHash]) -> list[str]:
    lines = ["### Data", ""]
    if not data:
        return [*lines, "No DVC-tracked data is recorded at this commit.", ""]
    rows = []
    for item in data:
        size = "" if item.size is None else str(item.size)
        if item.nfiles is not None:
            size = f"{size} ({item.nfiles} files)"
        path = escape.cell(item.path)
        rows.append([escape.cell(item.stage), item.kind, path, escape.code_cell(item.md5), size])
    return [*lines, *_table(["Stage", "Kind", "Path", "MD5", "Size (bytes)"], rows), ""]


def _card_section(facts: ReleaseFacts, room: int) -> list[str]:
    """The model card's body, folded; cut to `room` characters with a pointer."""
    lines = ["### Model card", ""]
    if not facts.card:
        return [*lines, f"No model card ({escape.code(facts.card_path)}) at this commit.", ""]
    _, body = split_front_matter(facts.card)
    if len(body) > room:
        body = body[: max(room, 0)] + (
            f"\n\n_(model card truncated; the full text is {escape.code(facts.card_path)} "
            "at the tagged commit)_\n"
        )
    return [
        *lines,
        f"<details><summary>{escape.html(facts.card_path)}</summary>",
        "",
        body.strip("\n"),
        "",
        "</details>",
        "",
    ]


def render_release_notes(facts: ReleaseFacts) -> str:
    """The GitHub Release body: provenance, metrics, params, data hashes, model card."""
    lines = [f"## {escape.heading(f'{facts.model} {facts.version}')}", ""]
    lines += _provenance(facts)
    found = escape.look_alikes([*facts.metrics, *facts.params])
    warning = escape.look_alike_warning(found)
    if warning:
        lines += [warning, ""]
    lines += _values_section(
        "Metrics",
        "Metric",
        facts.metrics,
        found.flagged,
        "No metrics file was found at this commit.",
    )
    lines += _values_section(
        "Parameters", "Parameter", facts.params, found.flagged,
        "No parameters were found at this commit.",
    )  # fmt: skip
    lines += _data_section(facts.data)
    lines += _card_section(facts, MAX_RELEASE_BODY - len("\n".join(lines)) - 400)
    gto_show = escape.code(f"gto show {facts.model}")
    lines.append(
        f"<sub>Registry tag {escape.code(facts.tag)} (GTO format: {gto_show} lists it).</sub>"
    )
    return "\n".join(lines) + "\n"
