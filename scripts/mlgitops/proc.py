"""Running git and dvc: one place that turns a failed subprocess into a ToolError."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlgitops.errors import ToolError

# DVC must never phone home from anything we run.
_QUIET_ENV = {"DVC_NO_ANALYTICS": "1", "ITERATIVE_DO_NOT_TRACK": "1"}


def run(
    command: Sequence[str],
    cwd: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input_text: str | None = None,
    hint: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; raise ToolError naming it when it fails."""
    full_env = {**os.environ, **_QUIET_ENV, **(env or {})}
    # The interpreter's own bin folder comes first, so `dvc`, and the `python` that DVC
    # stages call, are those of the environment mlgitops runs in, even when it was
    # started as `.venv/bin/mlgitops` without activating the environment.
    interpreter_bin = os.path.dirname(sys.executable)
    search_path = full_env.get("PATH", "")
    if not search_path.startswith(interpreter_bin + os.pathsep):
        full_env["PATH"] = interpreter_bin + os.pathsep + search_path
    try:
        result = subprocess.run(
            list(command),
            cwd=cwd,
            env=full_env,
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as error:
        raise ToolError(f"'{command[0]}' is not installed or not on PATH", hint=hint) from error
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise ToolError(
            f"'{' '.join(command)}' failed with exit code {result.returncode}: {detail}",
            hint=hint,
        )
    return result


def git(*args: str, cwd: Path | str, check: bool = True) -> str:
    """`git <args>` in `cwd`; returns stdout without the trailing newline."""
    return run(["git", *args], cwd, check=check).stdout.rstrip("\n")


def dvc(*args: str, cwd: Path | str, check: bool = True) -> str:
    """`dvc <args>` in `cwd`; returns stdout."""
    return run(["dvc", *args], cwd, check=check).stdout
