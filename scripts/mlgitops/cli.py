"""The `mlgitops` command line: parse arguments, call a command, map errors to exit codes.

Each command lives in `mlgitops.commands.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `handler=<callable(args) -> int>`.
This module is the ONE place where exceptions become exit codes and messages.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from mlgitops import __version__
from mlgitops.errors import EXIT_BAD_INPUT, MlgitopsError, UsageError
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
    "history",
    "drift",
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        command = _requested_command(argv)
        version_only = command is None and "--version" in argv and "--help" not in argv
        parser = build_parser(command) if not version_only else build_parser(only="")
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        return int(args.handler(args))
    except MlgitopsError as error:
        if debug:
            traceback.print_exc()
        print_error(error, in_actions=os.environ.get("GITHUB_ACTIONS") == "true")
        return error.exit_code
    except KeyboardInterrupt:
        print("mlgitops: interrupted", file=sys.stderr)
        return 130
