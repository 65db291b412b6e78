"""The pull-data action's check: tracked inputs missing after `dvc pull` are named before repro.

A real git + DVC project in a temp dir, with a tracked input that its DVC remote cannot
provide (the situation of a fork whose remote is private): the check must name it, where
`dvc repro` would only stop with "missing data 'source'".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_files import ROOT

from mlgitops import proc

SCRIPT = ROOT / "actions" / "pull-data" / "missing_data.py"
pytestmark = pytest.mark.slow  # real dvc, several seconds per test


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "dev@localhost")
    git(repo, "config", "user.name", "dev")
    proc.dvc("init", "-q", cwd=repo)
    (repo / "data" / "raw.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    proc.dvc("add", "-q", "data/raw.csv", cwd=repo)
    (repo / "tracked dir").mkdir()
    (repo / "tracked dir" / "f.txt").write_text("x", encoding="utf-8")
    proc.dvc("add", "-q", "tracked dir", cwd=repo)
    (repo / "dvc.yaml").write_text(
        "stages:\n  copy:\n    cmd: cp data/raw.csv out.csv\n    deps: [data/raw.csv]\n"
        "    outs: [out.csv]\n",
        encoding="utf-8",
    )
    proc.dvc("remote", "add", "-d", "private", str(tmp_path / "unreachable-remote"), cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    return repo


def check(repo: Path, tmp_path: Path) -> tuple[int, str, dict[str, str]]:
    output = tmp_path / "github-output"
    output.write_text("", encoding="utf-8")
    env = dict(os.environ, RUNNER_TEMP=str(tmp_path), GITHUB_OUTPUT=str(output))
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=repo, env=env, capture_output=True, text=True
    )
    outputs = dict(line.split("=", 1) for line in output.read_text("utf-8").splitlines())
    return result.returncode, result.stdout, outputs


def test_everything_present_is_complete(project: Path, tmp_path: Path) -> None:
    code, stdout, outputs = check(project, tmp_path)
    assert code == 0, stdout
    assert outputs["complete"] == "true"
    assert Path(outputs["missing-file"]).read_text(encoding="utf-8") == ""


def test_inputs_the_remote_cannot_give_are_named(project: Path, tmp_path: Path) -> None:
    """As in a fresh checkout whose private remote gave nothing (the cache is gone too)."""
    (project / "data" / "raw.csv").unlink()
    (project / "tracked dir" / "f.txt").unlink()
    (project / "tracked dir").rmdir()
    subprocess.run(["rm", "-rf", str(project / ".dvc" / "cache")], check=True)
    pulled = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "pull", "--allow-missing"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert not (project / "data" / "raw.csv").exists(), pulled.stdout + pulled.stderr
    code, stdout, outputs = check(project, tmp_path)
    assert code == 0, stdout
    assert outputs["complete"] == "false"
    listing = Path(outputs["missing-file"]).read_text(encoding="utf-8")
    assert listing == "- `data/raw.csv`\n- `tracked dir`\n"
    assert "::warning::DVC-tracked input data/raw.csv is missing" in stdout
    # What the check spares the pull request: repro cannot run without the input.
    repro = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "repro"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert repro.returncode != 0


def test_pipeline_outputs_are_not_inputs(project: Path, tmp_path: Path) -> None:
    """out.csv comes from a stage: missing, it is rebuilt, so it does not count."""
    code, stdout, outputs = check(project, tmp_path)
    assert code == 0, stdout
    assert not (project / "out.csv").exists()
    assert outputs["complete"] == "true"


def test_a_hostile_path_is_shown_through_the_escaper(project: Path, tmp_path: Path) -> None:
    (project / "evil.dvc").write_text(
        "outs:\n- path: '<img src=https://x.example/a.png>`|'\n  md5: 0\n", encoding="utf-8"
    )
    git(project, "add", "evil.dvc")
    _code, _stdout, outputs = check(project, tmp_path)
    listing = Path(outputs["missing-file"]).read_text(encoding="utf-8")
    assert listing.startswith("- ``")  # a code span
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(listing)
    assert "<img" not in html and "<code>" in html  # shown as text, never as an image
