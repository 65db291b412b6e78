"""MODEL_CARD.md -> `mlgitops.core.model_card.ModelCard`, its front matter parsed strictly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgitops.core.model_card import ModelCard, parse_model_card
from mlgitops.errors import InputError, Location
from mlgitops.io.schema import load_schema, schema_errors
from mlgitops.io.yaml_strict import YamlDocument, describe, parse_yaml, read_text

MAX_CARD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LoadedModelCard:
    """A model card with its front matter parsed strictly (None if the card has none)."""

    file: str
    card: ModelCard
    front_matter: YamlDocument | None


def load_model_card(path: Path | str, *, file: str | None = None) -> LoadedModelCard:
    """Read MODEL_CARD.md; raises InputError if it is unreadable or its front matter is
    missing or not strict YAML. Schema problems are returned by `model_card_problems`."""
    path = Path(path)
    name = file or str(path)
    card = parse_model_card(read_text(path, file=name, max_bytes=MAX_CARD_BYTES))
    if card.unclosed_front_matter:
        raise InputError(
            "front matter starts with '---' on line 1 but is never closed",
            location=Location(name, 1),
        )
    if card.front_matter is None:
        raise InputError(
            "no YAML front matter: the card must start with a '---' line",
            location=Location(name, 1),
        )
    document = parse_yaml(card.front_matter.text, file=name, line_offset=card.front_matter.line - 1)
    if not isinstance(document.data, dict):
        raise InputError(
            f"front matter must be a mapping, got {describe(document.data)}",
            location=Location(name, card.front_matter.line),
        )
    return LoadedModelCard(name, card, document)


def model_card_problems(loaded: LoadedModelCard) -> list[InputError]:
    """Front matter problems against the shipped `model-card` JSON Schema."""
    if loaded.front_matter is None:
        return []
    return schema_errors(loaded.front_matter, load_schema("model-card"))
