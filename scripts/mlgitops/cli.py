"""The `mlgitops` command line: parse arguments, call a command, map errors to exit codes.

Each command lives in `mlgitops.commands.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `handler=<callable(args) -> Outcome>`.
Only the module of the command being run is imported: `mlgitops --help` lists the
commands from `COMMANDS` below, so start-up does not pay for DVC, YAML or JSON Schema.
This module is the ONE place where outcomes and exceptions become exit codes and messages:
an `Outcome` gives 0 or 1, an `MlgitopsError` its own code, any other exception 2 with one
line saying what failed (the traceback only with `--debug`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mlgitops import __version__
from mlgitops.errors import (
    EXIT_BAD_INPUT,
    EXIT_GATE_FAILED,
    EXIT_OK,
    MlgitopsError,
    Outcome,
    UsageError,
)

# Every command with the line `mlgitops --help` shows for it, in that order. Each module
# repeats its line in `register` (its own --help); tests/unit/test_cli.py keeps them equal.
COMMANDS = {
    "init": "git init, dvc init, track the data, set the DVC remote, first commit",
    "report": "compare metrics and params of the head with its base",
    "comment": "post or update the sticky comment of a pull request",
    "govern": "check the policy's rules (metrics, fairness, model card, data, change control)",
    "validate": "check policy, params and model card files without running the rules",
    "promote": "tag and release the next model version (or assign a stage)",
    "rollback": "re-point a stage to its previous model version",
    "deploy": "assign a stage: deployment gate, deploy/<stage>/ manifests, deploy PR",
    "history": "list model versions and stages from tags",
    "drift": "detect data drift against a promoted version",
    "verify": "verify a released model version: signature, provenance, rebuild",
    "predict": "batch predictions of a promoted version for a CSV file",
    "serve": "serve a promoted version with MLServer (V2 protocol)",
    "demo": "run bake -> train -> PR report + governance -> merge -> release, offline",
}
COMMAND_MODULES = tuple(COMMANDS)


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


def build_parser(only: str | None = None, *, others: bool = True) -> argparse.ArgumentParser:
    """The parser with every command in full, or with `only` that one in full and, with
    `others`, the rest by name and summary (`only=""`: all by name, for `--help`).

    Registering a command imports its module: `mlgitops report` does not pay for the
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
    for name, summary in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(f"mlgitops.commands.{name}").register(subparsers)
        elif others:
            subparsers.add_parser(name, help=summary)
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
    import traceback  # here and below: only a failing run pays for these imports
    from pathlib import Path

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


def _print_traceback() -> None:
    import traceback

    traceback.print_exc()


def _print_error(error: MlgitopsError, *, in_actions: bool) -> None:
    # Imported on failure only: a run that succeeds never needs the annotation writer.
    from mlgitops.github.actions import print_error

    print_error(error, in_actions=in_actions)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    command = _requested_command(argv)
    try:
        # The other commands' names are needed only to list them (--help, no or an unknown
        # command); each costs a parser, which `--version` and `<command>` do without.
        version_only = command is None and "--version" in argv and not {"-h", "--help"} & {*argv}
        parser = build_parser(command or "", others=command is None and not version_only)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        return exit_code(args.handler(args))
    except MlgitopsError as error:
        if debug:
            _print_traceback()
        _print_error(error, in_actions=in_actions)
        return error.exit_code
    except KeyboardInterrupt:
        print("mlgitops: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        # Not a verdict: a bug, or an answer nobody expected. Exit 2 so that a workflow
        # reports "could not be evaluated", never "a rule failed".
        if debug:
            _print_traceback()
        _print_error(unexpected_error(command, error), in_actions=in_actions)
        return EXIT_BAD_INPUT
