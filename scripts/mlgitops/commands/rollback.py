"""`mlgitops rollback --stage STAGE`: re-point a stage to the version it held before.

Writes GTO stage tags (never moves or deletes one): an unassignment of the current
version where `gto show` needs it, and a new assignment on the previous version.
"""

from __future__ import annotations

import argparse

from mlgitops.commands.promote import add_common_arguments, build_promoter, head_commit, publish
from mlgitops.errors import Outcome, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rollback",
        epilog=(
            "Exit codes: 0 the stage was re-pointed (or would be, with --dry-run), 2 nothing to\n"
            "roll back to (no version in the stage, or only one ever), an unknown stage, bad\n"
            "input, or git/GitHub failed."
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


def run(args: argparse.Namespace) -> Outcome:
    """Exit 0 when the stage was re-pointed (or would be, with --dry-run); 2 when there is
    nothing to roll back to or the request is wrong."""
    from mlgitops.github.actions import ActionsSettings  # not needed for --help

    settings = ActionsSettings.from_environ()
    promoter = build_promoter(args, settings, api=False)
    models = promoter.ws.models_to_release(head_commit(promoter.ws), args.model)
    if len(models) > 1:
        names = ", ".join(m.name for m in models)
        raise UsageError(f"several models ({names}): pass --model to choose the one to roll back")
    result = promoter.rollback(models[0], args.stage, dry_run=args.dry_run)
    publish(settings, [result])
    return Outcome.DONE
