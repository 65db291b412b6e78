"""`mlgitops demo`: the README's main-job command, run for real on the bundled dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = "acme/breast-cancer-classifier"
MODEL = "breast-cancer-classifier-model"


@pytest.mark.slow
def test_demo_runs_the_whole_lifecycle_offline(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", "demo", "--output", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # The bare "GitHub" repository received one annotated version tag per promotion.
    tags = subprocess.run(
        ["git", "for-each-ref", "--format=%(objecttype) %(refname:short)", "refs/tags"],
        cwd=workdir / "origin.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert [t for t in tags if t] == [f"tag {MODEL}@v1.0.0", f"tag {MODEL}@v1.1.0"]

    state = json.loads((workdir / "github-state.json").read_text(encoding="utf-8"))
    repo = state["repos"][REPOSITORY]
    comments = {c["issue"]: c for c in repo["comments"].values()}
    # One sticky comment per PR, written by the bot (on #1 the comment step ran twice).
    assert len(repo["comments"]) == 2 and sorted(comments) == [1, 2]
    improving, blocked = comments[1]["body"], comments[2]["body"]
    assert "`train.model` | `random_forest` | `logistic_regression`" in improving
    assert "🟢 4 better, 1 unchanged" in improving and "Governance passed" in improving
    assert "🔴" in blocked and "Governance failed" in blocked
    assert "| ❌ | `metric.regression` | recall |" in blocked
    # The required check as the reviewer sees it: green on #1, red on #2.
    issues = repo["issues"].values()
    states = {
        i["number"]: [s["state"] for s in repo["statuses"][i["pull"]["head_sha"]]] for i in issues
    }
    assert states == {1: ["success"], 2: ["failure"]}
    assert {i["number"]: i["pull"]["merged"] for i in issues} == {1: True, 2: False}
    assert "❌ governance/policy.yaml:25" in result.stdout  # recall's max_regression line
    assert "PR #2 stays open" in result.stdout
    # Only the improving PR was released; a second promote run added nothing.
    releases = list(repo["releases"].values())
    assert sorted(r["tag_name"] for r in releases) == [f"{MODEL}@v1.0.0", f"{MODEL}@v1.1.0"]
    assert "already promoted" in result.stdout
    assert "Lifecycle finished" in result.stdout
    # Each version is signed at promotion (a demo key) and verified by key.
    for version in ("v1.0.0", "v1.1.0"):
        assert f"{MODEL}@{version}: signed with key signing.key" in result.stdout
    assert "ok      signature" in result.stdout and "FAILED" not in result.stdout
    for release in releases:
        names = sorted(asset["name"] for asset in release.get("assets", []))
        assert names == ["model.sig", "provenance.intoto.json"], release["tag_name"]


def test_demo_refuses_a_non_empty_output_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", "demo", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{tmp_path}: the output folder is not empty" in result.stderr
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "user data"
