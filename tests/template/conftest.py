"""Session-wide baked repositories, shared by every template test (baking costs seconds).

`baked_default_repo` is the default answers (breast_cancer classification, local remote),
initialised, reproduced, committed and pushed: treat it as read-only; for a repository to
change, call `helpers.baking.trained_copy(tmp_path)` (a private copy in well under a second).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.baking import RUNNABLE, trained_copy, write_small_csv


def _context(name: str, base: Path) -> dict[str, str]:
    context = dict(RUNNABLE[name])
    if name == "csv":
        context["csv_path"] = str(write_small_csv(base / "input" / "customers.csv"))
    return context


@pytest.fixture(scope="session")
def runnable_repo(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`runnable_repo(name)`: a baked, initialised, reproduced, pushed repo for RUNNABLE[name]."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            base = tmp_path_factory.mktemp(f"runnable-{name}")
            cache[name] = trained_copy(base, **_context(name, base))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def baked_default_repo(runnable_repo: Callable[[str], Path]) -> Path:
    """Default answers after `mlgitops init`, `dvc repro`, a commit, `dvc push` (read-only)."""
    return runnable_repo("default")
