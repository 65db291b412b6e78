"""`mlgitops govern`: enforce governance/policy.yaml on the current checkout.

Exit codes: 0 every rule passed (or was skipped), 1 some rule failed, 2 the inputs are
invalid (policy, params) or git/dvc failed. The markdown verdict goes to --output (or
stdout) and to the job summary; each failure becomes an `::error file=...,line=...::`
annotation in GitHub Actions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlgitops.defaults import DEFAULT_METRICS_FILE, DEFAULT_PARAMS_FILE, DEFAULT_POLICY_PATH
from mlgitops.errors import Outcome, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "govern",
        help="check the policy's rules (metrics, fairness, model card, data, change control)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help="compare with the merge-base of REF and HEAD (default: the PR base from"
        " $GITHUB_EVENT_PATH; without either, regression and approval rules are skipped)",
    )
    parser.add_argument("--policy", default=DEFAULT_POLICY_PATH, metavar="FILE")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--output", metavar="FILE", help="write the verdict here, not stdout")
    parser.add_argument(
        "--labels",
        metavar="A,B",
        help="PR labels, comma-separated (default: from the pull_request event payload)",
    )
    parser.add_argument(
        "--metrics",
        metavar="FILE",
        help="metrics file (default: meta.metrics of each dvc.yaml artifact, else"
        f" {DEFAULT_METRICS_FILE})",
    )
    parser.add_argument("--params", default=DEFAULT_PARAMS_FILE, metavar="FILE")
    parser.add_argument("--no-dvc-status", action="store_true", help="skip the `dvc status` check")
    parser.add_argument(
        "--annotations",
        choices=("auto", "always", "never"),
        default="auto",
        help="print ::error:: workflow commands (auto: only inside GitHub Actions)",
    )
    parser.add_argument("-C", "--repo", default=".", metavar="DIR", help="repository root")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    """Evaluate the policy; print the verdict, annotations and job summary."""
    # Imported here, not above: `mlgitops govern --help` and the other commands need none.
    from mlgitops.core.governance.results import failure_annotations, to_json, verdict_line
    from mlgitops.core.markdown.governance import render_markdown
    from mlgitops.github.actions import (
        ActionsSettings,
        append_step_summary,
        format_annotation,
        set_output,
    )
    from mlgitops.services.governance import GovernOptions, govern

    settings = ActionsSettings.from_environ()
    root = Path(args.repo)
    if not root.is_dir():
        raise UsageError(f"--repo {args.repo}: not a directory")
    labels = None
    if args.labels is not None:
        labels = tuple(label.strip() for label in args.labels.split(",") if label.strip())
    outcome = govern(
        GovernOptions(
            root=root,
            policy_path=args.policy,
            base=args.base,
            metrics_file=args.metrics,
            params_file=args.params,
            labels=labels,
            event=settings.event(),
            check_dvc_status=not args.no_dvc_status,
        )
    )
    base_label = outcome.base.label if outcome.base else None
    markdown = render_markdown(outcome.results, policy_file=args.policy, base_label=base_label)
    if args.format == "json":
        text = json.dumps(
            to_json(outcome.results, policy_file=args.policy, base_label=base_label),
            indent=2,
            allow_nan=False,
        )
    else:
        text = markdown
    if args.output:
        Path(args.output).write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
    append_step_summary(settings, markdown)
    set_output(settings, "verdict", "fail" if outcome.failed else "pass")
    if args.annotations == "always" or (args.annotations == "auto" and settings.in_actions):
        # Workflow commands are read from stdout and stderr alike; keep stdout parseable
        # when it carries the JSON verdict.
        stream = sys.stderr if (args.format == "json" and not args.output) else sys.stdout
        for message, location, title in failure_annotations(outcome.results):
            print(
                format_annotation(
                    "error",
                    message,
                    file=location.file if location else None,
                    line=location.line if location else None,
                    title=title,
                ),
                file=stream,
            )
    print(f"mlgitops govern: {verdict_line(outcome.results)}", file=sys.stderr)
    return Outcome.GATE_FAILED if outcome.failed else Outcome.DONE
