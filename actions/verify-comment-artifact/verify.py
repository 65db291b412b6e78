"""Check a pull request comment artifact from an untrusted run before posting it.

The artifact comes from a `pull_request` run of a fork, whose code the fork's
author controls, so everything in it is data: it must be exactly the two expected
regular files, within size caps, well-formed, and it must name an OPEN pull request
of this repository whose head is the very commit the triggering run was for, in the
very repository the run's head came from (head SHA and head repository from GitHub's
`workflow_run` payload, not from the artifact). A closed pull request, or one whose
head branch lives elsewhere, is refused even when its head SHA matches.

The body is made inert before it is posted (`inert_markdown`): no raw HTML, no image,
no link, no autolink, no math, no @mention, no #reference. Fenced code blocks stay as
they are (GitHub renders nothing inside them), except that a block GitHub would
render (mermaid, geojson, math, ...) keeps its language only when it is a chart
exactly as `mlgitops report` draws one.

Inputs come from the environment (never from the workflow text):
ARTIFACT_DIR, RUN_HEAD_SHA, RUN_REPOSITORY, RUN_HEAD_REPOSITORY, GITHUB_REPOSITORY,
GITHUB_TOKEN, GITHUB_API_URL. Writes `pr` and `body-file` to $GITHUB_OUTPUT. Exit 2 on
any rejection, with an `::error::` line saying why.
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
GOVERNANCE_RESULTS = {"pass", "fail", "error", "not-run"}
REPOSITORY_RE = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")
UNTRUSTED_NOTE = (
    "> [!NOTE]\n"
    "> Produced by the checks of a pull request from a fork (no secrets, read-only token)"
    " and posted by a trusted run after validation.\n\n"
)


ZWJ = "\N{ZERO WIDTH JOINER}"
# Bare tags the report uses; they are dropped (their text kept), never passed through.
KNOWN_TAGS_RE = re.compile(r"</?(?:details|sub)>")
SUMMARY_RE = re.compile(r"</?summary>")
# Characters that open markup GitHub could turn into HTML, images, links or math.
ENTITIES = {"<": "&lt;", "[": "&lbrack;", "]": "&rbrack;", "$": "&dollar;"}
ALERT_RE = re.compile(r"> \[!(?:NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]")
# Extended autolinks (scheme or www.), mentions and references, broken by a joiner.
AUTOLINK_RE = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\.)")
MENTION_RE = re.compile(r"(?<=@)(?=[A-Za-z0-9])|(?<=#)(?=[0-9])|(?<=[Gg][Hh])(?=-[0-9])")
OPEN_FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
PLAIN_LANGUAGES = {"", "text", "diff", "json", "yaml", "python", "bash", "console", "shell"}
_LABEL = r'"[A-Za-z0-9 ._@+-]{0,40}"'
_NUMBER = r"(?:[-+]?[0-9.]+(?:e[-+]?[0-9]+)?|-?inf|nan)"
# The only mermaid `mlgitops report` writes (core mermaid_chart): a line chart.
REPORT_CHART = [
    re.compile(r"xychart-beta"),
    re.compile(rf"    title {_LABEL}"),
    re.compile(rf"    x-axis \[{_LABEL}(?:, {_LABEL})*\]"),
    re.compile(rf"    y-axis {_LABEL} {_NUMBER} --> {_NUMBER}"),
    re.compile(rf"    line \[{_NUMBER}(?:, {_NUMBER})*\]"),
]


def inert_text(line: str) -> str:
    """A markdown line with nothing active left: no HTML, image, link, math, mention."""
    if ALERT_RE.fullmatch(line.rstrip()):
        return line.rstrip()
    line = SUMMARY_RE.sub("**", KNOWN_TAGS_RE.sub("", line))
    line = MENTION_RE.sub(ZWJ, AUTOLINK_RE.sub(ZWJ, line))
    return "".join(ENTITIES.get(char, char) for char in line)


def _is_report_chart(lines: list[str]) -> bool:
    return len(lines) == len(REPORT_CHART) and all(
        pattern.fullmatch(line) for pattern, line in zip(REPORT_CHART, lines, strict=True)
    )


def inert_markdown(body: str) -> str:
    """`body` with every construct that could show outside content or notify made inert.

    Line endings are CommonMark's (\\n, \\r\\n, \\r), so lines here are GitHub's lines.
    Only fences opened at column 0 keep their content untouched: GitHub sees those the
    same way whatever came before. After any indented fence (a fence GitHub might
    close with a container this scan does not track), every later line is made inert,
    fenced or not: over-escaping only costs looks, under-escaping would pass markup.
    """
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    fence: tuple[str, int, bool] | None = None  # (char, length, trusted)
    chart: list[str] = []
    trust_fences = True
    for line in lines:
        if fence is not None:
            char, length, trusted = fence
            closing = re.fullmatch(rf" {{0,3}}{re.escape(char)}{{{length},}}[ \\t]*", line)
            if closing:
                if chart and out[-1 - len(chart)].endswith("mermaid"):
                    if not _is_report_chart(chart):
                        out[-1 - len(chart)] = out[-1 - len(chart)][: -len("mermaid")] + "text"
                chart = []
                out.append(line)
                fence = None
            elif trusted:
                chart.append(line)
                out.append(line)
            else:
                out.append(inert_text(line))
            continue
        opening = OPEN_FENCE_RE.match(line)
        if opening and not (opening[2][0] == "`" and "`" in opening[3]):
            indent, marks, info = opening[1], opening[2], opening[3].strip()
            trusted = trust_fences and not indent
            trust_fences = trust_fences and not indent
            fence = (marks[0], len(marks), trusted)
            chart = []
            if trusted:
                language = info if info in PLAIN_LANGUAGES | {"mermaid"} else "text"
                out.append(f"{marks}{language}")
            else:
                out.append(f"{indent}{marks}")
            continue
        out.append(inert_text(line))
    if fence is not None and chart and out[-1 - len(chart)].endswith("mermaid"):
        out[-1 - len(chart)] = out[-1 - len(chart)][: -len("mermaid")] + "text"
    return "\n".join(out)


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
    # Mentions would notify people in the bot's name; HTML, images and links would show
    # or fetch whatever the fork chose.
    return number, UNTRUSTED_NOTE + inert_markdown(body)


def check_pull_request(number: int, run_head_sha: str, run_head_repository: str) -> None:
    """An open pull request of this repository, head at the run's SHA in the run's head repo."""
    from mlgitops.github.actions import ActionsSettings
    from mlgitops.github.client import connect

    host = connect(ActionsSettings.from_environ())
    pull = host.get_pull_request(number)
    if pull.state != "open":
        raise Rejected(f"pull request #{number} is {pull.state}, not open")
    if pull.head_sha != run_head_sha:
        raise Rejected(
            f"pull request #{number} has head {pull.head_sha}, not the run's head {run_head_sha}"
        )
    if pull.head_repository.casefold() != run_head_repository.casefold():
        raise Rejected(
            f"pull request #{number} comes from {pull.head_repository!r}, not from the run's "
            f"head repository {run_head_repository!r}"
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
        run_head_repository = env.get("RUN_HEAD_REPOSITORY", "")
        if not REPOSITORY_RE.fullmatch(run_head_repository):
            raise Rejected("RUN_HEAD_REPOSITORY is not owner/name")
        number, body = check_artifact(Path(env["ARTIFACT_DIR"]), run_head_sha, repository)
        check_pull_request(number, run_head_sha, run_head_repository)
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
