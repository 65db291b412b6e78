from __future__ import annotations

import pytest

from mlgitops.cli import exit_code, main
from mlgitops.errors import EXIT_BAD_INPUT, EXIT_GATE_FAILED, EXIT_OK, Outcome


def test_unknown_flag_is_a_usage_error_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-flag"]) == EXIT_BAD_INPUT
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_BAD_INPUT
    assert "usage: mlgitops" in capsys.readouterr().err


def test_error_becomes_annotation_in_actions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["--bogus"]) == EXIT_BAD_INPUT
    out = capsys.readouterr().out
    assert out.startswith("::error::")
    assert "\n" not in out.strip()  # multi-line messages are %0A-encoded


def test_one_command_loads_only_its_own_imports() -> None:
    """`mlgitops history` must not pay for scipy (drift) or jsonschema (governance)."""
    import subprocess
    import sys

    code = (
        "import sys; from mlgitops import cli; cli.build_parser('history'); "
        "print(sorted(m for m in ('scipy', 'jsonschema', 'pandas', 'github') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_version_needs_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("mlgitops ")


def test_outcomes_map_to_0_and_1_and_nothing_else() -> None:
    assert exit_code(Outcome.DONE) == EXIT_OK
    assert exit_code(Outcome.GATE_FAILED) == EXIT_GATE_FAILED
    with pytest.raises(TypeError, match="returned 0, not an Outcome"):
        exit_code(0)  # a handler returning a bare exit code is a bug, and exits 2
