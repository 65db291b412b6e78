"""The `mlgitops` command line: parse arguments, call a command, map errors to exit codes.

Each command lives in `mlgitops.commands.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `handler=<callable(args) -> Outcome>`.
This module is the ONE place where outcomes and exceptions become exit codes and messages:
an `Outcome` gives 0 or 1, an `MlgitopsError` its own code, any other exception 2 with one
line saying what failed (the traceback only with `--debug`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from mlgitops import __version__
from mlgitops.errors import (
    EXIT_BAD_INPUT,
    EXIT_GATE_FAILED,
    EXIT_OK,
    MlgitopsError,
    Outcome,
    UsageError,
)
from mlgitops.github.actions import print_error

# Order here is the order `mlgitops --help` lists them.
COMMAND_MODULES = (
    "init",
    "report",
    "comment",
    "govern",
    "validate",
    "promote",
    "rollback",
    "deploy",
    "history",
    "drift",
    "verify",
    "predict",
    "serve",
    "demo",
)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse exits with 2 on its own; route it through UsageError instead."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"run '{self.prog} --help'")


def _requested_command(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMAND_MODULES else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with `only` that one.

    Registering one command imports one module: `mlgitops report` does not pay for the
    imports of drift (scipy) or governance (jsonschema), and starts faster.
    """
    parser = _ArgumentParser(
        prog="mlgitops",
        description="GitOps bots for ML repositories: report, govern, promote.",
    )
    parser.add_argument("--version", action="version", version=f"mlgitops {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_ArgumentParser
    )
    names = COMMAND_MODULES if only is None else (only,) if only else ()
    for name in names:
        module = importlib.import_module(f"mlgitops.commands.{name}")
        module.register(subparsers)
    return parser


_EXIT_CODES = {Outcome.DONE: EXIT_OK, Outcome.GATE_FAILED: EXIT_GATE_FAILED}


def exit_code(outcome: object) -> int:
    """The exit code of a handler's outcome; anything but an `Outcome` is a bug."""
    if not isinstance(outcome, Outcome):
        raise TypeError(f"the command returned {outcome!r}, not an Outcome")
    return _EXIT_CODES[outcome]


def _where(error: BaseException) -> str:
    """`file:line` of the innermost frame of `error`, and of the last frame in mlgitops
    when that is a different one: enough to say what failed without a traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""

    def ours(frame: traceback.FrameSummary) -> bool:
        return "mlgitops" in Path(frame.filename).parts

    def short(frame: traceback.FrameSummary) -> str:
        parts = Path(frame.filename).parts
        if ours(frame):
            parts = parts[len(parts) - 1 - parts[::-1].index("mlgitops") :]
        else:
            parts = parts[-2:]
        return f"{'/'.join(parts)}:{frame.lineno}"

    own = [f for f in frames if ours(f)]
    places = [short(frames[-1])]
    if own and own[-1] is not frames[-1]:
        places.append(f"called from {short(own[-1])}")
    return f" (at {', '.join(places)})"


def unexpected_error(command: str | None, error: Exception) -> MlgitopsError:
    """One line for an exception outside the hierarchy: which command, what, where."""
    what = f"mlgitops {command}" if command else "mlgitops"
    detail = " ".join(str(error).split()) or "(no message)"
    return MlgitopsError(
        f"{what} failed unexpectedly: {type(error).__name__}: {detail}{_where(error)};"
        " re-run with --debug for the traceback"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    command = _requested_command(argv)
    try:
        version_only = command is None and "--version" in argv and "--help" not in argv
        parser = build_parser(command) if not version_only else build_parser(only="")
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        return exit_code(args.handler(args))
    except MlgitopsError as error:
        if debug:
            traceback.print_exc()
        print_error(error, in_actions=in_actions)
        return error.exit_code
    except KeyboardInterrupt:
        print("mlgitops: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        # Not a verdict: a bug, or an answer nobody expected. Exit 2 so that a workflow
        # reports "could not be evaluated", never "a rule failed".
        if debug:
            traceback.print_exc()
        print_error(unexpected_error(command, error), in_actions=in_actions)
        return EXIT_BAD_INPUT
