"""The one escaper, driven by one table of hostile inputs, checked in a real renderer.

Every input of `HOSTILE` goes through every context function and is rendered with
markdown-it-py: the structure around it must survive (one paragraph, one heading, one
table row with its cells), nothing may become a link, image, raw HTML, a mention or
an issue link, no invisible character may reach the reader, and code contexts must
show the text exactly (spelled out where it is invisible).
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata

import pytest
from helpers.rendered import problems, table_shapes, tokens, walk

from mlgitops.core.markdown import escape

HOSTILE = {
    "pipe": "a|b",
    "pipes and backslash": "a\\|b||c",
    "newline": "line\nbreak",
    "carriage return": "carriage\rreturn",
    "raw html": "<img src=x onerror=alert(1)>",
    "script": "<script>alert(1)</script>",
    "comment": "<!-- hidden",
    "comment closed": "x --> y",
    "comparisons": "a <= b < 12 > c",
    "closing tag": "</details>",
    "link": "[click](https://evil.example/x)",
    "image": "![t](https://evil.example/t.png)",
    "reference link": "[a][1]\n\n[1]: https://evil.example",
    "javascript": "[x](javascript:alert(1))",
    "bare javascript": "javascript:alert(1)",
    "bare url": "https://evil.example/path",
    "www": "www.evil.example",
    "autolink": "<https://evil.example>",
    "mention": "@octocat",
    "mention in text": "ping @octocat now",
    "team": "@acme/admins",
    "entity mention": "&#64;octocat",
    "issue": "#12",
    "cross-repo issue": "acme/model#12",
    "email": "a@b.example",
    "backtick": "a`b",
    "three backticks": "```x",
    "fence": "```\ncode\n```",
    "tilde fence": "~~~\ncode",
    "bidi override": "rtl\u202eoverride",
    "bidi isolate": "a\u2066b\u2069c",
    "zero width space": "zero\u200bwidth",
    "zero width joiner": "zw\u200dj",
    "byte order mark": "\ufeffbom",
    "soft hyphen": "soft\u00adhyphen",
    "heading": "# heading",
    "closing hashes": "title ##",
    "quote": "> quote",
    "list": "- item",
    "ordered list": "1. item",
    "setext": "=",
    "emphasis": "*bold* _it_",
    "intraword emphasis": "a*b*c snake_case_name __init__",
    "math": "$x^2$",
    "strike": "~~s~~",
    "entity": "&amp; &lt; &#x26;",
    "backslash": "a\\b",
    "nfc": "caf\u00e9",
    "nfd": "cafe\u0301",
    "cyrillic look-alike": "\u0430ccuracy",
    "fullwidth": "\uff41\uff43\uff43",
    "spaces": " spaced ",
    "empty": "",
}
CASES = list(HOSTILE.values())
IDS = list(HOSTILE)


def _code_contents(markdown: str) -> list[str]:
    return [t.content for t in walk(tokens(markdown)) if t.type == "code_inline"]


@pytest.mark.parametrize("raw", CASES, ids=IDS)
def test_text_is_one_inert_paragraph(raw: str) -> None:
    markdown = f"Before {escape.text(raw)} after\n"
    assert [t.type for t in tokens(markdown)] == ["paragraph_open", "inline", "paragraph_close"]
    assert problems(markdown) == []


@pytest.mark.parametrize("raw", CASES, ids=IDS)
def test_text_at_the_start_of_a_list_item_opens_no_block(raw: str) -> None:
    markdown = f"- {escape.text(raw)}\n"
    kinds = [t.type for t in tokens(markdown)]
    assert kinds.count("bullet_list_open") == 1 and "heading_open" not in kinds
    assert "blockquote_open" not in kinds and "fence" not in kinds
    assert problems(markdown) == []


@pytest.mark.parametrize("raw", CASES, ids=IDS)
def test_heading_stays_one_heading(raw: str) -> None:
    markdown = f"## {escape.heading(raw)}\n"
    kinds = [t.type for t in tokens(markdown)]
    assert kinds == ["heading_open", "inline", "heading_close"]
    assert problems(markdown) == []


@pytest.mark.parametrize("raw", CASES, ids=IDS)
@pytest.mark.parametrize("render", [escape.cell, escape.code_cell], ids=["cell", "code_cell"])
def test_table_cell_keeps_the_row(raw: str, render: object) -> None:
    assert callable(render)
    markdown = f"| A | B | C |\n|---|---|---|\n| {render(raw)} | x | {render(raw)} |\n"
    assert table_shapes(markdown) == [[3, 3]]
    assert problems(markdown) == []


@pytest.mark.parametrize("raw", [r for r in CASES if r], ids=[i for i, r in HOSTILE.items() if r])
def test_code_shows_the_text_exactly(raw: str) -> None:
    """In prose and in a cell alike, the code span renders the characters, spelled out
    where they are invisible, never dropped."""
    expected = escape.visible(raw)
    (shown,) = _code_contents(f"x {escape.code(raw)} y\n")
    assert shown == expected or shown == expected.strip()
    (in_cell,) = _code_contents(f"| A |\n|---|\n| {escape.code_cell(raw)} |\n")
    assert in_cell in {expected, expected.strip()}


@pytest.mark.parametrize("raw", CASES, ids=IDS)
def test_html_context_uses_entities_only(raw: str) -> None:
    inner = escape.html(raw)
    markdown = f"<details><summary>{inner}</summary>\n\nbody\n\n</details>\n"
    summary_block = next(t for t in tokens(markdown) if t.type == "html_block")
    # Only our tags (and <code> around risky tokens) are markup; the text is entities.
    tags = re.findall(r"<\s*/?\s*([A-Za-z!]+)", summary_block.content)
    assert set(tags) <= {"details", "summary", "code"}
    text = html_lib.unescape(re.sub(r"</?code>", "", inner))
    assert text == escape.visible(" ".join(raw.split()))
    outside_code = re.sub(r"<code>.*?</code>", "", inner)
    assert "@" not in outside_code and not re.search(r"#\d", outside_code)


def test_html_context_has_no_markdown_backslashes() -> None:
    """Issue: `<summary>MODEL\\_CARD.md</summary>` showed the backslash."""
    assert escape.html("MODEL_CARD.md") == "MODEL_CARD.md"
    assert escape.html("a <b> & 'c'") == "a &lt;b&gt; &amp; &#39;c&#39;"
    assert escape.html("see @octocat") == "see <code>@octocat</code>"


@pytest.mark.parametrize("raw", CASES, ids=IDS)
def test_mermaid_label_is_a_small_alphabet(raw: str) -> None:
    label = escape.mermaid_label(raw)
    assert re.fullmatch(r"[A-Za-z0-9 ._@+-]{0,40}", label)


def test_exact_escapes() -> None:
    assert escape.code("plain") == "`plain`"
    assert escape.code("a`b") == "``a`b``"
    assert escape.code("`x`") == "`` `x` ``"
    assert escape.code("") == "*(empty)*"
    assert escape.code("x" * 200).endswith("…(+80 chars)`")
    assert escape.code("a|b") == "`a|b`"
    assert escape.code_cell("a|b") == "`a\\|b`"
    assert escape.text("n_estimators: 100 -> 300") == "n_estimators: 100 -> 300"
    assert escape.text("_it_ a_ _b") == "\\_it\\_ a\\_ \\_b"
    assert escape.text("> quote") == "\\> quote"
    assert escape.text("metadata: the file: x") == "metadata: the file: x"
    assert escape.text("a <= b < 12 <b> <!--") == "a <= b < 12 &lt;b> &lt;\\!--"
    assert escape.text("ping @octocat and #12") == "ping `@octocat` and `#12`"
    assert escape.text("- x") == "\\- x"
    assert escape.text("1. x") == "1\\. x"
    assert escape.text("a\nb\t c") == "a b c"
    assert escape.visible("a\u202eb\nc\td\u200b") == "a\\u202eb\\nc\\td\\u200b"
    assert escape.visible("naïve ü 日本") == "naïve ü 日本"
    assert escape.visible("caf\u00e9", ascii_only=True) == "caf\\u00e9"
    assert escape.link("run", "https://github.com/a/b/actions/runs/1") == (
        "[run](https://github.com/a/b/actions/runs/1)"
    )
    assert escape.link("x", "javascript:alert(1)") == "x (`javascript:alert(1)`)"
    assert escape.link("x", "https://h/a b)c") == "[x](https://h/a%20b%29c)"


def test_nfc_and_nfd_are_one_group_and_spelled_apart() -> None:
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    assert unicodedata.normalize("NFKC", nfc) == unicodedata.normalize("NFKC", nfd)
    found = escape.look_alikes(["accuracy", nfc, nfd, "f1"])
    assert found.same_after_nfkc == ((nfc, nfd),)
    assert found.flagged == {nfc, nfd}
    assert escape.code(nfc, spell_out=True) != escape.code(nfd, spell_out=True)
    warning = escape.look_alike_warning(found)
    assert warning is not None
    assert "`caf\\u00e9` and `cafe\\u0301`" in warning and "NFKC" in warning


def test_mixed_scripts_are_flagged_and_single_scripts_are_not() -> None:
    found = escape.look_alikes(["\u0430ccuracy", "accuracy", "точность", "精度と再現率", "naïve"])
    assert found.mixed_scripts == ("\u0430ccuracy",)
    assert found.same_after_nfkc == ()
    warning = escape.look_alike_warning(found)
    assert warning is not None and "`\\u0430ccuracy` mixes scripts (Cyrillic, Latin)" in warning
    assert escape.look_alike_warning(escape.look_alikes(["accuracy", "f1"])) is None


def test_fullwidth_and_ligature_collide_after_nfkc() -> None:
    found = escape.look_alikes(["acc", "\uff41\uff43\uff43", "\ufb01t", "fit"])
    assert set(found.same_after_nfkc) == {("acc", "\uff41\uff43\uff43"), ("\ufb01t", "fit")}
