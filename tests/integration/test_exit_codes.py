"""The exit-code contract, seen from outside: real processes, faults injected by the
environment (an event payload, a GitHub answer, the file system), nothing patched.

0 pass, 1 a gate failed, 2 no verdict. A crash must be 2 with one line that says what
failed, so that a workflow reports "could not be evaluated" and never "a rule failed".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localhub.server import LocalHub

REPO = "acme/model"
PR = 4
POLICY = """\
version: 1
metrics:
  accuracy:
    higher_is_better: true
    min: 0.5
change_control:
  protected_paths: [governance/]
"""


def mlgitops(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "mlgitops", *args],
        cwd=cwd,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def assert_one_line_crash(result: subprocess.CompletedProcess[str], command: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"mlgitops: error: mlgitops {command} failed unexpectedly: ")
    assert lines[0].endswith("re-run with --debug for the traceback")
    return lines[0]


@pytest.fixture
def governed(tmp_path: Path) -> Path:
    """A small git repository with a policy, its metrics and a CODEOWNERS file."""
    (tmp_path / "governance").mkdir()
    (tmp_path / "governance" / "policy.yaml").write_text(POLICY)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "metrics.json").write_text('{"accuracy": 0.9}\n')
    (tmp_path / "CODEOWNERS").write_text("* @acme/ml\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(["git", "commit", "-qm", "policy"], cwd=tmp_path, check=True)
    return tmp_path


def event(tmp_path: Path, payload: object) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_PATH": str(path)}


def test_well_formed_event_passes(governed: Path) -> None:
    """The control for the next test: the same repository and a sane payload give 0."""
    env = event(governed, {"pull_request": {"number": PR, "labels": [{"name": "x"}]}})
    result = mlgitops("govern", "--no-dvc-status", cwd=governed, env=env)
    assert result.returncode == 0, result.stderr


def test_malformed_event_payload_is_2_not_a_failed_rule(governed: Path) -> None:
    env = event(governed, {"pull_request": {"number": PR, "labels": 5}})
    result = mlgitops("govern", "--no-dvc-status", cwd=governed, env=env)
    line = assert_one_line_crash(result, "govern")
    assert "TypeError" in line and "mlgitops/services/governance.py:" in line


def test_debug_shows_the_traceback(governed: Path) -> None:
    env = event(governed, {"pull_request": {"number": PR, "labels": 5}})
    result = mlgitops("--debug", "govern", "--no-dvc-status", cwd=governed, env=env)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "TypeError" in result.stderr


def test_crash_in_actions_is_one_error_annotation(governed: Path) -> None:
    env = event(governed, {"pull_request": {"number": PR, "labels": 5}})
    env["GITHUB_ACTIONS"] = "true"
    result = mlgitops("govern", "--no-dvc-status", cwd=governed, env=env)
    assert result.returncode == 2
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1 and "failed unexpectedly" in annotations[0]


def test_duplicated_rate_limit_header_is_2(localhub: LocalHub, tmp_path: Path) -> None:
    """GitHub answering `X-RateLimit-Remaining: 4999, 0` (the header sent twice and folded
    by a proxy) makes PyGithub raise ValueError: that is no verdict, so exit 2."""
    localhub.add_user("ml-bot", "tok")
    localhub.add_pull(REPO, PR, head_sha="f" * 40)
    localhub.inject_fault(
        "GET",
        r"/comments$",
        200,
        headers={"X-RateLimit-Remaining": "4999, 0"},
        after_apply=True,
        times=-1,
    )
    (tmp_path / "body.md").write_text("## Report\n")
    env = {"GITHUB_API_URL": localhub.api_url, "GITHUB_TOKEN": "tok", "GITHUB_REPOSITORY": REPO}
    result = mlgitops("comment", "--pr", str(PR), "--body-file", "body.md", cwd=tmp_path, env=env)
    line = assert_one_line_crash(result, "comment")
    assert "ValueError" in line and "4999, 0" in line
    assert localhub.comments(REPO, PR) == []


def _symlink_loop(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.name)  # a link to itself: every open fails with ELOOP


@pytest.mark.parametrize("command", ["govern", "validate"])
def test_unreadable_policy_is_2_naming_the_file(governed: Path, command: str) -> None:
    _symlink_loop(governed / "governance" / "policy.yaml")
    options = ["--no-dvc-status"] if command == "govern" else []
    result = mlgitops(command, *options, cwd=governed)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "governance/policy.yaml: cannot read: Too many levels of symbolic links" in (
        result.stderr
    )


def test_unreadable_comment_body_is_2_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "body.md").write_text("x")
    _symlink_loop(tmp_path / "body.md")
    env = {"GITHUB_API_URL": "http://127.0.0.1:9", "GITHUB_TOKEN": "tok", "GITHUB_REPOSITORY": REPO}
    result = mlgitops("comment", "--pr", str(PR), "--body-file", "body.md", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "body.md: cannot read the body file: Too many levels of symbolic links" in (
        result.stderr
    )


def test_failed_gate_is_1(governed: Path) -> None:
    """And a real verdict of no stays 1: the contract distinguishes the two."""
    (governed / "reports" / "metrics.json").write_text('{"accuracy": 0.1}\n')
    result = mlgitops("govern", "--no-dvc-status", cwd=governed)
    assert result.returncode == 1, result.stderr
    assert "failed unexpectedly" not in result.stderr
