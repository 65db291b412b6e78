"""Render markdown as GitHub does and report what would look broken to a reviewer.

GFM is rendered by cmark-gfm (`cmarkgfm`, GitHub's own parser) with the table, autolink
and tagfilter extensions; raw HTML is let through (`UNSAFE`) so that every tag the body
contains can be checked against what GitHub's sanitiser keeps. Mermaid blocks are parsed
by Mermaid itself in node (scripts/render/mermaid-parse.mjs), which returns the chart data
it read, so a test can compare the numbers with the ones it meant to draw.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

ROOT = Path(__file__).resolve().parents[2]
RENDER_DIR = ROOT / "scripts" / "render"
EXTENSIONS = ["table", "autolink", "tagfilter"]

# What GitHub's HTML sanitiser keeps in comments, releases and issues (its allowlist of
# elements); anything else is removed, and a body that relies on it renders wrong.
GITHUB_TAGS = frozenset(
    "a abbr b bdo blockquote br caption cite code dd del details dfn div dl dt em figcaption "
    "figure h1 h2 h3 h4 h5 h6 hr i img input ins kbd li mark ol p picture pre q rp rt ruby s "
    "samp small source span strike strong sub summary sup table tbody td tfoot th thead time "
    "tr tt ul var wbr".split()
)
# Attributes cmark-gfm itself writes, plus the few GitHub keeps that our bodies may use.
GITHUB_ATTRIBUTES = frozenset({"align", "lang", "href", "title", "open", "data-sourcepos"})
VOID_TAGS = frozenset({"br", "hr", "img", "input", "source", "wbr"})
# A markdown escape (`\_`) shown literally: it happens inside HTML blocks, where markdown
# escapes do not apply.
LITERAL_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
# A tag in text: raw HTML GitHub shows as text (the tagfilter extension's `&lt;script>`).
TAG_AS_TEXT = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*[\s/>]")


def to_html(markdown: str, *, sourcepos: bool = False) -> str:
    options = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG
    if sourcepos:
        options |= Options.CMARK_OPT_SOURCEPOS
    return cmarkgfm.markdown_to_html_with_extensions(markdown, options, EXTENSIONS)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.stack: list[str] = []
        self.tables: list[tuple[int, int]] = []  # source line ranges
        self.mermaid: list[str] = []
        self._in_code = 0
        self._mermaid_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in GITHUB_TAGS:
            self.problems.append(f"<{tag}> is not kept by GitHub's sanitiser")
        for name, _ in attrs:
            if name not in GITHUB_ATTRIBUTES:
                self.problems.append(f"<{tag} {name}=...> is not kept by GitHub's sanitiser")
        values = dict(attrs)
        if tag == "table" and values.get("data-sourcepos"):
            start, end = re.findall(r"(\d+):\d+", values["data-sourcepos"] or "")[:2]
            self.tables.append((int(start), int(end)))
        if tag in {"code", "pre"}:
            self._in_code += 1
        if tag == "pre" and values.get("lang") == "mermaid":
            self._mermaid_text = []
        if tag not in VOID_TAGS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag in {"code", "pre"}:
            self._in_code -= 1
        if tag == "pre" and self._mermaid_text is not None:
            self.mermaid.append("".join(self._mermaid_text))
            self._mermaid_text = None

    def handle_data(self, data: str) -> None:
        if self._mermaid_text is not None:
            self._mermaid_text.append(data)
        if self._in_code:
            return
        if LITERAL_ESCAPE.search(data):
            self.problems.append(f"a markdown escape is shown literally: {data.strip()[:80]!r}")
        if TAG_AS_TEXT.search(data):
            self.problems.append(f"raw HTML is shown as text: {data.strip()[:80]!r}")


def _cells(row: str) -> int:
    """Cells of a GFM table row: split on pipes that are not backslash-escaped."""
    text = row.strip()
    text = text.removeprefix("|")
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return len(re.split(r"(?<!\\)\|", text))


@dataclass(frozen=True)
class Rendered:
    html: str
    problems: list[str]
    mermaid: list[str]
    tables: int


def check_markdown(markdown: str) -> Rendered:
    """Render `markdown` as GitHub does; list everything a reviewer would see broken."""
    html = to_html(markdown, sourcepos=True)
    parser = _Html()
    parser.feed(html)
    parser.close()
    problems = list(parser.problems)
    if parser.stack:
        problems.append(f"elements never closed: {parser.stack}")
    opened = len(re.findall(r"<details\b", html))
    closed = html.count("</details>")
    if opened != closed:
        problems.append(f"{opened} <details> opened, {closed} closed")
    lines = markdown.splitlines()
    for start, end in parser.tables:
        rows = [line for line in lines[start - 1 : end] if line.strip()]
        widths = [_cells(row) for row in rows]
        if len(set(widths)) != 1:
            problems.append(f"table on lines {start}-{end} has rows of {widths} cells")
    if "```mermaid" in markdown and len(parser.mermaid) != markdown.count("```mermaid"):
        problems.append("a ```mermaid fence did not become a mermaid code block")
    return Rendered(html, problems, parser.mermaid, len(parser.tables))


# ----------------------------------------------------------------------------- Mermaid
class MermaidUnavailable(Exception):
    pass


def node_problem() -> str | None:
    """Why the Mermaid parser cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed: Mermaid blocks cannot be parsed by Mermaid"
    if not (RENDER_DIR / "node_modules" / "mermaid").is_dir():
        return "scripts/render/node_modules is missing: run `bash scripts/bootstrap`"
    return None


def require_mermaid() -> None:
    """Skip with the reason where node is missing; never in CI, where it is a failure."""
    problem = node_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: the rendering check must run, but {problem}")
    pytest.skip(problem)


def parse_mermaid(diagrams: list[str]) -> list[dict[str, Any]]:
    """Each diagram parsed by Mermaid: {ok, type, plots, categories, yRange, palette} or
    {ok: False, error}."""
    result = subprocess.run(
        ["node", str(RENDER_DIR / "mermaid-parse.mjs")],
        input=json.dumps(diagrams),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=RENDER_DIR,
    )
    if result.returncode != 0:
        raise MermaidUnavailable(result.stderr)
    parsed: list[dict[str, Any]] = json.loads(result.stdout)
    return parsed


def mermaid_blocks(markdown: str) -> list[str]:
    """The text of every ```mermaid block, as GitHub hands it to Mermaid."""
    return check_markdown(markdown).mermaid
