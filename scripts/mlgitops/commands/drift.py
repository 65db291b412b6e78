"""`mlgitops drift`: compare the data a promoted model was trained on with current data.

Exit codes: 0 nothing over the policy (or fewer rows than `monitoring.min_samples`:
no verdict), 1 drift, decay or latency over the policy, 2 bad input or a tool failure
(unknown revision, unreadable CSV, invalid policy, GitHub API error).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlgitops.errors import InputError, Location, Outcome, UsageError

# pandas and scipy are imported by `run` only: every other command starts without them.
DEFAULT_DATA_PATH = "data/raw/data.csv"
DEFAULT_POLICY_PATH = "governance/policy.yaml"

DESCRIPTION = """\
Per-column drift between the reference data of a promoted version and current data.
The reference is the DVC-tracked data file at a version tag, at the version a stage
holds, or at any git revision; the current data is a CSV file or a DVC-tracked path.
Numeric columns: PSI and Kolmogorov-Smirnov; categorical columns: chi-square; judged
against the `drift:` section of the policy. Without that section (or without a
policy file) the defaults are psi_max 0.2, ks_pvalue_min 0.01, chi2_pvalue_min 0.01,
every column, issue_label "drift".

On prediction logs (a folder of segments written by the served model, or a DVC path
of one) it also judges the logged outputs against the version's test-set predictions
(reports/predictions.csv), the request latencies against `monitoring.latency`, and,
with --labels, the metrics on labelled predictions against the version's
reports/metrics.json (`monitoring.decay`). A window smaller than
`monitoring.min_samples` gets no verdict.

With --open-issue, drift over the policy opens a GitHub issue, or updates the open
one for the same model and data path (GITHUB_TOKEN, GITHUB_REPOSITORY and
GITHUB_API_URL are read from the environment).

Exit codes: 0 no drift (or no verdict), 1 drift, decay or latency over the policy,
2 bad input or tool failure."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="detect data drift against a promoted version",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--reference",
        required=True,
        metavar="REV",
        help="reference data revision: a version tag (my-model@v1.0.0), the version in a "
        "stage (my-model#production) or any git revision",
    )
    parser.add_argument(
        "--current",
        required=True,
        metavar="PATH",
        help="current data: a CSV file, a folder (or .jsonl segment) of prediction logs, or "
        "a DVC-tracked path of the repository holding either",
    )
    parser.add_argument(
        "--labels",
        metavar="FILE",
        help="ground truth for prediction logs: a CSV of request_id, optional row, and one "
        "label column; judges performance decay against the reference's metrics",
    )
    parser.add_argument(
        "--reference-path",
        default=DEFAULT_DATA_PATH,
        metavar="PATH",
        help=f"data file inside the repository at the reference (default: {DEFAULT_DATA_PATH})",
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help=f"policy file (default: {DEFAULT_POLICY_PATH}, if it exists)",
    )
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    parser.add_argument(
        "--model", help="model name for the issue (default: from a '<model>@vX.Y.Z' reference)"
    )
    parser.add_argument(
        "--open-issue",
        action="store_true",
        help="open or update a GitHub issue when drift exceeds the policy",
    )
    parser.add_argument(
        "--retrain-branch",
        metavar="BRANCH",
        help="on drift, commit the current CSV as the new version of the reference data "
        "file (dvc add) on this new branch, for a retraining pull request",
    )
    parser.add_argument(
        "--push",
        action="store_true",
        help="with --retrain-branch: push the data and outputs to the DVC remote and the "
        "branch to origin (replacing the bot's earlier push of that branch)",
    )
    parser.add_argument(
        "--open-pull-request",
        action="store_true",
        help="with --retrain-branch: push, then open the retraining pull request or update "
        "the open one, labelled monitoring.retrain_label and linked from the drift issue",
    )
    parser.add_argument(
        "--base", metavar="BRANCH", help="base of the pull request (default: the current branch)"
    )
    parser.add_argument(
        "--repo", default=".", metavar="DIR", help="the repository (default: current directory)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    """Compute drift, print or write the report, and open/update the issue if asked."""
    from mlgitops.core.drift import report_to_dict
    from mlgitops.core.markdown.drift import render_markdown
    from mlgitops.github.actions import ActionsSettings, append_step_summary, set_output
    from mlgitops.services import drift as service

    settings = ActionsSettings.from_environ()
    if args.open_issue and (not settings.token or not settings.repository):
        raise UsageError(
            "--open-issue needs GITHUB_TOKEN and GITHUB_REPOSITORY in the environment",
            hint="in a workflow, pass 'GITHUB_TOKEN: ${{ github.token }}' with 'issues: write'",
        )
    cwd = Path.cwd()
    repo = service.repo_root((cwd / args.repo).resolve())
    policy_file = Path(args.policy) if args.policy else repo / DEFAULT_POLICY_PATH
    policy = service.load_drift_policy(policy_file, required=bool(args.policy))
    monitoring = service.load_monitoring_policy(policy_file)
    current_file = None
    base = args.base
    if args.open_pull_request and not args.retrain_branch:
        raise UsageError("--open-pull-request needs --retrain-branch")
    if args.open_pull_request and (not settings.token or not settings.repository):
        raise UsageError(
            "--open-pull-request needs GITHUB_TOKEN and GITHUB_REPOSITORY in the environment"
        )
    if args.retrain_branch:
        current_path = (cwd / args.current).resolve()
        from_logs = current_path.is_dir() or current_path.name.endswith(".jsonl")
        if from_logs and not args.labels:
            raise UsageError(
                "a retraining branch from prediction logs needs --labels: training rows "
                "need the true target of each logged request"
            )
        current_file = None if from_logs else current_path
        service.check_retraining(repo, current_file, args.retrain_branch)
        base = base or service.git("branch", "--show-current", cwd=repo) or "main"
    outcome = service.run_drift(
        repo,
        args.reference,
        args.current,
        policy,
        reference_path=args.reference_path,
        model=args.model,
        cwd=cwd,
        monitoring=monitoring,
        labels_path=args.labels,
    )
    report = outcome.report
    markdown = render_markdown(outcome.report, marker=outcome.marker)
    if args.format == "json":
        text = json.dumps(report_to_dict(outcome.report), indent=2, ensure_ascii=False) + "\n"
    else:
        text = markdown
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise InputError(
                f"cannot write the report: {error.strerror}", location=Location(args.output)
            ) from None
    else:
        print(text, end="")
    append_step_summary(settings, markdown)
    set_output(settings, "drifted", "true" if report.drifted else "false")
    set_output(settings, "verdict", report.verdict)
    if report.insufficient:
        print(
            f"mlgitops: {report.current_rows} rows in the window, fewer than min_samples "
            f"({report.min_samples}): no verdict",
            file=sys.stderr,
        )
    host = None
    issue = None
    if (args.open_issue and report.failed) or (args.open_pull_request and report.needs_retraining):
        from mlgitops.github.client import connect

        host = connect(settings)
    run_url = None
    if settings.repository and settings.run_id:
        run_url = f"{settings.server_url}/{settings.repository}/actions/runs/{settings.run_id}"
    if args.open_issue and report.failed:
        assert host is not None
        issue, _created = service.publish_issue(host, outcome, run_url)
        set_output(settings, "issue-number", str(issue.number))
    if args.retrain_branch and report.needs_retraining:
        from mlgitops.services.retraining import propose_retraining

        done = propose_retraining(
            repo,
            outcome,
            branch=args.retrain_branch,
            data_path=args.reference_path,
            reference=args.reference,
            current_file=current_file,
            labels=(cwd / args.labels, args.labels) if args.labels else None,
            hashed=monitoring.log.hash,
            base=base or "main",
            push=args.push,
            host=host if args.open_pull_request else None,
            label=monitoring.retrain_label,
            issue=issue,
            issue_text=service.issue_body(outcome, run_url) if issue is not None else None,
            server_url=settings.server_url,
            token=settings.token,
        )
        set_output(settings, "retrain-branch", done.branch)
        if done.pull is not None:
            set_output(settings, "pull-request-number", str(done.pull.number))
            action = "opened" if done.created else "updated"
            print(f"mlgitops: {action} pull request #{done.pull.number}", file=sys.stderr)
        elif args.push:
            print(f"mlgitops: pushed branch '{done.branch}' ({done.commit[:12]})", file=sys.stderr)
        else:
            print(
                f"mlgitops: committed the current data on branch '{done.branch}' "
                f"({done.commit[:12]}); publish it with 'dvc push' and "
                f"'git push origin {done.branch}', then open the pull request",
                file=sys.stderr,
            )
    # Too few rows is no verdict, not a failure to measure: exit 0, `verdict` says so.
    return Outcome.GATE_FAILED if report.failed else Outcome.DONE
