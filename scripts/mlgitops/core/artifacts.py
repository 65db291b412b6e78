"""A model (or other artifact) declared under `artifacts:` in dvc.yaml, as GTO reads it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeclaredModel:
    """One `artifacts:` entry; paths are relative to the repository and stay inside it."""

    name: str
    path: str
    type: str | None = None  # None: no `type:` (promotion treats it as a model)
    metrics: str | None = None  # meta.metrics: the metrics file of this model
    card: str | None = None  # meta.card: its model card
