"""`mlgitops promote`: verify the data, tag the next model version, release it.

Run on the default branch after a merge. Versions come from the merged PR's
`release:major|minor|patch|skip` label, else from the policy's `release.default_bump`;
`--stage STAGE [--version vX.Y.Z]` assigns a registered version to a stage instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlgitops.core.tags import Version
from mlgitops.github.actions import ActionsSettings, append_step_summary, set_output
from mlgitops.services.promotion import (
    DEFAULT_GIT_REMOTE,
    Promoter,
    PromotionResult,
    ReleaseHost,
    read_models,
    read_release_settings,
    repo_root,
    resolve_commit,
    select_models,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "promote",
        epilog=(
            "Exit codes: 0 promoted (or already promoted), 1 the data is not in the DVC remote or\n"
            "the stage order forbids the step, 2 bad input or git/DVC/GitHub failed."
        ),
        help="tag and release the next model version (or assign a stage)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", help="model (dvc.yaml artifact) name; default: every model")
    parser.add_argument(
        "--bump",
        choices=("auto", "major", "minor", "patch"),
        default="auto",
        help="version bump; auto: the merged PR's release:* label, else the policy default",
    )
    parser.add_argument(
        "--stage",
        help="assign a version to this stage (from release.stages); without --version, "
        "HEAD is promoted first if it is not a version yet",
    )
    parser.add_argument(
        "--version",
        dest="model_version",
        metavar="vX.Y.Z",
        type=version_argument,
        help="with --stage: the registered version to assign; "
        "without: register HEAD as exactly this version",
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would happen")
    add_common_arguments(parser)
    parser.add_argument(
        "--dvc-remote", help="DVC remote to push to and verify (default: core.remote)"
    )
    parser.add_argument(
        "--no-push",
        action="store_true",
        help="do not 'dvc push' first (the data must already be on the remote; still verified)",
    )
    parser.set_defaults(handler=run)


def version_argument(text: str) -> str:
    """argparse type: a GTO version such as v1.2.0."""
    try:
        return str(Version.parse(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository (default: .)")
    parser.add_argument(
        "--remote", default=DEFAULT_GIT_REMOTE, help="git remote holding the tags (default: origin)"
    )


def connect_host(settings: ActionsSettings) -> ReleaseHost | None:
    """The GitHub client when GITHUB_REPOSITORY and GITHUB_TOKEN are set, else None."""
    if not (settings.repository and settings.token):
        if settings.repository or settings.token:
            missing = "GITHUB_TOKEN" if settings.repository else "GITHUB_REPOSITORY"
            print(f"mlgitops: warning: {missing} is not set: no GitHub API", file=sys.stderr)
        return None
    from mlgitops.github.client import connect

    return connect(settings)


def build_promoter(args: argparse.Namespace, settings: ActionsSettings, *, api: bool) -> Promoter:
    root = repo_root(args.repo)
    return Promoter(
        repo=root,
        host=connect_host(settings) if api else None,
        git_remote=args.remote,
        dvc_remote=getattr(args, "dvc_remote", None),
        repository=settings.repository,
        server_url=settings.server_url,
        push_data=not getattr(args, "no_push", False),
    )


def publish(settings: ActionsSettings, results: list[PromotionResult]) -> None:
    """Step outputs and a job summary line per model."""
    if not results:
        return
    set_output(settings, "status", ",".join(sorted({r.status for r in results})))
    set_output(settings, "tags", " ".join(t for r in results for t in r.tags))
    if len(results) == 1:
        set_output(settings, "version", results[0].version or "")
        set_output(settings, "tag", results[0].tag or "")
        set_output(settings, "release-url", results[0].release_url or "")
    lines = ["### Model promotion", ""]
    for result in results:
        link = f" ([release]({result.release_url}))" if result.release_url else ""
        lines.append(f"- **{result.model}**: {result.status}: {result.message}{link}")
    append_step_summary(settings, "\n".join(lines))


def run(args: argparse.Namespace) -> int:
    settings = ActionsSettings.from_environ()
    promoter = build_promoter(args, settings, api=True)
    commit = resolve_commit(promoter.repo)
    release = read_release_settings(promoter.repo)
    models = select_models(read_models(promoter.repo, commit), args.model)
    results = []
    verified: list[bool] = []
    for model in models:
        if args.stage and not args.model_version:
            results += promoter.release_into_stage(
                model,
                args.stage,
                commit=commit,
                bump=args.bump,
                settings=release,
                dry_run=args.dry_run,
                verified=verified,
            )
        elif args.stage:
            results.append(
                promoter.assign_stage(
                    model,
                    args.stage,
                    version=args.model_version,
                    commit=commit,
                    settings=release,
                    dry_run=args.dry_run,
                )
            )
        else:
            results.append(
                promoter.promote(
                    model,
                    commit=commit,
                    bump=args.bump,
                    version=args.model_version,
                    settings=release,
                    dry_run=args.dry_run,
                    verified=verified,
                )
            )
    publish(settings, results)
    return 0
