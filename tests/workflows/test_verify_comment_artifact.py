"""The fork comment artifact is data: anything not exactly what a PR run uploads is refused."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from workflow_files import ROOT

from localhub.server import LocalHub

SCRIPT = ROOT / "actions" / "verify-comment-artifact" / "verify.py"
REPO = "acme/churn"
FORK = "mallory/churn"
HEAD = "c" * 40
OTHER = "d" * 40
TOKEN = "ghs_bot"


def load_verify() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_comment_artifact", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verify = load_verify()


def artifact(folder: Path, body: str = "## Report\n", **meta: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fields: dict[str, object] = {
        "pr": 7,
        "head_sha": HEAD,
        "repository": REPO,
        "governance": "pass",
    }
    fields.update(meta)
    (folder / "mlgitops-comment.md").write_text(body, encoding="utf-8")
    (folder / "mlgitops-comment.json").write_text(json.dumps(fields), encoding="utf-8")
    return folder


def test_a_valid_artifact_gives_its_number_and_a_marked_body(tmp_path: Path) -> None:
    number, body = verify.check_artifact(artifact(tmp_path / "a", "hi @octocat\n"), HEAD, REPO)
    assert number == 7
    assert body.startswith("> [!NOTE]\n> Produced by the checks of a pull request from a fork")
    assert "@octocat" not in body and "@\N{ZERO WIDTH JOINER}octocat" in body


def test_the_body_is_made_inert(tmp_path: Path) -> None:
    """The issue's example: the fork's markdown with an image on an outside host."""
    hostile = "## Report\n<img src=https://tracker.example/p.png>\n![x](https://e.example/i.png)\n"
    _, body = verify.check_artifact(artifact(tmp_path / "a", hostile), HEAD, REPO)
    assert "<img" not in body
    assert "![x](" not in body
    assert "https://" not in body.split("\n\n", 1)[1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"head_sha": OTHER}, "is not the head of the triggering run"),
        ({"head_sha": "abc"}, "not a 40-hex commit SHA"),
        ({"repository": "evil/fork"}, "is not 'acme/churn'"),
        ({"pr": "7"}, "pr is not a positive integer"),
        ({"pr": True}, "pr is not a positive integer"),
        ({"pr": -1}, "pr is not a positive integer"),
        ({"governance": "maybe"}, "governance is not one of"),
    ],
)
def test_bad_metadata_is_refused(tmp_path: Path, change: dict[str, object], message: str) -> None:
    with pytest.raises(verify.Rejected, match=message):
        verify.check_artifact(artifact(tmp_path / "a", **change), HEAD, REPO)


def test_oversized_body_is_refused(tmp_path: Path) -> None:
    big = "x" * (verify.MAX_BODY_BYTES + 1)
    with pytest.raises(verify.Rejected, match="over the 262144-byte cap"):
        verify.check_artifact(artifact(tmp_path / "a", big), HEAD, REPO)


def test_extra_files_and_symlinks_are_refused(tmp_path: Path) -> None:
    folder = artifact(tmp_path / "a")
    (folder / "extra.sh").write_text("echo", encoding="utf-8")
    with pytest.raises(verify.Rejected, match="unexpected artifact content"):
        verify.check_artifact(folder, HEAD, REPO)

    linked = artifact(tmp_path / "b")
    secret = tmp_path / "secret.txt"
    secret.write_text("token", encoding="utf-8")
    (linked / "mlgitops-comment.md").unlink()
    (linked / "mlgitops-comment.md").symlink_to(secret)
    with pytest.raises(verify.Rejected, match="not a regular file"):
        verify.check_artifact(linked, HEAD, REPO)


def test_invalid_json_and_encoding_are_refused(tmp_path: Path) -> None:
    folder = artifact(tmp_path / "a")
    (folder / "mlgitops-comment.json").write_text("{pr: 7", encoding="utf-8")
    with pytest.raises(verify.Rejected, match="not valid JSON"):
        verify.check_artifact(folder, HEAD, REPO)
    folder = artifact(tmp_path / "b")
    (folder / "mlgitops-comment.md").write_bytes(b"\xff\xfe")
    with pytest.raises(verify.Rejected, match="not UTF-8"):
        verify.check_artifact(folder, HEAD, REPO)


def run_script(
    folder: Path,
    hub: LocalHub,
    tmp_path: Path,
    run_repository: str = REPO,
    run_head_repository: str = FORK,
) -> tuple[int, str, str]:
    output = tmp_path / "github-output"
    output.write_text("", encoding="utf-8")
    env = dict(os.environ)
    env.update(
        ARTIFACT_DIR=str(folder),
        RUN_HEAD_SHA=HEAD,
        RUN_REPOSITORY=run_repository,
        RUN_HEAD_REPOSITORY=run_head_repository,
        GITHUB_REPOSITORY=REPO,
        GITHUB_TOKEN=TOKEN,
        GITHUB_API_URL=hub.api_url,
        RUNNER_TEMP=str(tmp_path),
        GITHUB_OUTPUT=str(output),
    )
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    return result.returncode, result.stdout, output.read_text(encoding="utf-8")


@pytest.fixture
def hub(localhub: LocalHub) -> LocalHub:
    localhub.add_user("github-actions[bot]", TOKEN, type="Bot")
    localhub.add_repo(REPO)
    return localhub


def test_script_accepts_the_pull_request_whose_head_is_the_run(
    hub: LocalHub, tmp_path: Path
) -> None:
    hub.add_pull(REPO, 7, head_sha=HEAD, head_repo=FORK)
    code, stdout, output = run_script(artifact(tmp_path / "a"), hub, tmp_path)
    assert code == 0, stdout
    assert f"pr=7\nbody-file={tmp_path / 'mlgitops-verified-comment.md'}\n" == output


def test_script_refuses_a_pull_request_with_another_head(hub: LocalHub, tmp_path: Path) -> None:
    """An artifact naming someone else's PR (whose head is not this run's commit) is refused."""
    hub.add_pull(REPO, 7, head_sha=OTHER, head_repo=FORK)
    code, stdout, output = run_script(artifact(tmp_path / "a"), hub, tmp_path)
    assert code == 2
    assert f"::error title=Comment artifact rejected::pull request #7 has head {OTHER}" in stdout
    assert output == ""


def test_script_refuses_a_closed_pull_request_with_the_same_head(
    hub: LocalHub, tmp_path: Path
) -> None:
    """The issue's example: a closed PR whose head SHA is the run's was accepted."""
    hub.add_pull(REPO, 7, head_sha=HEAD, head_repo=FORK, closed=True)
    code, stdout, output = run_script(artifact(tmp_path / "a"), hub, tmp_path)
    assert code == 2
    assert "::error title=Comment artifact rejected::pull request #7 is closed, not open" in stdout
    assert output == ""


def test_script_refuses_a_pull_request_from_another_head_repository(
    hub: LocalHub, tmp_path: Path
) -> None:
    """Same head SHA, but the pull request's head branch is not the run's (e.g. pushed twice)."""
    hub.add_pull(REPO, 7, head_sha=HEAD, head_repo="eve/churn")
    code, stdout, output = run_script(artifact(tmp_path / "a"), hub, tmp_path)
    assert code == 2
    assert "comes from 'eve/churn', not from the run's head repository 'mallory/churn'" in stdout
    assert output == ""


def test_script_needs_the_run_head_repository(hub: LocalHub, tmp_path: Path) -> None:
    hub.add_pull(REPO, 7, head_sha=HEAD, head_repo=FORK)
    code, stdout, _ = run_script(artifact(tmp_path / "a"), hub, tmp_path, run_head_repository="")
    assert code == 2
    assert "RUN_HEAD_REPOSITORY is not owner/name" in stdout


def test_script_refuses_a_run_of_another_repository(hub: LocalHub, tmp_path: Path) -> None:
    hub.add_pull(REPO, 7, head_sha=HEAD, head_repo=FORK)
    code, stdout, _ = run_script(artifact(tmp_path / "a"), hub, tmp_path, run_repository="x/y")
    assert code == 2
    assert "the run belongs to 'x/y'" in stdout


# ------------------------------------------------------------------ the body made inert
ZWJ = "\N{ZERO WIDTH JOINER}"
CHART = (
    "```mermaid\n"
    "xychart-beta\n"
    '    title "accuracy"\n'
    '    x-axis ["v0.1.0", "head"]\n'
    '    y-axis "accuracy" 0.9 --> 1\n'
    "    line [0.95, 0.961]\n"
    "```"
)


@pytest.mark.parametrize(
    ("hostile", "inert"),
    [
        ("<img src=https://x.example/p.png>", "&lt;img src=https" + ZWJ + "://x.example/p.png>"),
        ("<!-- hidden -->", "&lt;!-- hidden -->"),
        ("<https://x.example>", "&lt;https" + ZWJ + "://x.example>"),
        ("![t](https://x.example/t.png)", "!&lbrack;t&rbrack;(https" + ZWJ + "://x.example/t.png)"),
        ("[click](javascript:alert(1))", "&lbrack;click&rbrack;(javascript:alert(1))"),
        ("[r]: https://x.example", "&lbrack;r&rbrack;: https" + ZWJ + "://x.example"),
        ("\\[a](https://x.example)", "\\&lbrack;a&rbrack;(https" + ZWJ + "://x.example)"),
        ("see www.x.example", "see www" + ZWJ + ".x.example"),
        ("HTTPS://X.EXAMPLE", "HTTPS" + ZWJ + "://X.EXAMPLE"),
        ("cc @octocat and @org/team", f"cc @{ZWJ}octocat and @{ZWJ}org/team"),
        ("fixes #12, acme/other#3, GH-4", f"fixes #{ZWJ}12, acme/other#{ZWJ}3, GH{ZWJ}-4"),
        (
            "$\\href{https://x.example}{x}$",
            "&dollar;\\href{https" + ZWJ + "://x.example}{x}&dollar;",
        ),
        ("| `a|b` | 0.9 |", "| `a|b` | 0.9 |"),
        ("> [!WARNING]", "> [!WARNING]"),
    ],
)
def test_active_markdown_is_made_inert(hostile: str, inert: str) -> None:
    assert verify.inert_markdown(hostile) == inert


def test_the_report_markup_keeps_its_text() -> None:
    report = (
        "### Model metrics\n\n| Metric | Base | Head |\n|---|---|---|\n"
        "| `accuracy` | 0.95 | 0.96 |\n\n"
        "<details><summary>Metric history of the last promoted versions</summary>\n\n"
        f"{CHART}\n\n</details>\n\n<sub>Metrics read with DVC by `mlgitops report`.</sub>"
    )
    inert = verify.inert_markdown(report)
    assert "<" not in inert
    assert "**Metric history of the last promoted versions**" in inert
    assert CHART in inert  # the chart `mlgitops report` draws is drawn
    assert "| `accuracy` | 0.95 | 0.96 |" in inert
    assert "Metrics read with DVC by `mlgitops report`." in inert


@pytest.mark.parametrize(
    "block",
    [
        '```mermaid\ngraph TD\n  A-->B\n  click A href "https://x.example"\n```',
        CHART.replace('"accuracy"\n', '"accuracy" \n', 1),
        "```geojson\n{}\n```",
        "```math\n\\href{https://x.example}{x}\n```",
        "~~~stl\nsolid x\n~~~",
    ],
)
def test_rendered_blocks_other_than_the_report_chart_become_text(block: str) -> None:
    inert = verify.inert_markdown(block)
    first, *rest = inert.split("\n")
    assert first in ("```text", "~~~text")
    assert rest == block.split("\n")[1:]  # shown as it is, in a code block


def test_code_blocks_are_left_alone_but_never_trusted_after_an_indented_fence() -> None:
    raw = "```\n<img src=https://x.example/a.png>\n```"
    assert verify.inert_markdown(raw) == raw  # GitHub renders nothing inside a code block
    # A list item's fence ends with the item, where GitHub and a flat scan can disagree
    # about which later fence lines open and close: everything after it is made inert.
    tricky = "- a\n  ```\n```\n```\n<img src=x>\n```\n<img src=y>"
    assert "<img" not in verify.inert_markdown(tricky)


@pytest.mark.parametrize(
    "hostile",
    [
        "```\na\r```\r<img src=x>",  # a lone CR is a line ending for GitHub: fence closed
        "x\u2028```\n<img src=x>",  # U+2028 is not one: no fence opens
        "```a`b\n<img src=x>",  # a backtick fence's info may not hold a backtick: no fence
        "    ```\n<img src=x>",  # indented code, not a fence
    ],
)
def test_fences_are_the_ones_github_sees(hostile: str) -> None:
    assert "<img" not in verify.inert_markdown(hostile)
