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
    folder: Path, hub: LocalHub, tmp_path: Path, run_repository: str = REPO
) -> tuple[int, str, str]:
    output = tmp_path / "github-output"
    output.write_text("", encoding="utf-8")
    env = dict(os.environ)
    env.update(
        ARTIFACT_DIR=str(folder),
        RUN_HEAD_SHA=HEAD,
        RUN_REPOSITORY=run_repository,
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
    hub.add_pull(REPO, 7, head_sha=HEAD)
    code, stdout, output = run_script(artifact(tmp_path / "a"), hub, tmp_path)
    assert code == 0, stdout
    assert f"pr=7\nbody-file={tmp_path / 'mlgitops-verified-comment.md'}\n" == output


def test_script_refuses_a_pull_request_with_another_head(hub: LocalHub, tmp_path: Path) -> None:
    """An artifact naming someone else's PR (whose head is not this run's commit) is refused."""
    hub.add_pull(REPO, 7, head_sha=OTHER)
    code, stdout, output = run_script(artifact(tmp_path / "a"), hub, tmp_path)
    assert code == 2
    assert f"::error title=Comment artifact rejected::pull request #7 has head {OTHER}" in stdout
    assert output == ""


def test_script_refuses_a_run_of_another_repository(hub: LocalHub, tmp_path: Path) -> None:
    hub.add_pull(REPO, 7, head_sha=HEAD)
    code, stdout, _ = run_script(artifact(tmp_path / "a"), hub, tmp_path, run_repository="x/y")
    assert code == 2
    assert "the run belongs to 'x/y'" in stdout
