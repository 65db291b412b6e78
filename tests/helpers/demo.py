"""One run of `mlgitops demo` (the README's main command) per test run, for every reader.

The demo takes minutes; tests/integration/test_demo.py checks what it does and
tests/render/test_bodies.py renders what it posted. Both read this one run.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.shared import build_once


@dataclass(frozen=True)
class DemoRun:
    workdir: Path  # the demo's --output folder: origin.git, github-state.json, logs...
    returncode: int
    stdout: str
    stderr: str


def demo_run() -> DemoRun:
    """The demo's output folder and what it printed (read-only)."""

    def build(folder: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "mlgitops", "demo", "--output", str(folder / "demo")],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        (folder / "returncode").write_text(str(result.returncode), encoding="utf-8")
        (folder / "stdout").write_text(result.stdout, encoding="utf-8")
        (folder / "stderr").write_text(result.stderr, encoding="utf-8")

    folder = build_once("demo", build)
    return DemoRun(
        workdir=folder / "demo",
        returncode=int((folder / "returncode").read_text(encoding="utf-8")),
        stdout=(folder / "stdout").read_text(encoding="utf-8"),
        stderr=(folder / "stderr").read_text(encoding="utf-8"),
    )
