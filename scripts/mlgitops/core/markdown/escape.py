"""The one escaper: untrusted text (names, paths, titles, messages) made inert markdown.

Every renderer of `mlgitops.core.markdown` shows repository data only through these
functions, one per place it can appear, because the rules differ by context:

- `text` / `cell`: prose in a paragraph, list item, heading or link text / in a table
  cell. ASCII punctuation that means something is backslash-escaped, `<` and `&` become
  entities, whitespace runs become one space, and every token GitHub would turn into
  something (`@user`, `@org/team`, `#12`, `https://...`, `www.`, `javascript:`, an
  e-mail) goes into a code span, the one place GitHub links and mentions nothing.
- `code` / `code_cell`: a name shown exactly, as a code span (fence longer than any
  backtick run inside; `|` escaped in a cell, where GFM splits rows before parsing code).
- `html`: inside an HTML block such as `<summary>`, where markdown escapes do not apply
  (a `\\_` shows as a backslash): entities only, risky tokens in `<code>`.
- `mermaid_label`: a label inside a Mermaid string: a small alphabet, nothing else.

In all of them, characters a reader cannot see or that reorder text (controls, bidi
overrides, zero-width characters) are spelled out as `\\u202e`, so they are shown, not
hidden or obeyed. `look_alikes` finds names that are different strings but look the
same (equal after NFKC, or mixing scripts such as a Cyrillic `\\u0430` in `accuracy`);
renderers spell those names out in full and print `look_alike_warning`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_CODE_CHARS = 120
EMPTY = "*(empty)*"

_SPELLED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# Escaped wherever they appear in prose: emphasis, code, links, images, tables, math,
# strikethrough, headings' closing #, entities and HTML.
_PROSE_SPECIALS = set("\\`*_[]|~!#$")
# Meaningful only at the start of a line (block quotes, lists, setext underlines).
_LEADING_SPECIALS = set(">-+=")
# `<` opens a tag, a comment or an autolink only when one of these follows it, so
# `a <= b` and `< 12` stay as written.
_TAG_OR_AUTOLINK = re.compile(r"[A-Za-z0-9/!?]")
_ORDERED_LIST_START = re.compile(r"^(\d{1,9})([.)])")
# Tokens GitHub turns into a mention, a team mention, an issue link, a link or an e-mail
# link after rendering, even when their characters were backslash-escaped.
# A script scheme counts only as a word of its own (`javascript:`), not in `metadata:`.
_RISKY_TOKEN = re.compile(
    r"\S*(?:@|#\d|://|www\.)\S*|\S*(?<![A-Za-z])(?:javascript|vbscript|data):\S*",
    re.IGNORECASE,
)
_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 ._@+-]")


def _spell(char: str) -> str:
    if char in _SPELLED:
        return _SPELLED[char]
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str, *, ascii_only: bool = False) -> str:
    """Spell out characters that are invisible or reorder text (controls, bidi, zero-width).

    `a\\u202eb` (with a real U+202E) becomes the six characters `a\\u202eb`.
    `ascii_only` spells out every non-ASCII character too: for look-alike names, so
    `café` (NFC) reads `caf\\u00e9` and `café` (NFD) reads `cafe\\u0301`.
    """
    return "".join(
        _spell(char)
        if char in _SPELLED
        or unicodedata.category(char) in _HIDDEN_CATEGORIES
        or (ascii_only and ord(char) > 0x7E)
        else char
        for char in text
    )


def _one_line(text: str) -> str:
    """Prose: whitespace runs (newlines included) become one space; the rest is spelled."""
    return visible(" ".join(str(text).split()))


def _inside_word(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and text[index - 1].isalnum() and text[index + 1].isalnum()


def _escape_prose(text: str, *, at_start: bool) -> str:
    out = []
    for index, char in enumerate(text):
        if char == "&":
            out.append("&amp;")
        elif char == "<" and _TAG_OR_AUTOLINK.match(text, index + 1):
            out.append("&lt;")
        elif char == "_" and _inside_word(text, index):
            out.append(char)  # `n_estimators`: GFM never emphasises inside a word
        elif char in _PROSE_SPECIALS or (at_start and index == 0 and char in _LEADING_SPECIALS):
            out.append("\\" + char)
        else:
            out.append(char)
    escaped = "".join(out)
    if at_start:
        escaped = _ORDERED_LIST_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return escaped


def _prose(text: object, *, in_table: bool, spell_out: bool) -> str:
    line = _one_line(str(text))
    if spell_out:
        line = visible(line, ascii_only=True)
    pieces = []
    position = 0
    for match in _RISKY_TOKEN.finditer(line):
        before = line[position : match.start()]
        pieces.append(_escape_prose(before, at_start=position == 0))
        pieces.append(_code_span(match.group(0), in_table=in_table, limit=None))
        position = match.end()
    pieces.append(_escape_prose(line[position:], at_start=position == 0))
    return "".join(pieces)


def text(value: object, *, spell_out: bool = False) -> str:
    """Untrusted text as inert inline markdown: a paragraph, list item, heading or link text.

    One line; `spell_out` also spells out non-ASCII characters (look-alike names).
    """
    return _prose(value, in_table=False, spell_out=spell_out)


def cell(value: object, *, spell_out: bool = False) -> str:
    """`text` for a GFM table cell: also `|` inside code spans cannot split the row."""
    return _prose(value, in_table=True, spell_out=spell_out)


def heading(value: object) -> str:
    """Text for an ATX heading (`## ` + this): `text`, so a trailing `#` stays text."""
    return text(value)


def _code_span(shown: str, *, in_table: bool, limit: int | None) -> str:
    if not shown:
        return EMPTY
    if limit is not None and len(shown) > limit:
        shown = shown[:limit] + f"…(+{len(shown) - limit} chars)"
    if in_table:
        shown = shown.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    if shown.startswith(("`", " ")) or shown.endswith(("`", " ")):
        shown = f" {shown} "
    return f"{fence}{shown}{fence}"


def code(value: object, *, limit: int | None = MAX_CODE_CHARS, spell_out: bool = False) -> str:
    """A name shown exactly, as an inline code span in prose or a heading.

    Nothing inside a code span is markup: no HTML, no comment, no mention, no link.
    Newlines and invisible characters are spelled out; longer than `limit` is cut with
    a note of how much was cut.
    """
    return _code_span(visible(str(value), ascii_only=spell_out), in_table=False, limit=limit)


def code_cell(value: object, *, limit: int | None = MAX_CODE_CHARS, spell_out: bool = False) -> str:
    """`code` for a GFM table cell (`|` escaped: GFM splits rows before parsing code)."""
    return _code_span(visible(str(value), ascii_only=spell_out), in_table=True, limit=limit)


_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def _html_escape(text: str) -> str:
    return "".join(_HTML_ENTITIES.get(char, char) for char in text)


def html(value: object) -> str:
    """Text inside an HTML block (`<summary>`, `<sub>`): entities, never backslashes.

    Markdown is not parsed inside an HTML block, so `MODEL_CARD.md` stays as written and
    `\\_` would show its backslash. GitHub still links mentions and `#12` in HTML text,
    so those tokens go into `<code>`.
    """
    line = _one_line(str(value))
    pieces = []
    position = 0
    for match in _RISKY_TOKEN.finditer(line):
        pieces.append(_html_escape(line[position : match.start()]))
        pieces.append(f"<code>{_html_escape(match.group(0))}</code>")
        position = match.end()
    pieces.append(_html_escape(line[position:]))
    return "".join(pieces)


def link(label: str, url: str) -> str:
    """`[label](url)` for a URL we built (run page, commit): `label` is markdown already.

    Only http(s) URLs become links, and characters that would end the destination are
    percent-encoded; anything else is shown as text.
    """
    if not re.match(r"^https?://", url, re.IGNORECASE):
        return f"{label} ({code(url)})"
    safe = re.sub(r"[\s()<>\\`]", lambda m: f"%{ord(m.group(0)):02X}", url)
    return f"[{label}]({safe})"


def mermaid_label(value: object, *, limit: int = 40) -> str:
    """Text for a double-quoted Mermaid label: letters, digits and ` ._@+-`, cut to `limit`.

    Mermaid has no escape for `"` in labels and renders labels as HTML, so anything
    outside this alphabet becomes `_`; the whole chart sits in a code block, where
    GitHub mentions and links nothing.
    """
    return _MERMAID_UNSAFE.sub("_", str(value))[:limit]


# ----------------------------------------------------------------------------- look-alikes


def scripts_of(name: str) -> tuple[str, ...]:
    """The scripts of the letters of `name` (LATIN, CYRILLIC, ...), sorted.

    Han, Hiragana and Katakana count as one (Japanese mixes them in every sentence).
    """
    found = set()
    for char in name:
        if not unicodedata.category(char).startswith("L"):
            continue
        script = unicodedata.name(char, "UNKNOWN").split(" ")[0]
        if script in {"CJK", "HIRAGANA", "KATAKANA"}:
            script = "CJK"
        found.add(script)
    return tuple(sorted(found))


@dataclass(frozen=True)
class LookAlikes:
    """Names a reader could take for one another."""

    same_after_nfkc: tuple[tuple[str, ...], ...] = ()
    mixed_scripts: tuple[str, ...] = ()

    @property
    def flagged(self) -> frozenset[str]:
        """Every name to show spelled out (`spell_out=True`)."""
        return frozenset(
            [name for group in self.same_after_nfkc for name in group] + list(self.mixed_scripts)
        )

    def __bool__(self) -> bool:
        return bool(self.same_after_nfkc or self.mixed_scripts)


def look_alikes(names: Iterable[str]) -> LookAlikes:
    """Groups of distinct names equal after NFKC normalisation, and names mixing scripts."""
    groups: dict[str, list[str]] = {}
    mixed: list[str] = []
    for name in dict.fromkeys(str(n) for n in names):
        groups.setdefault(unicodedata.normalize("NFKC", name), []).append(name)
        if len(scripts_of(name)) > 1:
            mixed.append(name)
    return LookAlikes(
        tuple(tuple(group) for group in groups.values() if len(group) > 1), tuple(mixed)
    )


def look_alike_warning(found: LookAlikes) -> str | None:
    """A visible warning naming every look-alike, each spelled out; None if there are none."""
    if not found:
        return None
    parts = []
    for group in found.same_after_nfkc:
        shown = " and ".join(code(name, spell_out=True) for name in group)
        parts.append(f"{shown} are the same name after Unicode normalisation (NFKC)")
    for name in found.mixed_scripts:
        scripts = ", ".join(script.title() for script in scripts_of(name))
        parts.append(f"{code(name, spell_out=True)} mixes scripts ({scripts})")
    return (
        "> ⚠️ **Look-alike names:** "
        + "; ".join(parts)
        + ". They are shown spelled out; check that each is the name you mean."
    )
