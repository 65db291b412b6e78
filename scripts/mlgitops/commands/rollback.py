"""`mlgitops rollback --stage STAGE`: re-point a stage to the version it held before.

Writes GTO stage tags (never moves or deletes one): an unassignment of the current
version where `gto show` needs it, and a new assignment on the previous version.
"""

from __future__ import annotations

import argparse

from mlgitops.commands.promote import add_common_arguments, build_promoter, publish
from mlgitops.github.actions import ActionsSettings
from mlgitops.services.promotion import (
    read_models,
    read_release_settings,
    resolve_commit,
    select_models,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rollback",
        epilog=(
            "Exit codes: 0 the stage points to the previous version, 1 there is no previous\n"
            "version to go back to, 2 bad input or git/GitHub failed."
        ),
        help="re-point a stage to its previous model version",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stage", required=True, help="stage to roll back (e.g. production)")
    parser.add_argument("--model", help="model name; required when dvc.yaml declares several")
    parser.add_argument("--dry-run", action="store_true", help="show what would happen")
    add_common_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = ActionsSettings.from_environ()
    promoter = build_promoter(args, settings, api=False)
    commit = resolve_commit(promoter.repo)
    models = select_models(read_models(promoter.repo, commit), args.model)
    if len(models) > 1:
        from mlgitops.errors import UsageError

        names = ", ".join(m.name for m in models)
        raise UsageError(f"several models ({names}): pass --model to choose the one to roll back")
    release = read_release_settings(promoter.repo)
    result = promoter.rollback(models[0], args.stage, settings=release, dry_run=args.dry_run)
    publish(settings, [result])
    return 0
