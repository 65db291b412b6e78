"""Registered versions on a trained repository, for the serving tests."""

from __future__ import annotations

from pathlib import Path

from mlgitops import proc

# The model name of the default answers.
MODEL = "breast-cancer-classifier-model"


def promote(repo: Path, model: str = MODEL) -> Path:
    """`<model>@v1.0.0` on HEAD and `production` assigned to it (annotated GTO tags)."""
    proc.git("tag", "-a", f"{model}@v1.0.0", "-m", "Register v1.0.0", cwd=repo)
    proc.git("tag", "-a", f"{model}#production#1", "-m", "Assign production", cwd=repo)
    return repo
