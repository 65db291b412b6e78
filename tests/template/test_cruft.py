"""Keeping generated repositories up to date with cruft, offline.

The template "repository" is a git repository in a temporary folder holding a copy of
this repo's `cookiecutter.json` and `template/`; commit A is baked with
`cruft create --directory template`, then the tests commit template changes (B, ...)
and update the baked project with `cruft update`.

Non-interactive flags (cruft 2.16): `cruft create --no-input`, `cruft update
--skip-apply-ask` (`-y`; without it cruft asks "Apply diff and update?"), and
`--allow-untracked-files` so that a project with untracked files (e.g. a local
`.venv`) can still be updated. Every command runs with stdin closed, so a prompt
would fail the test instead of hanging it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each cruft command renders the template (~1-2 s)

ROOT = Path(__file__).resolve().parents[2]
SLUG = "cruft-demo"
CONTEXT = {"project_name": "Cruft Demo", "project_slug": SLUG}
PARAMS = "template/{{cookiecutter.project_slug}}/params.yaml"


def run(*command: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    if command[0] == "cruft":  # the venv's cruft, whether or not the venv is on PATH
        command = (sys.executable, "-m", "cruft", *command[1:])
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def commit_all(repo: Path, message: str) -> str:
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-q", "-m", message, cwd=repo)
    return run("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(template repo at commit A, project baked from A and committed, A)."""
    base = tmp_path_factory.mktemp("cruft")
    template = base / "template-repo"
    template.mkdir()
    shutil.copy2(ROOT / "cookiecutter.json", template / "cookiecutter.json")
    shutil.copytree(
        ROOT / "template",
        template / "template",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"),
    )
    run("git", "init", "-q", "-b", "main", cwd=template)
    commit_a = commit_all(template, "template A")
    out = base / "out"
    run(
        "cruft",
        "create",
        "--no-input",
        "--directory",
        "template",
        "--output-dir",
        str(out),
        "--extra-context",
        json.dumps(CONTEXT),
        str(template),
        cwd=base,
    )
    project = out / SLUG
    return template, project, commit_a


@pytest.fixture
def workspace(baked: tuple[Path, Path, str], tmp_path: Path) -> tuple[Path, Path]:
    """A private template clone and a private git copy of the baked project."""
    template, project, _ = baked
    own_template = tmp_path / "template-repo"
    run("git", "clone", "-q", str(template), str(own_template), cwd=tmp_path)
    own_project = tmp_path / SLUG
    shutil.copytree(project, own_project)
    # The template moved (as when a template repository is renamed): point at the clone.
    state_path = own_project / ".cruft.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    state["template"] = str(own_template)
    state_path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    run("git", "init", "-q", "-b", "main", cwd=own_project)
    commit_all(own_project, "Bake from template A")
    return own_template, own_project


def test_create_records_the_template_directory_and_commit(
    baked: tuple[Path, Path, str],
) -> None:
    _, project, commit_a = baked
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["directory"] == "template"
    assert state["commit"] == commit_a
    assert state["context"]["cookiecutter"]["project_slug"] == SLUG
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".yaml", ".md", ".toml", ".json"}:
            assert "{{" not in path.read_text(encoding="utf-8"), path
    assert not (project / ".git").exists()  # hooks must not git-init: it breaks cruft update
    assert not (project / ".dvc").exists()
    result = run("cruft", "check", "--project-dir", str(project), cwd=project)
    assert "up to date" in result.stdout


def test_update_applies_template_change_and_keeps_user_edit(
    workspace: tuple[Path, Path],
) -> None:
    template, project = workspace
    readme = project / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8") + "\n## Team notes\n\nOwned by the data team.\n",
        encoding="utf-8",
    )
    commit_all(project, "Our notes")

    replace_in(template / PARAMS, "  test_size: 0.2\n", "  test_size: 0.25\n")
    commit_b = commit_all(template, "template B: larger test split")

    check = run("cruft", "check", "--project-dir", str(project), cwd=project, check=False)
    assert check.returncode == 1
    assert "out of date" in check.stdout

    update = run("cruft", "update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)
    assert "has been updated" in update.stdout
    params = (project / "params.yaml").read_text(encoding="utf-8")
    assert "  test_size: 0.25\n" in params
    assert readme.read_text(encoding="utf-8").endswith("Owned by the data team.\n")
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == commit_b
    # The update is left for the user to review and commit; then the check passes.
    changed = run("git", "status", "--porcelain", cwd=project).stdout.splitlines()
    assert sorted(line[3:] for line in changed) == [".cruft.json", "params.yaml"]
    commit_all(project, "Update from template B")
    assert run("cruft", "check", cwd=project).returncode == 0


def test_untracked_files_need_the_allow_flag(workspace: tuple[Path, Path]) -> None:
    template, project = workspace
    replace_in(template / PARAMS, "  test_size: 0.2\n", "  test_size: 0.3\n")
    commit_all(template, "template B")
    (project / "scratch.txt").write_text("local notes\n", encoding="utf-8")
    refused = run("cruft", "update", "--skip-apply-ask", cwd=project, check=False)
    assert "unclean git project" in refused.stdout + refused.stderr
    assert "  test_size: 0.2\n" in (project / "params.yaml").read_text(encoding="utf-8")
    run("cruft", "update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)
    assert "  test_size: 0.3\n" in (project / "params.yaml").read_text(encoding="utf-8")


def _conflicting_edits(template: Path, project: Path) -> None:
    replace_in(project / "params.yaml", "  seed: 42\n", "  seed: 7\n")
    replace_in(template / PARAMS, "  seed: 42\n", "  seed: 1234\n")
    commit_all(template, "template B: new default seed")


def test_conflicting_edit_is_reported_with_conflict_markers(
    workspace: tuple[Path, Path],
) -> None:
    template, project = workspace
    _conflicting_edits(template, project)
    commit_all(project, "Our seed")
    update = run("cruft", "update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)
    # cruft exits 0 here: the conflict is in its output and in git's index.
    assert "Applied patch to 'params.yaml' with conflicts." in update.stderr
    unmerged = run("git", "diff", "--name-only", "--diff-filter=U", cwd=project).stdout.split()
    assert unmerged == ["params.yaml"]
    params = (project / "params.yaml").read_text(encoding="utf-8")
    assert "<<<<<<< ours\n  seed: 7\n=======\n  seed: 1234\n>>>>>>> theirs\n" in params


def test_conflicting_edit_outside_git_leaves_a_rej_file(workspace: tuple[Path, Path]) -> None:
    template, project = workspace
    shutil.rmtree(project / ".git")
    _conflicting_edits(template, project)
    update = run("cruft", "update", "--skip-apply-ask", cwd=project)
    assert "*.rej files" in update.stdout + update.stderr
    rejected = (project / "params.yaml.rej").read_text(encoding="utf-8")
    assert "+  seed: 1234" in rejected
    assert "  seed: 7\n" in (project / "params.yaml").read_text(encoding="utf-8")
