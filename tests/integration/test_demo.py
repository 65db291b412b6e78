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
    # Two runs of the comment step, one sticky comment, written by the bot.
    comments = list(repo["comments"].values())
    assert len(comments) == 1
    body = comments[0]["body"]
    assert "train.random_forest.n_estimators" in body
    assert "Governance passed" in body or "Governance failed" in body
    # A second promote run on the same commit added no release.
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
