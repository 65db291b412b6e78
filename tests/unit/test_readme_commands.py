"""The README's command table agrees with the CLI: same commands, same exit codes.

Each command's `--help` ends with an "Exit codes:" line; the table's last column must
name exactly those codes, and every command of `mlgitops --help` must be in the table.
The cruft command the README gives is the one that works (tests/template/test_cruft.py
runs it): the template is a folder of the repository, so `--directory template`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _help(*command: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", *command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _table() -> dict[str, set[int]]:
    """command -> exit codes, from the rows of the README's `mlgitops` command table."""
    rows = re.findall(r"^\| `mlgitops (\w+)` \|[^|\n]*\|([^|\n]*)\|$", README, flags=re.M)
    return {name: {int(code) for code in re.findall(r"\b\d\b", codes)} for name, codes in rows}


def _cli_commands() -> set[str]:
    listing = _help().split("positional arguments:")[1].split("options:")[0]
    return set(re.findall(r"^    (\w+)\s", listing, flags=re.M))


def _exit_codes(help_text: str) -> set[int]:
    match = re.search(r"Exit codes: (.*?)(?:\n\s*\n|\Z)", help_text, flags=re.S)
    assert match, "no 'Exit codes:' paragraph"
    return {int(code) for code in re.findall(r"(?:^|, )(\d) ", match.group(1).replace("\n", " "))}


def test_the_table_lists_every_command_of_the_cli() -> None:
    assert set(_table()) == _cli_commands()


@pytest.mark.parametrize("command", sorted(_table()))
def test_the_tables_exit_codes_are_the_commands_own(command: str) -> None:
    assert _table()[command] == _exit_codes(_help(command)), command


def test_the_cruft_command_names_the_template_folder() -> None:
    commands = re.findall(r"^cruft create .*$", README, flags=re.M)
    assert commands, "the README gives no cruft command"
    assert all(" --directory template " in command for command in commands)
    assert "cruft create ..." not in README
    quickstart = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    assert "cruft create --directory template https://" in quickstart
    assert "see step 7" not in quickstart
    step = re.search(r"^## (\d+)\. Keep the repository up to date", quickstart, flags=re.M)
    assert step and f"(step {step.group(1)})" in quickstart
