"""Model card parsing (pure) and strict loading with the front matter JSON Schema."""

# The bad-input table keeps one case per line with its full message.
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest

from mlgitops.core.model_card import card_metrics, parse_model_card
from mlgitops.errors import InputError
from mlgitops.io.model_card import load_model_card, model_card_problems

CARD = """\
---
license: mit
tags: [tabular-classification]
model-index:
- name: demo
  results:
  - task: {type: tabular-classification}
    metrics:
    - type: accuracy
      value: 0.97
    - {type: f1, value: 0.96}
---
# Model card: demo

## Model Details

Random forest.

```markdown
## Not a section
```

## Evaluation ##

### Per group

| a | b |

## Limitations
<!-- nothing yet -->

# Appendix

text outside any level-2 section
"""


def test_sections_have_titles_lines_and_bodies() -> None:
    card = parse_model_card(CARD)
    assert card.front_matter is not None
    assert (card.front_matter.line, card.front_matter.end_line) == (2, 12)
    assert [(s.title, s.line, s.is_empty) for s in card.sections] == [
        ("Model Details", 15, False),
        ("Evaluation", 23, False),
        ("Limitations", 29, True),
    ]
    assert "## Not a section" in card.sections[0].body
    assert card.section("  model   details ") is card.sections[0]
    assert card.section("Appendix") is None


def test_no_front_matter_and_unclosed_front_matter() -> None:
    assert parse_model_card("# t\n\n## A\nx\n").front_matter is None
    unclosed = parse_model_card("---\nlicense: mit\n## A\n")
    assert unclosed.unclosed_front_matter is True


def test_card_metrics_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "MODEL_CARD.md"
    path.write_text(CARD)
    loaded = load_model_card(path, file="MODEL_CARD.md")
    assert loaded.front_matter is not None
    found = card_metrics(loaded.front_matter.data, loaded.front_matter.line_of)
    assert [(m.name, m.value, m.line, m.model) for m in found] == [
        ("accuracy", 0.97, 10, "demo"),
        ("f1", 0.96, 11, "demo"),
    ]
    assert model_card_problems(loaded) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no front matter\n", "MODEL_CARD.md:1: no YAML front matter: the card must start with a '---' line"),
        ("---\nlicense: mit\n", "MODEL_CARD.md:1: front matter starts with '---' on line 1 but is never closed"),
        ("---\nlicense: mit\nlicense: mit\n---\n", "MODEL_CARD.md:3 (key 'license'): duplicate key 'license' (first defined on line 2)"),
        ("---\n- a\n---\n", "MODEL_CARD.md:2: front matter must be a mapping, got list"),
        ("---\n---\n", "MODEL_CARD.md: file is empty"),
        ("---\nx: &a 1\n---\n", "MODEL_CARD.md:2: anchor '&a' is not allowed: anchors and aliases are rejected so that every value is written where it applies"),
    ],
)  # fmt: skip
def test_bad_cards(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "MODEL_CARD.md"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_model_card(path, file="MODEL_CARD.md")
    assert str(caught.value) == message


def test_schema_problems_name_lines_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "MODEL_CARD.md"
    path.write_text(
        "---\nlicense: 3\nmodel-index:\n- name: demo\n  results:\n  - task: {type: t}\n"
        "    metrics:\n    - {type: accuracy, value: high}\n---\n"
    )
    problems = model_card_problems(load_model_card(path, file="MODEL_CARD.md"))
    assert [str(p) for p in problems] == [
        "MODEL_CARD.md:2 (key 'license'): expected a string, got number 3",
        "MODEL_CARD.md:8 (key 'model-index[0].results[0].metrics[0].value'): expected a number,"
        ' got string "high"',
    ]


def test_missing_model_index_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "MODEL_CARD.md"
    path.write_text("---\nlicense: mit\n---\n")
    problems = model_card_problems(load_model_card(path, file="MODEL_CARD.md"))
    assert [str(p) for p in problems] == [
        "MODEL_CARD.md:2 (key 'model-index'): missing required key 'model-index'"
    ]
