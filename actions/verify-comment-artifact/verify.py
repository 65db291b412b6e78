"""Check a pull request comment artifact from an untrusted run before posting it.

The artifact comes from a `pull_request` run of a fork, whose code the fork's
author controls, so everything in it is data: it must be exactly the two expected
regular files, within size caps, well-formed, and it must name the pull request
whose head is the very commit the triggering run was for (head SHA from GitHub's
`workflow_run` payload, not from the artifact), in this repository.

Inputs come from the environment (never from the workflow text):
ARTIFACT_DIR, RUN_HEAD_SHA, RUN_REPOSITORY, GITHUB_REPOSITORY, GITHUB_TOKEN,
GITHUB_API_URL. Writes `pr` and `body-file` to $GITHUB_OUTPUT. Exit 2 on any
rejection, with an `::error::` line saying why.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

BODY_NAME = "mlgitops-comment.md"
META_NAME = "mlgitops-comment.json"
MAX_BODY_BYTES = 256 * 1024  # far above a report; `mlgitops comment` truncates at 65,536 chars
MAX_META_BYTES = 4 * 1024
SHA_RE = re.compile(r"[0-9a-f]{40}")
GOVERNANCE_RESULTS = {"pass", "fail", "error"}
MENTION_RE = re.compile(r"@(?=[A-Za-z0-9])")
UNTRUSTED_NOTE = (
    "> [!NOTE]\n"
    "> Produced by the checks of a pull request from a fork (no secrets, read-only token)"
    " and posted by a trusted run after validation.\n\n"
)


class Rejected(Exception):
    """The artifact is not what a PR run of this repository uploads."""


def _read_capped(path: Path, limit: int) -> bytes:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise Rejected(f"{path.name} is not a regular file")
    if info.st_size > limit:
        raise Rejected(f"{path.name} is {info.st_size} bytes, over the {limit}-byte cap")
    return path.read_bytes()


def check_artifact(directory: Path, run_head_sha: str, repository: str) -> tuple[int, str]:
    """Return (pull request number, body) from a validated artifact folder."""
    if not directory.is_dir():
        raise Rejected(f"artifact folder {directory} is missing")
    names = sorted(entry.name for entry in directory.iterdir())
    if names != sorted([BODY_NAME, META_NAME]):
        raise Rejected(f"unexpected artifact content: {names}")
    try:
        meta = json.loads(_read_capped(directory / META_NAME, MAX_META_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Rejected(f"{META_NAME} is not valid JSON: {error}") from error
    if not isinstance(meta, dict):
        raise Rejected(f"{META_NAME} is not a JSON object")
    number = meta.get("pr")
    if type(number) is not int or not 0 < number < 2**31:
        raise Rejected("pr is not a positive integer")
    head_sha = meta.get("head_sha")
    if not isinstance(head_sha, str) or not SHA_RE.fullmatch(head_sha):
        raise Rejected("head_sha is not a 40-hex commit SHA")
    if head_sha != run_head_sha:
        raise Rejected(f"head_sha {head_sha} is not the head of the triggering run {run_head_sha}")
    if meta.get("repository") != repository:
        raise Rejected(f"repository {meta.get('repository')!r} is not {repository!r}")
    if meta.get("governance") not in GOVERNANCE_RESULTS:
        raise Rejected("governance is not one of pass, fail, error")
    try:
        body = _read_capped(directory / BODY_NAME, MAX_BODY_BYTES).decode("utf-8")
    except UnicodeDecodeError as error:
        raise Rejected(f"{BODY_NAME} is not UTF-8") from error
    body = body.replace("\x00", "")
    # Mentions from an untrusted body would notify people in the bot's name.
    body = MENTION_RE.sub("@\N{ZERO WIDTH JOINER}", body)
    return number, UNTRUSTED_NOTE + body


def check_pull_request(number: int, run_head_sha: str) -> None:
    """The pull request must exist in this repository with the run's head SHA."""
    from mlgitops.github.actions import ActionsSettings
    from mlgitops.github.client import connect

    host = connect(ActionsSettings.from_environ())
    pull = host.get_pull_request(number)
    if pull.head_sha != run_head_sha:
        raise Rejected(
            f"pull request #{number} has head {pull.head_sha}, not the run's head {run_head_sha}"
        )


def main() -> int:
    env = os.environ
    try:
        run_repository = env.get("RUN_REPOSITORY", "")
        repository = env.get("GITHUB_REPOSITORY", "")
        if not repository or run_repository != repository:
            raise Rejected(f"the run belongs to {run_repository!r}, not {repository!r}")
        run_head_sha = env.get("RUN_HEAD_SHA", "")
        if not SHA_RE.fullmatch(run_head_sha):
            raise Rejected("RUN_HEAD_SHA is not a commit SHA")
        number, body = check_artifact(Path(env["ARTIFACT_DIR"]), run_head_sha, repository)
        check_pull_request(number, run_head_sha)
    except Rejected as error:
        print(f"::error title=Comment artifact rejected::{error}")
        return 2
    body_file = Path(env.get("RUNNER_TEMP", ".")) / "mlgitops-verified-comment.md"
    body_file.write_text(body, encoding="utf-8")
    output = env.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"pr={number}\nbody-file={body_file}\n")
    print(f"Artifact accepted for pull request #{number}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
