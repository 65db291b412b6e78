"""One error hierarchy for every command; `cli.main` turns it into exit codes.

Exit codes are part of the public interface:
    0  every check passed / the work was done
    1  a gate failed: a policy rule, a regression, unverified data
    2  the command could not reach a verdict: bad input or usage, a tool
       (git, dvc, the GitHub API) failed in a way the user has to fix, or anything
       unexpected happened (a crash is never reported as a failed gate)
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2


class Outcome(Enum):
    """What a command handler returns; `cli.main` alone turns it into an exit code.

    A handler that cannot reach a verdict raises an `MlgitopsError` instead.
    """

    DONE = "done"  # every check passed, or the work was done
    GATE_FAILED = "gate failed"  # the verdict is no: a rule failed, drift was found


class Location(NamedTuple):
    """Where a problem is: a file, and optionally a line and a key inside it.

    A NamedTuple, not a dataclass: every command imports this module, and `dataclasses`
    (with `inspect` behind it) would add a tenth of the CLI's start-up to `--help`.
    """

    file: str
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
        if self.key:
            text += f" (key '{self.key}')"
        return text


class MlgitopsError(Exception):
    """Base class. `hint` tells the user what to do next."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self, message: str, *, location: Location | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(MlgitopsError):
    """The command line itself is wrong (unknown flag, missing argument)."""


class InputError(MlgitopsError):
    """A file or value the user gave is invalid: names the file, line or key."""


class ToolError(MlgitopsError):
    """git, dvc or the GitHub API failed; the message carries what it said."""


class GateFailed(MlgitopsError):
    """A gate said no: a policy rule failed, a metric regressed, data is unverified."""

    exit_code = EXIT_GATE_FAILED
