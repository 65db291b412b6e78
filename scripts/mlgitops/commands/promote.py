"""`mlgitops promote`: verify the data, tag the next model version, release it.

Run on the default branch after a merge. Versions come from the merged PR's
`release:major|minor|patch|skip` label, else from the policy's `release.default_bump`;
`--stage STAGE [--version vX.Y.Z]` assigns a registered version to a stage instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlgitops.defaults import DEFAULT_GIT_REMOTE
from mlgitops.errors import InputError, Outcome, UsageError

# The services, the workspace (YAML, DVC) and the Actions writer are imported where they
# are used, so that `mlgitops promote --help`, and `rollback` and `deploy` which build on
# this parser, start without them.
if TYPE_CHECKING:
    from mlgitops.attest.signing import Signing
    from mlgitops.github.actions import ActionsSettings
    from mlgitops.io.workspace import Workspace
    from mlgitops.services.promotion.host import ReleaseHost
    from mlgitops.services.promotion.promoter import Promoter, PromotionResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "promote",
        epilog=(
            "Exit codes: 0 promoted (or already promoted), 1 the data is not verified (a\n"
            "corrupted local cache, objects missing or corrupted in the DVC remote: see\n"
            "--repair-remote), 2 refused or failed (a stage out of policy order, a commit older\n"
            "than or unrelated to the latest version's, a tag of that name elsewhere, bad\n"
            "input, or git/DVC/GitHub failing)."
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
    parser.add_argument(
        "--repair-remote",
        action="store_true",
        help="re-upload the objects the DVC remote is missing or holds corrupted, from the "
        "local cache (each verified first), then verify the remote and tag",
    )
    parser.add_argument(
        "--signing-key",
        metavar="PATH",
        help="sign each new version with this EC private key (PEM, unencrypted; env "
        "MLGITOPS_SIGNING_KEY); in GitHub Actions with id-token: write, keyless Sigstore",
    )
    parser.set_defaults(handler=run)


def version_argument(text: str) -> str:
    """argparse type: a GTO version such as v1.2.0."""
    from mlgitops.core.tags import Version  # on parsing, so that --help does without it

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
    """The promoter over ONE workspace for this command."""
    from mlgitops.io.workspace import Workspace
    from mlgitops.services.promotion.promoter import DataPolicy, Promoter
    from mlgitops.services.promotion.release import Repository
    from mlgitops.services.promotion.settings import read_policy, release_settings

    ws = Workspace.open(args.repo)
    if getattr(args, "repair_remote", False) and getattr(args, "no_push", False):
        raise UsageError("--repair-remote uploads to the remote; it cannot go with --no-push")
    policy = read_policy(ws.root)
    return Promoter(
        ws=ws,
        settings=release_settings(policy),
        policy=policy,
        host=connect_host(settings) if api else None,
        git_remote=args.remote,
        data_policy=DataPolicy(
            remote=getattr(args, "dvc_remote", None),
            push=not getattr(args, "no_push", False),
            repair=getattr(args, "repair_remote", False),
        ),
        repository=Repository(settings.repository, settings.server_url),
    )


def head_commit(ws: Workspace) -> str:
    commit = ws.git.head()
    if commit is None:
        raise InputError("the repository has no commit yet: nothing to promote")
    return commit


def publish(settings: ActionsSettings, results: list[PromotionResult]) -> None:
    """Step outputs and a job summary line per model."""
    from mlgitops.github.actions import append_step_summary, set_output

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


def run(args: argparse.Namespace) -> Outcome:
    from mlgitops.attest.signing import choose_signing, unsigned_reason
    from mlgitops.github.actions import ActionsSettings, annotate

    settings = ActionsSettings.from_environ()
    # A missing key file is an error before anything is tagged, not after.
    signing = choose_signing(args.signing_key, os.environ) if not args.dry_run else None
    promoter = build_promoter(args, settings, api=True)
    commit = head_commit(promoter.ws)
    models = promoter.ws.models_to_release(commit, args.model)
    results: list[PromotionResult] = []
    for model in models:
        if args.stage and not args.model_version:
            results += promoter.release_into_stage(
                model, args.stage, commit=commit, bump=args.bump, dry_run=args.dry_run
            )
        elif args.stage:
            results.append(
                promoter.assign_stage(
                    model,
                    args.stage,
                    version=args.model_version,
                    commit=commit,
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
                    dry_run=args.dry_run,
                )
            )
    if not args.dry_run:
        attest_versions(signing, promoter, results)
        if signing is None and registered(results) and settings.in_actions:
            # Documented policy: a version with nothing to sign it is released unsigned,
            # and the run says so where a reviewer looks.
            annotate(
                "warning",
                f"released unsigned: {unsigned_reason(os.environ)}",
                title="Unsigned release",
            )
    publish(settings, results)
    return Outcome.DONE


def attest_versions(
    signing: Signing | None, promoter: Promoter, results: list[PromotionResult]
) -> None:
    """Sign and attest each version this run registered (after its tag and release)."""
    from mlgitops.attest.service import attest_release

    for result in registered(results):
        assert result.tag is not None
        attest_release(
            promoter.ws.root,
            tag=result.tag,
            signing=signing,
            dvc_remote=promoter.data_policy.remote,
            host=promoter.host,  # type: ignore[arg-type]
            log=promoter.log,
        )


def registered(results: list[PromotionResult]) -> list[PromotionResult]:
    """The versions this run registered or found registered: the ones to attest."""
    return [r for r in results if r.tag and r.status in ("promoted", "already-promoted")]
