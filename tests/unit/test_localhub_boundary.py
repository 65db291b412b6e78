"""The GitHub double (scripts/localhub) stays out of the production commands' imports."""

from __future__ import annotations

import subprocess
import sys

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


def test_production_commands_never_import_localhub() -> None:
    # One fresh interpreter for all of them (each costs seconds of imports): the union of
    # what they load holds no localhub module exactly when none of them loads one; the
    # command that does is named.
    code = (
        "import sys, importlib; from mlgitops import cli\n"
        f"for command in {PRODUCTION!r}:\n"
        "    cli.build_parser(command)\n"
        "    if any(m.split('.')[0] == 'localhub' for m in sys.modules): sys.exit(command)\n"
        f"[importlib.import_module(m) for m in {RUNTIME_MODULES!r}]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'localhub'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"localhub loaded by: {result.stderr}"
    assert result.stdout.strip() == "[]"
    assert len(PRODUCTION) >= 10  # the commands really were there to check


def test_the_demo_can_still_start_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import mlgitops.services.lifecycle, sys; "
         "print('localhub.server' in sys.modules)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
