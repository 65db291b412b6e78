"""Parse a model card: YAML front matter (as text) and `## ` sections, with line numbers.

Pure: text in, dataclasses out. The front matter's YAML is parsed by the caller with the
strict loader (`mlgitops.io.yaml_strict.parse_yaml(..., line_offset=front_matter.line - 1)`).
Only ATX headings (`## Title`) count as sections; headings inside fenced code blocks do not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class FrontMatter:
    """The YAML between the leading `---` lines; `line` is the line of its first YAML line."""

    text: str
    line: int
    end_line: int  # line of the closing `---`


@dataclass(frozen=True)
class Section:
    """A level-2 section: its heading's line, and its body up to the next level-1/2 heading."""

    title: str
    line: int
    body: str

    @property
    def is_empty(self) -> bool:
        """True if the body holds nothing but whitespace and HTML comments."""
        return not _COMMENT.sub("", self.body).strip()


@dataclass(frozen=True)
class ModelCard:
    front_matter: FrontMatter | None
    sections: tuple[Section, ...]
    unclosed_front_matter: bool = False

    def section(self, title: str) -> Section | None:
        """The first section whose title equals `title`, ignoring case and extra spaces."""
        wanted = _normalise(title)
        for section in self.sections:
            if _normalise(section.title) == wanted:
                return section
        return None


def _normalise(title: str) -> str:
    return " ".join(title.split()).casefold()


def parse_model_card(text: str) -> ModelCard:
    """Split a model card into front matter and `## ` sections (line numbers are 1-based)."""
    lines = text.splitlines()
    front_matter = None
    unclosed = False
    start = 0
    if lines and lines[0].rstrip() == "---":
        for index in range(1, len(lines)):
            if lines[index].rstrip() in {"---", "..."}:
                front_matter = FrontMatter(
                    text="\n".join(lines[1:index]) + "\n", line=2, end_line=index + 1
                )
                start = index + 1
                break
        else:
            unclosed = True
    sections: list[Section] = []
    current: tuple[str, int] | None = None
    body: list[str] = []
    fence: str | None = None

    def close() -> None:
        if current is not None:
            sections.append(Section(current[0], current[1], "\n".join(body)))

    for index in range(start, len(lines)):
        line = lines[index]
        fence_match = _FENCE.match(line)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
            ):
                fence = None
            body.append(line)
            continue
        if fence_match:
            fence = fence_match.group(1)
            body.append(line)
            continue
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) <= 2:
            close()
            body = []
            current = (heading.group(2) or "", index + 1) if len(heading.group(1)) == 2 else None
            continue
        body.append(line)
    close()
    return ModelCard(front_matter, tuple(sections), unclosed)


@dataclass(frozen=True)
class CardMetric:
    """One `model-index[i].results[j].metrics[k]` entry: its `type`, `value` and line."""

    name: str
    value: Any
    line: int | None
    model: str | None = None


def card_metrics(
    front_matter: Mapping[str, Any], line_of: Callable[..., int | None]
) -> list[CardMetric]:
    """Metrics declared in Hugging Face `model-index` front matter.

    `line_of(*path)` gives the line of a path in the front matter (e.g.
    `YamlDocument.line_of`). Malformed entries are skipped: the JSON Schema reports them.
    """
    found: list[CardMetric] = []
    index = front_matter.get("model-index")
    if not isinstance(index, list):
        return found
    for i, model in enumerate(index):
        if not isinstance(model, dict):
            continue
        model_name = model.get("name") if isinstance(model.get("name"), str) else None
        results = model.get("results")
        if not isinstance(results, list):
            continue
        for j, result in enumerate(results):
            metrics = result.get("metrics") if isinstance(result, dict) else None
            if not isinstance(metrics, list):
                continue
            for k, metric in enumerate(metrics):
                if not isinstance(metric, dict) or not isinstance(metric.get("type"), str):
                    continue
                path = ("model-index", i, "results", j, "metrics", k, "value")
                found.append(
                    CardMetric(metric["type"], metric.get("value"), line_of(*path), model_name)
                )
    return found


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
