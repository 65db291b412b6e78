"""Count the subprocesses a command starts, from outside the code under test.

A `sitecustomize.py` on PYTHONPATH installs an audit hook (PEP 578) for the
`subprocess.Popen` event in every Python process of the run (mlgitops itself and any
`dvc` it starts), appending each command line to a log file as one JSON line. Nothing
of mlgitops is patched; the counts are what the operating system was asked to run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_SITECUSTOMIZE = '''
import json, os, sys

_LOG = os.environ.get("SUBPROCESS_LOG")


def _hook(event, args):
    if event == "subprocess.Popen" and _LOG:
        executable, argv = args[0], args[1]
        if isinstance(argv, (str, bytes)):
            argv = [argv]
        words = [os.fsdecode(word) for word in argv]
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"pid": os.getpid(), "argv": words}) + "\\n")


if _LOG:
    sys.addaudithook(_hook)
'''


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    commands: list[list[str]]

    def count(self, *prefix: str) -> int:
        """Commands whose program name (basename) and first words match `prefix`."""
        return sum(1 for argv in self.commands if _matches(argv, prefix))

    def summary(self) -> str:
        return "\n".join(" ".join(argv[:4]) for argv in self.commands)


def _matches(argv: list[str], prefix: tuple[str, ...]) -> bool:
    if not prefix:
        return True
    words = [os.path.basename(argv[0]), *argv[1:]] if argv else []
    return words[: len(prefix)] == list(prefix)


def run_counted(
    args: list[str], cwd: Path, scratch: Path, env: dict[str, str] | None = None
) -> Run:
    """Run `python -m mlgitops <args>` in `cwd`; its exit code, output and subprocesses."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    log = scratch / "subprocesses.jsonl"
    log.unlink(missing_ok=True)
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(scratch), full.get("PYTHONPATH", "")) if p
    )
    full["SUBPROCESS_LOG"] = str(log)
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )
    commands = []
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            commands.append(json.loads(line)["argv"])
    return Run(result.returncode, result.stdout + result.stderr, commands)
