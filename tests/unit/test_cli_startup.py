"""Start-up stays cheap: `mlgitops --help`, `--version` and `<command> --help` load no
heavy or I/O library, and no service.

Checked in a fresh interpreter per case (this test process has long imported yaml, DVC
and PyGithub through other tests), by what `sys.modules` holds afterwards: behaviour,
not timing. The timings are measured by scripts/bench/report.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlgitops.cli import COMMANDS, build_parser

# Libraries a run may need but printing help never does (each costs from 5 ms to a second).
HEAVY = (
    "yaml", "jsonschema", "dvc", "github", "pandas", "numpy", "scipy", "sklearn", "scmrepo",
    "dulwich", "pygit2", "networkx", "jinja2", "mlserver", "model_signing", "cryptography",
    "uuid", "platform", "localhub",
)  # fmt: skip
# Our own layers below the commands: importing one means a command module imports eagerly.
LAYERS = ("mlgitops.services", "mlgitops.io", "mlgitops.github.client", "mlgitops.serving")

_PROBE = """
import json, sys
argv = json.loads(sys.argv[1])
from mlgitops import cli
if argv:
    try:
        cli.main(argv)
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after(argv: list[str], prelude: str = "") -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", prelude + _PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        check=True,
    )
    modules: list[str] = json.loads(result.stdout.splitlines()[-1])
    return modules


def offending(modules: list[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        if name.split(".")[0] in HEAVY
        or any(name == layer or name.startswith(f"{layer}.") for layer in LAYERS)
    )


def test_importing_the_cli_loads_no_heavy_module_and_no_command() -> None:
    modules = loaded_after([])
    assert offending(modules) == []
    assert [m for m in modules if m.startswith("mlgitops.commands.")] == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []], ids=" ".join)
def test_top_level_help_and_version_load_no_command(argv: list[str]) -> None:
    modules = loaded_after(argv)
    assert offending(modules) == []
    assert [m for m in modules if m.startswith("mlgitops.commands.")] == []


@pytest.mark.parametrize("command", list(COMMANDS))
def test_command_help_loads_no_heavy_module(command: str) -> None:
    modules = loaded_after([command, "--help"])
    assert f"mlgitops.commands.{command}" in modules  # its parser was really built
    assert offending(modules) == []


def test_probe_sees_a_heavy_import() -> None:
    """The same probe reports what a command's module imports eagerly: the check can fail."""
    modules = loaded_after(["report", "--help"], prelude="import mlgitops.services.report\n")
    assert {"yaml", "mlgitops.io.workspace"} <= set(offending(modules))


def test_help_lists_every_command_with_its_own_summary() -> None:
    """`mlgitops --help` (no command imported) says what the full parser says."""
    assert build_parser("").format_help() == build_parser().format_help()
