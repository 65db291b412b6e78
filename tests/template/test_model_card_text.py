"""The model card a trained repository generates reads as finished text: no placeholder."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["default", "csv"])
def test_the_generated_card_has_no_placeholder(
    runnable_repo: Callable[[str], Path], name: str
) -> None:
    card = (runnable_repo(name) / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert not re.search(r"X\.Y\.Z|<model>|TODO|\{\{|\{%", card)
    assert "- **Releases:** each version is a git tag of `" in card
