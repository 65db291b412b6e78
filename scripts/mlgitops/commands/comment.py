"""`mlgitops comment`: post a markdown file as the sticky comment of a pull request."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlgitops.defaults import DEFAULT_COMMENT_KEY as DEFAULT_KEY
from mlgitops.errors import InputError, Location, Outcome, UsageError

if TYPE_CHECKING:
    from mlgitops.github.actions import ActionsSettings

MAX_BODY_BYTES = 10 * 1024 * 1024  # more is not a report; refuse rather than load it
STEP_SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a step summary over 1 MiB


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "comment",
        epilog=(
            "Exit codes: 0 the comment was created or updated, 2 bad input or the GitHub API\n"
            "failed."
        ),
        help="post or update the sticky comment of a pull request",
        description=(
            "Post FILE as the bot's comment on a pull request, editing its earlier comment "
            "with the same --key instead of adding a new one. Reads GITHUB_TOKEN, "
            "GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_EVENT_PATH; also writes the body "
            "to the job summary when GITHUB_STEP_SUMMARY is set."
        ),
    )
    parser.add_argument(
        "--pr",
        type=int,
        help="pull request number (default: the PR of the triggering event)",
    )
    parser.add_argument(
        "--body-file", required=True, type=Path, help="markdown file to post ('-' for stdin)"
    )
    parser.add_argument(
        "--key",
        default=DEFAULT_KEY,
        help=f"which sticky comment this is, one per key and PR (default: {DEFAULT_KEY})",
    )
    parser.add_argument(
        "--login",
        help="the bot's login, when the token cannot read it (default: from the API)",
    )
    parser.set_defaults(handler=run)


def _read_body(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise InputError("body file not found", location=Location(str(path))) from error
    except OSError as error:
        raise InputError(
            f"cannot read the body file: {error.strerror}", location=Location(str(path))
        ) from error
    if len(data) > MAX_BODY_BYTES:
        raise InputError(
            f"body file is {len(data):,} bytes, more than {MAX_BODY_BYTES:,}",
            location=Location(str(path)),
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"body file is not UTF-8 text (byte {error.start})", location=Location(str(path))
        ) from error


def summary_url(settings: ActionsSettings) -> str | None:
    """Link to the run page, whose job summary holds the full report."""
    if settings.repository and settings.run_id:
        return f"{settings.server_url}/{settings.repository}/actions/runs/{settings.run_id}"
    return None


def run(args: argparse.Namespace) -> Outcome:
    """Post or update the sticky comment; print its URL."""
    from mlgitops.github.actions import ActionsSettings, append_step_summary, set_output
    from mlgitops.github.client import connect  # PyGithub loads only for this command
    from mlgitops.services.comment import check_key, upsert_sticky_comment

    key = check_key(args.key)
    settings = ActionsSettings.from_environ()
    number = args.pr if args.pr is not None else settings.pull_request_number()
    if number is None:
        raise UsageError(
            "no pull request number",
            hint="pass --pr N, or run on a pull_request event (GITHUB_EVENT_PATH)",
        )
    if number <= 0:
        raise UsageError(f"--pr must be a positive number, got {number}")
    body = _read_body(args.body_file)
    if settings.step_summary_path is not None:
        summary = body
        if len(summary.encode("utf-8")) > STEP_SUMMARY_LIMIT:
            summary = summary.encode("utf-8")[: STEP_SUMMARY_LIMIT - 200].decode(
                "utf-8", errors="ignore"
            )
            summary += "\n\n✂️ Truncated to fit the job summary (1 MiB).\n"
        append_step_summary(settings, summary)
    with connect(settings, login=args.login) as host:
        result = upsert_sticky_comment(
            host, number, body, key=key, summary_url=summary_url(settings)
        )
    note = " (truncated to GitHub's comment limit)" if result.truncated else ""
    print(f"{result.action} comment {result.comment.html_url}{note}")
    set_output(settings, "comment-url", result.comment.html_url)
    set_output(settings, "comment-id", str(result.comment.id))
    set_output(settings, "comment-action", result.action)
    return Outcome.DONE
