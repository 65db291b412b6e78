"""`mlgitops report`: metrics and params of the head against its base, as markdown or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlgitops.defaults import DEFAULT_HISTORY
from mlgitops.errors import Outcome


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        epilog="Exit codes: 0 the report was written, 2 bad input or git/DVC failed.",
        help="compare metrics and params of the head with its base",
        description=(
            "Run inside a generated repository. Reads metrics and params with DVC at the "
            "merge-base of the head with the target branch (or, when it has none, at the "
            "model's last promoted version tag) and at the head, and writes a markdown "
            "table per model, the changed params, a verdict and a chart of the metric "
            "history of the last promoted versions."
        ),
    )
    parser.add_argument(
        "--base",
        help="target branch or ref; the merge-base with the head is compared "
        "(default: $GITHUB_BASE_REF, else main, else master)",
    )
    parser.add_argument(
        "--head", help="ref to report on (default: the working tree, e.g. after dvc repro)"
    )
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--output", type=Path, help="write here instead of stdout")
    parser.add_argument(
        "--policy",
        type=Path,
        help="policy giving each metric's direction (default: governance/policy.yaml)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=DEFAULT_HISTORY,
        help=f"promoted versions in the history chart (default: {DEFAULT_HISTORY})",
    )
    parser.add_argument(
        "--no-plots",
        dest="plots",
        action="store_false",
        help="leave out the plots section (saves reading plot data with DVC)",
    )
    parser.add_argument(
        "-C", "--repo", type=Path, default=Path("."), help="repository (default: current folder)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    """Write the report; exit 0 (the report informs, `mlgitops govern` gates)."""
    # Imported here, not above: `mlgitops report --help` and the other commands need none.
    import json

    from mlgitops.core.diff import Change
    from mlgitops.core.markdown.report import all_deltas, render_report, report_to_dict, verdict
    from mlgitops.github.actions import ActionsSettings, set_output
    from mlgitops.io.workspace import Workspace
    from mlgitops.services.report import ReportRequest, build_report

    ws = Workspace.open(args.repo)
    request = ReportRequest(
        base=args.base,
        head=args.head,
        policy=args.policy,
        history=max(args.history, 0),
        plots=args.plots,
    )
    report = build_report(ws, request)
    if args.format == "json":
        text = json.dumps(report_to_dict(report), indent=2, allow_nan=False) + "\n"
    else:
        text = render_report(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"report written to {args.output}: {verdict(report)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    settings = ActionsSettings.from_environ()
    worse = sum(delta.change is Change.WORSE for delta in all_deltas(report))
    set_output(settings, "verdict", verdict(report))
    set_output(settings, "worse", str(worse))
    if args.output:
        set_output(settings, "report-path", str(args.output))
    return Outcome.DONE
