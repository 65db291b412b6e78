"""Fixtures of the promotion tests' small git + DVC repositories (test_promotion_support).

`pristine` is built once per test module (a bare origin, a clone with one committed
model, a local DVC remote; read-only); `sandbox` is a private copy of it per test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_promotion_support import Sandbox


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return Sandbox(tmp_path_factory.mktemp("pristine")).create()


@pytest.fixture
def sandbox(pristine: Sandbox, tmp_path: Path) -> Sandbox:
    return pristine.copy(tmp_path)
