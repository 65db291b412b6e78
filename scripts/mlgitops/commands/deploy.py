"""`mlgitops deploy`: assign a stage the GitOps way, behind the deployment gate.

    mlgitops deploy --model M --stage production --version v1.3.0   # gate, tag, deploy PR
    mlgitops deploy --model M --stage production --traffic 100      # finish a canary
    mlgitops deploy --model M --stage production --rollback         # back to the previous
    mlgitops deploy --model M --stage staging                       # re-render what it holds
    mlgitops deploy --check                                         # validate deploy/ offline

Renders `deploy/<stage>/` (a KServe InferenceService whose storageUri is the version's
published copy in the DVC remote) and `deploy/argocd/`, `deploy/flux/`; validates them
against the vendored CRD schemas; commits them on `mlgitops/deploy/<model>-<stage>` and
opens the deploy PR. Before a stage of `deploy.gate_stages` is assigned, the version is
served locally with MLServer and must pass a smoke test and a bounded load test within
`deploy.latency_p99_ms`: otherwise exit 1 and nothing is assigned. Before it is served,
its signature and provenance must verify (`--key` or `--identity`, as `mlgitops verify`):
a version that does not verify is refused, unless `--allow-unverified` (logged). No
cluster is contacted: merging the PR is what Argo CD or Flux applies.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlgitops.commands.promote import add_common_arguments, version_argument
from mlgitops.commands.verify import add_verification_arguments, verification_from
from mlgitops.errors import GateFailed, InputError, Location, Outcome, UsageError

if TYPE_CHECKING:
    from mlgitops.github.actions import ActionsSettings
    from mlgitops.services.deploy import DeployHost


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="assign a stage: deployment gate, deploy/<stage>/ manifests, deploy PR",
        epilog=(
            "Exit codes: 0 deployed (or re-rendered, or --check found every manifest valid),\n"
            "1 the gate failed (smoke test, latency objective, a version that does not verify,\n"
            "an invalid manifest), 2 bad input, nothing to verify with, or a tool failing."
        ),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", help="model name; required when dvc.yaml declares several")
    parser.add_argument("--stage", help="stage to deploy (from release.stages)")
    parser.add_argument(
        "--auto", action="store_true",
        help="after a promotion: the latest version to the policy's deploy.auto_stage "
        "(nothing when it is not set)",
    )  # fmt: skip
    parser.add_argument(
        "--version", dest="model_version", metavar="vX.Y.Z", type=version_argument,
        help="the registered version to assign to the stage (default: the one it holds)",
    )  # fmt: skip
    parser.add_argument(
        "--rollback", action="store_true", help="re-point the stage to its previous version"
    )
    parser.add_argument(
        "--traffic", type=_percent, metavar="PERCENT",
        help="share of traffic of the stage's current version (100 ends a canary)",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="render and show; write nothing")
    parser.add_argument(
        "--check", action="store_true",
        help="only validate the manifests under deploy/ against the vendored CRD schemas",
    )  # fmt: skip
    parser.add_argument("--dvc-remote", help="DVC remote holding the models (default: core.remote)")
    add_common_arguments(parser)
    add_verification_arguments(parser, gate=True)
    parser.set_defaults(handler=run)


def _percent(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole percentage: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("a percentage from 1 to 100")
    return value


def check(root: Path) -> Outcome:
    """Validate every YAML document under deploy/; exit 1 on a violation."""
    import yaml

    from mlgitops.deploy.crds import manifest_problems

    folder = root / "deploy"
    problems: list[str] = []
    files = sorted(folder.rglob("*.yaml")) if folder.is_dir() else []
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except yaml.YAMLError as error:
            raise InputError(f"not valid YAML: {error}", location=Location(name)) from None
        for document in documents:
            problems += [f"{name}: {problem}" for problem in manifest_problems(document)]
        print(f"{'ok' if not problems else 'checked'}: {name}")
    if not files:
        raise InputError("no manifests under deploy/", location=Location("deploy"))
    if problems:
        raise GateFailed(f"{len(problems)} problem(s): " + "; ".join(problems))
    return Outcome.DONE


def run(args: argparse.Namespace) -> Outcome:
    """Gate, publish, render, tag and open the deploy PR (or only check deploy/)."""
    from mlgitops.commands.promote import build_promoter
    from mlgitops.github.actions import ActionsSettings, append_step_summary, set_output
    from mlgitops.io.git import Git
    from mlgitops.services.deploy import (
        Deployer,
        DeployRequest,
        VerificationGate,
        available_server,
        read_deploy_settings,
    )

    if args.check:
        return check(Git.find(args.repo).root)
    if args.auto and (args.stage or args.model_version or args.rollback or args.traffic):
        raise UsageError("--auto takes its stage from the policy and the latest version")
    if not args.stage and not args.auto:
        raise UsageError("--stage is required (or --auto, or --check)")
    # A key file that is not there is an error before anything is read or served.
    verification = verification_from(args, required=False)
    settings = ActionsSettings.from_environ()
    promoter = build_promoter(args, settings, api=False)
    run_url = (
        f"{settings.server_url}/{settings.repository}/actions/runs/{settings.run_id}"
        if settings.repository and settings.run_id
        else None
    )
    deployer = Deployer(
        promoter=promoter,
        settings=read_deploy_settings(promoter.policy),
        host=_connect(settings),
        serve=available_server(),
        verification=VerificationGate(verification, args.allow_unverified),
        repository=settings.repository,
        server_url=settings.server_url,
        run_url=run_url,
    )
    if args.auto:
        request = deployer.automatic_request(args.model)
        if request is None:
            print("deploy.auto_stage is not set in the policy: nothing to deploy")
            set_output(settings, "action", "none")
            return Outcome.DONE
        import dataclasses  # here: `deploy --help` starts without it

        request = dataclasses.replace(request, dry_run=args.dry_run)
    else:
        request = DeployRequest(
            stage=args.stage,
            model=args.model,
            version=args.model_version,
            rollback=args.rollback,
            traffic=args.traffic,
            dry_run=args.dry_run,
        )
    outcome = deployer.deploy(request)
    change = outcome.change
    set_output(settings, "tag", change.tag)
    set_output(settings, "action", change.action)
    set_output(settings, "pull-request-url", outcome.pull_request_url or "")
    append_step_summary(settings, outcome.body)
    if args.dry_run:
        print(outcome.body)
    return Outcome.DONE


def _connect(settings: ActionsSettings) -> DeployHost | None:
    """The GitHub client when GITHUB_REPOSITORY and GITHUB_TOKEN are set, else None."""
    if not (settings.repository and settings.token):
        return None
    from mlgitops.github.client import connect

    return connect(settings)
