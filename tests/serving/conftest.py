"""A baked, trained, pushed repository with registered versions and a production stage.

`promoted_repo` is shared by the serving tests (read-only): `<model>@v1.0.0` on the
trained commit and `production` assigned to it, annotated GTO tags written by git
itself. A test that changes the repository takes `promoted_copy` (a private copy).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.baking import RUNNABLE, trained_copy, write_small_csv
from helpers.promoted import promote

from mlgitops import proc


@pytest.fixture(scope="session")
def promoted_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return promote(trained_copy(tmp_path_factory.mktemp("promoted")))


@pytest.fixture
def promoted_copy(tmp_path: Path) -> Path:
    return promote(trained_copy(tmp_path))


@pytest.fixture(scope="session")
def promoted_csv_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The `csv` answers (numeric and text features, a yes/no target), v1.0.0 registered."""
    base = tmp_path_factory.mktemp("promoted-csv")
    context = dict(RUNNABLE["csv"], csv_path=str(write_small_csv(base / "in" / "customers.csv")))
    repo = trained_copy(base, **context)
    model = "churn-model"
    proc.git("tag", "-a", f"{model}@v1.0.0", "-m", "Register v1.0.0", cwd=repo)
    return repo, model
