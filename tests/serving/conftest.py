"""A baked, trained, pushed repository with registered, signed versions and a stage.

`promoted_repo` is shared by the serving tests (read-only): `<model>@v1.0.0` on the
trained commit, signed with the session's release key (`release_key`: its public half
verifies it), and `production` assigned to it, annotated GTO tags written by git itself.
A test that changes the repository or its DVC remote takes `promoted_copy` (a private
copy). `stranger_key` is the public key of a key pair that signed nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.baking import RUNNABLE, trained_copy, write_small_csv
from helpers.promoted import promote, sign
from helpers.signing_keys import make_key_pair

from mlgitops import proc


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(private, public) of the release key that signs the promoted versions."""
    return make_key_pair(tmp_path_factory.mktemp("keys"), "release")


@pytest.fixture(scope="session")
def release_key(signing_keys: tuple[Path, Path]) -> Path:
    return signing_keys[1]


@pytest.fixture(scope="session")
def stranger_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_key_pair(tmp_path_factory.mktemp("stranger"), "stranger")[1]


@pytest.fixture(scope="session")
def promoted_repo(
    tmp_path_factory: pytest.TempPathFactory, signing_keys: tuple[Path, Path]
) -> Path:
    repo = trained_copy(tmp_path_factory.mktemp("promoted"))
    return promote(repo, signing_key=signing_keys[0])


@pytest.fixture
def promoted_copy(tmp_path: Path, signing_keys: tuple[Path, Path]) -> Path:
    return promote(trained_copy(tmp_path), signing_key=signing_keys[0])


@pytest.fixture(scope="session")
def promoted_csv_repo(
    tmp_path_factory: pytest.TempPathFactory, signing_keys: tuple[Path, Path]
) -> tuple[Path, str]:
    """The `csv` answers (numeric and text features, a yes/no target), v1.0.0 registered
    and signed."""
    base = tmp_path_factory.mktemp("promoted-csv")
    context = dict(RUNNABLE["csv"], csv_path=str(write_small_csv(base / "in" / "customers.csv")))
    repo = trained_copy(base, **context)
    model = "churn-model"
    proc.git("tag", "-a", f"{model}@v1.0.0", "-m", "Register v1.0.0", cwd=repo)
    sign(repo, f"{model}@v1.0.0", signing_keys[0])
    return repo, model
