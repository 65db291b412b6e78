"""`mlgitops init`: the first step after baking a repository from the template."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlgitops.errors import Outcome


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init",
        epilog=(
            "Exit codes: 0 the repository is ready, 2 a bad answer in pyproject.toml or\n"
            "data/dataset.yaml, or git/DVC failed."
        ),
        help="git init, dvc init, track the data, set the DVC remote, first commit",
        description=(
            "Make a freshly baked folder a working repository: git init (branch main), "
            "dvc init, dvc add data/raw/data.csv with its license and source as meta, the "
            "default DVC remote (local: a folder outside the repository, by default "
            "../<repository>-dvc-remote), and a commit. Safe to run again: it only does "
            "what is missing."
        ),
    )
    parser.add_argument("path", nargs="?", default=".", help="the baked repository (default: .)")
    parser.add_argument(
        "--remote-url",
        help="DVC remote URL or folder (default: from pyproject.toml [tool.mlgitops])",
    )
    parser.add_argument("--no-commit", action="store_true", help="stage nothing, commit nothing")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    """Initialise the repository at `args.path`; prints what was done."""
    from mlgitops.bootstrap import init_repository  # YAML, TOML: not for the other commands

    result = init_repository(Path(args.path), args.remote_url, commit=not args.no_commit)
    if result.actions:
        for action in result.actions:
            print(f"  {action}")
    else:
        print("  nothing to do: already initialised")
    print(f"Ready: {result.path} (DVC remote: {result.remote_url})")
    print("Next: dvc repro && dvc push")
    return Outcome.DONE
