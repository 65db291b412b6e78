"""The GitHub double (scripts/localhub) stays out of the production commands' imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlgitops.cli import COMMAND_MODULES

PRODUCTION = [name for name in COMMAND_MODULES if name != "demo"]
RUNTIME_MODULES = (
    "mlgitops.services.report",
    "mlgitops.services.governance",
    "mlgitops.services.comment",
    "mlgitops.services.drift",
    "mlgitops.services.promotion.promoter",
    "mlgitops.github.client",
)


@pytest.mark.parametrize("command", PRODUCTION)
def test_production_command_never_imports_localhub(command: str) -> None:
    code = (
        f"import sys, importlib; from mlgitops import cli; cli.build_parser({command!r}); "
        f"[importlib.import_module(m) for m in {RUNTIME_MODULES!r}]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'localhub'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_demo_can_still_start_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import mlgitops.services.lifecycle, sys; "
         "print('localhub.server' in sys.modules)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
