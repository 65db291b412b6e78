"""`mlgitops history`: placeholder until its owner lands it."""

from __future__ import annotations

import argparse

from mlgitops.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("history", help="(not available yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise UsageError("'mlgitops history' is not available yet")
