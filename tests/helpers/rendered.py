"""Markdown as a renderer sees it: structure checks over markdown-it-py's token stream.

CommonMark plus GFM tables and strikethrough. markdown-it does not do GitHub's
post-processing (mentions, issue links, autolinks), so `live_text` returns the text a
post-processor would look at: every text token outside code spans and code blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

# What GitHub turns into a mention, a team mention, an issue link or a link, in text.
LIVE_PATTERNS = {
    "mention": re.compile(r"(?<![\w`])@[A-Za-z0-9]"),
    "issue link": re.compile(r"(?<![\w&])#\d"),
    "url": re.compile(r"://|\bwww\.", re.IGNORECASE),
    "script url": re.compile(r"javascript:", re.IGNORECASE),
}
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\r]")


def parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def tokens(markdown: str) -> list[Token]:
    return parser().parse(markdown)


def walk(stream: list[Token]) -> Iterator[Token]:
    for token in stream:
        yield token
        if token.children:
            yield from walk(token.children)


def live_text(markdown: str) -> str:
    """Every text token outside code, joined by newlines."""
    return "\n".join(t.content for t in walk(tokens(markdown)) if t.type == "text")


def shown_text(markdown: str) -> str:
    """What a reader sees: text and code span contents, joined by newlines."""
    return "\n".join(t.content for t in walk(tokens(markdown)) if t.type in {"text", "code_inline"})


def table_rows(markdown: str) -> list[list[str]]:
    """For every table, each body row as the reader sees it (cells joined by " | ")."""
    tables: list[list[str]] = []
    cells: list[str] = []
    in_body = False
    for token in tokens(markdown):
        if token.type == "table_open":
            tables.append([])
        elif token.type in {"tbody_open", "tbody_close"}:
            in_body = token.type == "tbody_open"
        elif token.type == "tr_open":
            cells = []
        elif token.type == "inline" and in_body:
            cells.append(
                "".join(t.content for t in walk([token]) if t.type in {"text", "code_inline"})
            )
        elif token.type == "tr_close" and in_body:
            tables[-1].append(" | ".join(cells))
    return tables


def html_chunks(markdown: str) -> list[str]:
    """Raw HTML the renderer passes through, inline or as blocks."""
    return [t.content for t in walk(tokens(markdown)) if t.type in {"html_inline", "html_block"}]


def table_shapes(markdown: str) -> list[list[int]]:
    """For every table, the number of cells of each row (header row first)."""
    shapes: list[list[int]] = []
    row: int | None = None
    for token in tokens(markdown):
        if token.type == "table_open":
            shapes.append([])
        elif token.type == "tr_open":
            row = 0
        elif token.type in {"th_open", "td_open"} and row is not None:
            row += 1
        elif token.type == "tr_close" and row is not None:
            shapes[-1].append(row)
            row = None
    return shapes


def problems(markdown: str, *, allowed_html: set[str] = frozenset()) -> list[str]:
    """What would make a rendered body unsafe or broken; [] when it is fine.

    Ragged tables, links or images, raw HTML other than `allowed_html` (exact chunks,
    e.g. our own `<details>` lines), live mentions/links in text, invisible characters.
    """
    found = []
    for shape in table_shapes(markdown):
        if len(set(shape)) > 1:
            found.append(f"table with ragged rows {shape}")
    for token in walk(tokens(markdown)):
        if token.type in {"link_open", "image"}:
            found.append(f"{token.type}: {token.attrs}")
    for chunk in html_chunks(markdown):
        for line in chunk.strip().splitlines():
            if line.strip() not in allowed_html:
                found.append(f"raw HTML {line!r}")
    text = live_text(markdown)
    for name, pattern in LIVE_PATTERNS.items():
        for match in pattern.finditer(text):
            found.append(
                f"live {name} near {text[max(match.start() - 10, 0) : match.end() + 10]!r}"
            )
    if INVISIBLE.search(text):
        found.append("an invisible character in the text")
    return found
