"""The rendering check itself: each kind of breakage it must catch, and a clean body."""

from __future__ import annotations

import pytest
from helpers.rendering import check_markdown, parse_mermaid, require_mermaid

CLEAN = """<!-- mlgitops:sticky:report -->
## Report

| a | b |
|---|--:|
| `x\\|y` | 1 |

<details><summary>More</summary>

text with `code`

</details>
"""


def test_a_clean_body_has_no_problem() -> None:
    rendered = check_markdown(CLEAN)
    assert rendered.problems == [] and rendered.tables == 1


@pytest.mark.parametrize(
    ("markdown", "problem"),
    [
        ("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n", "has rows of [2, 2, 3] cells"),
        ("| a | b |\n|---|---|\n| 1 |\n", "has rows of [2, 2, 1] cells"),
        ("| a | b |\n|---|---|\n| x | a|b |\n", "has rows of [2, 2, 3] cells"),
        ("<details><summary>s</summary>\n\nbody\n", "1 <details> opened, 0 closed"),
        ("<script>alert(1)</script>\n", "raw HTML is shown as text"),
        ("<style>p {}</style>\n", "raw HTML is shown as text"),
        ("<font color=red>x</font>\n", "<font> is not kept by GitHub's sanitiser"),
        ('<div onclick="x()">x</div>\n', "<div onclick=...> is not kept"),
        ("<details><summary>MODEL\\_CARD.md</summary>\n</details>\n", "shown literally"),
        ("```mermaid\nxychart-beta\n", None),  # an unclosed fence still becomes a block
    ],
)
def test_each_breakage_is_reported(markdown: str, problem: str | None) -> None:
    problems = check_markdown(markdown).problems
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_mermaid_blocks_are_extracted_and_a_broken_one_fails_to_parse() -> None:
    require_mermaid()
    good_chart = "```mermaid\nxychart-beta\n    line [1, 2]\n```\n"
    bad_chart = "```mermaid\nxychart-beta\n    line [4.27947e+06]\n```\n"
    markdown = f"{good_chart}\n{bad_chart}"
    blocks = check_markdown(markdown).mermaid
    assert len(blocks) == 2
    good, bad = parse_mermaid(blocks)
    assert good["ok"] and good["plots"][0]["values"] == [1, 2]
    assert not bad["ok"] and "Parse error" in bad["error"]
