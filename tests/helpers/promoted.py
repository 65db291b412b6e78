"""Registered, signed versions on a trained repository, for the serving tests."""

from __future__ import annotations

from pathlib import Path

from mlgitops import proc
from mlgitops.attest.service import attest_release
from mlgitops.attest.signing import KeySigning

# The model name of the default answers.
MODEL = "breast-cancer-classifier-model"


def promote(repo: Path, model: str = MODEL, *, signing_key: Path | None = None) -> Path:
    """`<model>@v1.0.0` on HEAD and `production` assigned to it (annotated GTO tags);
    with `signing_key`, v1.0.0 signed and attested as `mlgitops promote` does it (the
    signature and provenance in the repository's DVC remote)."""
    proc.git("tag", "-a", f"{model}@v1.0.0", "-m", "Register v1.0.0", cwd=repo)
    if signing_key is not None:
        sign(repo, f"{model}@v1.0.0", signing_key)
    proc.git("tag", "-a", f"{model}#production#1", "-m", "Assign production", cwd=repo)
    return repo


def sign(repo: Path, tag: str, signing_key: Path) -> None:
    result = attest_release(repo, tag=tag, signing=KeySigning(signing_key), log=lambda _: None)
    assert result is not None, f"{tag} was not signed"
