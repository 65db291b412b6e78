"""`mlgitops history`: model versions and stages, read from the GTO tags in git.

Reads local tags with one `git for-each-ref` (pass --fetch to get origin's first), so
it stays fast with thousands of tags; the same tags `gto show` reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlgitops.defaults import DEFAULT_GIT_REMOTE
from mlgitops.errors import MlgitopsError, Outcome, UsageError

if TYPE_CHECKING:
    from mlgitops.io.workspace import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "history",
        epilog="Exit codes: 0 the versions were listed, 2 bad input or git failed.",
        help="list model versions and stages from tags",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model_name", nargs="?", metavar="MODEL", help="only this model")
    parser.add_argument("--model", help="only this model (same as MODEL)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--output", type=Path, help="write here instead of stdout")
    parser.add_argument("--fetch", action="store_true", help="fetch tags from the remote first")
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository (default: .)")
    parser.add_argument("--remote", default=DEFAULT_GIT_REMOTE, help="remote for --fetch")
    parser.set_defaults(handler=run)


def _declared_models(ws: Workspace) -> list[str]:
    try:
        head = ws.git.head()
        return [m.name for m in ws.models_to_release(head, None)] if head else []
    except MlgitopsError:
        return []


def run(args: argparse.Namespace) -> Outcome:
    if args.model_name and args.model and args.model_name != args.model:
        raise UsageError(f"two models given: {args.model_name!r} and --model {args.model!r}")
    model = args.model or args.model_name
    # Imported here, not above: `mlgitops history --help` and the other commands need none.
    from mlgitops.core.markdown.history import render_history_md as render_md
    from mlgitops.core.versioning import artifacts_in_tags, build_history, history_to_dict
    from mlgitops.io.workspace import Workspace

    ws = Workspace.open(args.repo)
    refs = ws.tags(fetch_from=args.remote if args.fetch else None)
    if model:
        models = [model]
    else:
        models = _declared_models(ws)
        models += [m for m in artifacts_in_tags(r.name for r in refs) if m not in models]
    histories = [build_history(model, refs) for model in models]
    if args.format == "json":
        text = json.dumps({"models": [history_to_dict(h) for h in histories]}, indent=2) + "\n"
    else:
        text = render_md(histories) if histories else "No models found.\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return Outcome.DONE
