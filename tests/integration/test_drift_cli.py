"""`mlgitops drift` on a real git + DVC repository, and its issue against the local hub.

The repository: `data/raw/data.csv` tracked by DVC with a local remote; commit 1 is
tagged `churn-model@v1.0.0`; commit 2 replaces the data with a shifted sample.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from localhub.server import LocalHub
from mlgitops.cli import main
from mlgitops.errors import EXIT_BAD_INPUT, EXIT_GATE_FAILED, EXIT_OK

pytestmark = pytest.mark.slow  # builds a git + DVC repository with a remote (~8 s)

TAG = "churn-model@v1.0.0"
DATA = "data/raw/data.csv"
REPO_NAME = "acme/churn"
TOKEN = "drift-token"


def sh(*command: str, cwd: Path) -> str:
    if command[0] == "dvc":  # the venv's DVC, whether or not the venv is on PATH
        command = (sys.executable, "-m", "dvc", *command[1:])
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout


def sample(seed: int, shift: float, categories: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift * 10, 10, 400).round(1),
            "income": rng.lognormal(10, 0.5, 400).round(2),
            "plan": rng.choice(categories, 400),
            "churned": rng.integers(0, 2, 400),
        }
    )


HOSTILE_PATH = "data/hostile.csv"
HOSTILE_NAMES = ["@octocat", "a|b", "<img src=x onerror=alert(1)>", "line\nbreak", "#1"]


def hostile_frame(shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({name: rng.normal(shift, 1.0, 200) for name in HOSTILE_NAMES})


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("drift")
    repo, remote = base / "repo", base / "remote"
    repo.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    sh("dvc", "remote", "add", "-d", "local", str(remote), cwd=repo)
    (repo / "data/raw").mkdir(parents=True)
    sample(1, 0.0, ["basic", "pro"]).to_csv(repo / DATA, index=False)
    (repo / "governance").mkdir()
    (repo / "governance/policy.yaml").write_text(
        "version: 1\n"
        "metrics:\n  accuracy:\n    higher_is_better: true\n"
        "drift:\n  psi_max: 0.2\n  ks_pvalue_min: 0.01\n  chi2_pvalue_min: 0.01\n"
        "  exclude: [churned]\n  issue_label: drift\n",
        encoding="utf-8",
    )
    sh("dvc", "add", "-q", DATA, cwd=repo)
    hostile_frame(0.0).to_csv(repo / HOSTILE_PATH, index=False)  # git-tracked, not DVC
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "data v1", cwd=repo)
    sh("git", "tag", "-a", TAG, "-m", "Registered churn-model v1.0.0", cwd=repo)
    sh("git", "tag", "-a", "churn-model#production#1", "-m", "Promoted to production", cwd=repo)
    sh("dvc", "push", "-q", cwd=repo)
    sample(2, 1.0, ["basic", "pro", "enterprise"]).to_csv(repo / DATA, index=False)
    sh("dvc", "add", "-q", DATA, cwd=repo)
    sh("git", "commit", "-q", "-am", "data v2", cwd=repo)
    sh("dvc", "push", "-q", cwd=repo)
    # A sample like the reference, for the "no drift" case.
    sample(3, 0.0, ["basic", "pro"]).to_csv(base / "same.csv", index=False)
    return repo


@pytest.fixture
def in_repo(dvc_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(dvc_repo)
    return dvc_repo


def drift(*args: str) -> int:
    return main(["drift", *args])


def test_no_drift_exits_0_with_a_markdown_report(
    in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert drift("--reference", TAG, "--current", str(in_repo.parent / "same.csv")) == EXIT_OK
    out = capsys.readouterr().out
    assert "## Data drift: no drift" in out
    assert "No drift over the policy in 3 columns." in out  # `churned` is excluded
    assert f"- Reference: `{TAG}:{DATA}` (400 rows)" in out


def test_drift_against_the_tag_exits_1_and_writes_json(in_repo: Path, tmp_path: Path) -> None:
    output = tmp_path / "drift.json"
    code = drift("--reference", TAG, "--current", DATA, "--format", "json", "--output", str(output))
    assert code == EXIT_GATE_FAILED
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["drifted"] is True
    assert data["drifted_columns"] == ["age", "plan"]
    plan = next(c for c in data["columns"] if c["column"] == "plan")
    assert plan["new_categories"] == ["enterprise"]


def test_any_git_revision_is_a_reference(in_repo: Path) -> None:
    assert drift("--reference", "HEAD", "--current", DATA) == EXIT_OK
    assert drift("--reference", "HEAD~1", "--current", DATA) == EXIT_GATE_FAILED


def test_model_and_stage_resolve_to_the_version_in_that_stage(
    in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = str(in_repo.parent / "same.csv")
    assert drift("--reference", "churn-model#production", "--current", same) == EXIT_OK
    assert "- Reference: `churn-model#production:data/raw/data.csv`" in capsys.readouterr().out
    assert drift("--reference", "churn-model#production", "--current", DATA) == EXIT_GATE_FAILED
    capsys.readouterr()
    assert drift("--reference", "churn-model#staging", "--current", DATA) == EXIT_BAD_INPUT
    assert "no version of 'churn-model' is in stage 'staging'" in capsys.readouterr().err


def test_fresh_clone_reads_both_sides_through_the_dvc_remote(
    dvc_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(dvc_repo), str(clone), cwd=tmp_path)
    assert not (clone / DATA).exists()  # not pulled: DVC fetches what it needs
    monkeypatch.chdir(clone)
    assert drift("--reference", TAG, "--current", DATA, "--output", "r.md") == EXIT_GATE_FAILED
    assert "Drift over the policy in 2 of 3 columns." in (clone / "r.md").read_text()


def test_data_missing_from_cache_and_remote_is_a_tool_error(
    dvc_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(dvc_repo), str(clone), cwd=tmp_path)
    (tmp_path / "empty-remote").mkdir()
    sh(
        "dvc",
        "remote",
        "modify",
        "--local",
        "local",
        "url",
        str(tmp_path / "empty-remote"),
        cwd=clone,
    )
    monkeypatch.chdir(clone)
    assert drift("--reference", TAG, "--current", DATA) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"DVC-tracked '{DATA}' at {TAG} is in neither the DVC cache nor the remote" in err
    assert "dvc push" in err


def test_policy_thresholds_change_the_verdict(in_repo: Path, tmp_path: Path) -> None:
    lenient = tmp_path / "policy.yaml"
    lenient.write_text(
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n"
        "drift:\n  psi_max: 100\n  ks_pvalue_min: 0\n  chi2_pvalue_min: 0\n",
        encoding="utf-8",
    )
    assert drift("--reference", TAG, "--current", DATA, "--policy", str(lenient)) == EXIT_OK


def write(path: Path, text: str, encoding: str = "utf-8") -> str:
    path.write_text(text, encoding=encoding)
    return str(path)


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda t: ["--reference", "churn-model@v9.9.9", "--current", DATA], "unknown revision"),
        (lambda t: ["--reference", "--help", "--current", DATA], "expected one argument"),
        (lambda t: ["--reference", TAG, "--current", "missing.csv"], "file not found"),
        (lambda t: ["--reference", TAG, "--current", write(t / "e.csv", "")], "CSV file is empty"),
        (
            lambda t: ["--reference", TAG, "--current", write(t / "b.csv", 'a,b\n1,"2\n')],
            "not a valid CSV",
        ),
        (
            lambda t: ["--reference", TAG, "--current", write(t / "h.csv", "a,b\n")],
            "current data has no rows",
        ),
        (
            lambda t: ["--reference", TAG, "--current", DATA, "--reference-path", "nope.csv"],
            "'nope.csv' does not exist in the repository at revision",
        ),
        (
            lambda t: [
                "--reference",
                TAG,
                "--current",
                DATA,
                "--policy",
                write(t / "p.yaml", "version: 1\nmetrics: {}\ndrift:\n  psi_max: -1\n"),
            ],
            "p.yaml:4 (key 'drift.psi_max'): must be >= 0, got -1",
        ),
        (lambda t: ["--reference", TAG, "--current", DATA, "--open-issue"], "GITHUB_TOKEN"),
        (
            lambda t: ["--reference", TAG, "--current", DATA, "--output", str(t / "no/dir/r.md")],
            "cannot write the report",
        ),
        (
            lambda t: ["--reference", TAG, "--current", write(t / "l.csv", "é\n1\n", "latin-1")],
            "not UTF-8 text",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    in_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_args: object,
    message: str,
) -> None:
    args = make_args(tmp_path)  # type: ignore[operator]
    assert drift(*args) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_outside_a_git_repository_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert drift("--reference", TAG, "--current", "x.csv") == EXIT_BAD_INPUT
    assert "not inside a git repository" in capsys.readouterr().err


# --------------------------------------------------------------------------- issues


@pytest.fixture
def hub(localhub: LocalHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalHub:
    localhub.add_user("github-actions[bot]", TOKEN, type="Bot")
    localhub.add_user("alice", "alice-token")
    localhub.add_repo(REPO_NAME)
    monkeypatch.setenv("GITHUB_API_URL", localhub.api_url)
    monkeypatch.setenv("GITHUB_SERVER_URL", localhub.server_url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO_NAME)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    return localhub


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "output").read_text(encoding="utf-8").splitlines()
    return {lines[i].split("<<")[0]: lines[i + 1] for i in range(0, len(lines), 3)}


def test_drift_opens_one_issue_then_updates_it(
    in_repo: Path, hub: LocalHub, tmp_path: Path
) -> None:
    assert drift("--reference", TAG, "--current", DATA, "--open-issue") == EXIT_GATE_FAILED
    (issue,) = hub.issues(REPO_NAME)
    assert issue["title"] == "Data drift: churn-model (2 of 3 columns over policy)"
    assert [label["name"] for label in issue["labels"]] == ["drift"]
    assert issue["user"]["login"] == "github-actions[bot]"
    assert issue["body"].startswith(f"<!-- mlgitops:drift key=churn-model:{DATA} -->\n")
    assert f"Last run: {hub.server_url}/{REPO_NAME}/actions/runs/42" in issue["body"]
    assert outputs(tmp_path) == {
        "drifted": "true",
        "verdict": "drift",
        "issue-number": str(issue["number"]),
    }
    assert "## Data drift: drift detected" in (tmp_path / "summary.md").read_text()

    # A later version of the same model, with a label removed by hand: still one issue.
    sh("git", "tag", "-a", "churn-model@v1.1.0", "-m", "v1.1.0", "HEAD~1", cwd=in_repo)
    try:
        hub.clear_requests()
        code = drift("--reference", "churn-model@v1.1.0", "--current", DATA, "--open-issue")
    finally:
        sh("git", "tag", "-d", "churn-model@v1.1.0", cwd=in_repo)
    assert code == EXIT_GATE_FAILED
    (updated,) = hub.issues(REPO_NAME)
    assert updated["number"] == issue["number"]
    assert "`churn-model@v1.1.0:data/raw/data.csv`" in updated["body"]
    calls = [(r.method, r.path) for r in hub.requests]
    assert [m for m, _ in calls].count("POST") == 0
    assert len(calls) <= 3, calls


def test_hostile_column_names_stay_inert_in_the_issue(
    in_repo: Path, hub: LocalHub, tmp_path: Path
) -> None:
    current = tmp_path / "hostile.csv"
    hostile_frame(2.0).to_csv(current, index=False)
    args = ["--reference", TAG, "--reference-path", HOSTILE_PATH, "--current", str(current)]
    assert drift(*args, "--open-issue") == EXIT_GATE_FAILED
    (issue,) = hub.issues(REPO_NAME)
    body = issue["body"]
    outside_code = re.sub(r"(`+).*?\1", "", body)
    for live in ("@octocat", "<img", "#1 ", "line\nbreak"):
        assert live not in outside_code
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert len(rows) == len(HOSTILE_NAMES)
    assert "| `a\\|b` |" in body


def test_no_drift_makes_no_api_calls(in_repo: Path, hub: LocalHub) -> None:
    same = str(in_repo.parent / "same.csv")
    assert drift("--reference", TAG, "--current", same, "--open-issue") == EXIT_OK
    assert hub.requests == []
    assert hub.issues(REPO_NAME) == []


def test_a_closed_drift_issue_is_not_reopened_a_new_one_is_opened(
    in_repo: Path, hub: LocalHub
) -> None:
    assert drift("--reference", TAG, "--current", DATA, "--open-issue") == EXIT_GATE_FAILED
    (first,) = hub.issues(REPO_NAME)
    request = urllib.request.Request(
        f"{hub.api_url}/repos/{REPO_NAME}/issues/{first['number']}",
        data=json.dumps({"state": "closed"}).encode(),
        headers={"Authorization": "token alice-token", "Content-Type": "application/json"},
        method="PATCH",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert drift("--reference", TAG, "--current", DATA, "--open-issue") == EXIT_GATE_FAILED
    issues = hub.issues(REPO_NAME)
    assert [(i["number"], i["state"]) for i in issues] == [
        (first["number"], "closed"),
        (first["number"] + 1, "open"),
    ]


def test_another_models_issue_is_left_alone(in_repo: Path, hub: LocalHub) -> None:
    args = ["--reference", TAG, "--current", DATA, "--open-issue"]
    assert drift(*args, "--model", "other-model") == EXIT_GATE_FAILED
    assert drift(*args) == EXIT_GATE_FAILED
    titles = sorted(issue["title"] for issue in hub.issues(REPO_NAME))
    assert titles == [
        "Data drift: churn-model (2 of 3 columns over policy)",
        "Data drift: other-model (2 of 3 columns over policy)",
    ]


def test_github_failure_is_a_tool_error(
    in_repo: Path, hub: LocalHub, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.inject_fault("POST", r"/issues$", 422, times=-1)
    assert drift("--reference", TAG, "--current", DATA, "--open-issue") == EXIT_BAD_INPUT
    assert "issue" in capsys.readouterr().err


def test_runs_leave_the_repository_clean(dvc_repo: Path) -> None:
    assert sh("git", "status", "--porcelain", cwd=dvc_repo) == ""


# --------------------------------------------------------------------------- retraining


@pytest.fixture
def clone(dvc_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private clone with a license in the data's .dvc file, as `mlgitops init` writes."""
    repo = tmp_path / "clone"
    sh("git", "clone", "-q", str(dvc_repo), str(repo), cwd=tmp_path)
    dvc_file = repo / f"{DATA}.dvc"
    dvc_file.write_text(
        dvc_file.read_text(encoding="utf-8") + "meta:\n  license: CC0-1.0\n", encoding="utf-8"
    )
    sh("git", "commit", "-q", "-am", "Declare the data license", cwd=repo)
    monkeypatch.chdir(repo)
    return repo


def test_retrain_branch_commits_the_current_data_as_a_new_version(
    clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    current = tmp_path / "fresh.csv"
    sample(9, 1.0, ["basic", "pro", "enterprise"]).to_csv(current, index=False)
    branch = "retrain/churn-model-2026-11-26"
    args = ["--reference", TAG, "--current", str(current), "--retrain-branch", branch]
    assert drift(*args) == EXIT_GATE_FAILED
    assert sh("git", "branch", "--show-current", cwd=clone).strip() == branch
    assert sh("git", "log", "-1", "--format=%s", cwd=clone).strip() == (
        f"Retrain churn-model on current data (drift against {TAG})"
    )
    changed = sh("git", "diff", "--name-only", "HEAD~1", "HEAD", cwd=clone).split()
    assert changed == [f"{DATA}.dvc"]
    dvc_text = (clone / f"{DATA}.dvc").read_text(encoding="utf-8")
    digest = hashlib.md5(current.read_bytes()).hexdigest()
    assert f"md5: {digest}" in dvc_text
    assert "license: CC0-1.0" in dvc_text
    assert sh("git", "status", "--porcelain", cwd=clone) == ""
    assert outputs(tmp_path)["retrain-branch"] == branch


def test_retrain_branch_is_checked_before_any_work(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = tmp_path / "fresh.csv"
    sample(9, 1.0, ["basic"]).to_csv(current, index=False)
    args = ["--reference", TAG, "--current", str(current), "--retrain-branch"]
    assert drift(*args, "main") == EXIT_BAD_INPUT
    assert "branch 'main' already exists" in capsys.readouterr().err
    assert drift(*args, "bad..name") == EXIT_BAD_INPUT
    assert "not a valid branch name" in capsys.readouterr().err
    (clone / "governance/policy.yaml").write_text("version: 1\nmetrics: {}\n")
    assert drift(*args, "retrain/x") == EXIT_BAD_INPUT
    assert "uncommitted changes" in capsys.readouterr().err
    sh("git", "checkout", "--", "governance/policy.yaml", cwd=clone)
    assert drift(*args[:3], DATA, "--retrain-branch", "retrain/x") == EXIT_BAD_INPUT
    assert "needs --current to be a CSV file on disk" in capsys.readouterr().err
    assert sh("git", "branch", "--list", "retrain/*", cwd=clone) == ""


def test_no_drift_no_retrain_branch(clone: Path, dvc_repo: Path) -> None:
    same = str(dvc_repo.parent / "same.csv")
    args = ["--reference", TAG, "--current", same, "--retrain-branch", "retrain/x"]
    assert drift(*args) == EXIT_OK
    assert sh("git", "branch", "--list", "retrain/*", cwd=clone) == ""
