"""How many subprocesses `report`, `govern` and `promote` start (counted from outside).

Each command reads the repository through one workspace built once per command, so
the counts stay small and constant: no `git rev-parse --verify` of full SHAs, one
`git fetch` of the tags per run, one DVC pass for every revision a report needs.
The counts come from an audit hook in a sitecustomize (tests/helpers/subprocesses.py).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from helpers.subprocesses import run_counted
from test_govern import DVC_YAML, PARAMS, POLICY, TRAIN
from test_promotion_support import Sandbox
from test_report import commit

from mlgitops.proc import dvc, git

pytestmark = pytest.mark.slow  # real git + DVC repositories (tests/README.md)

FULL_SHA = re.compile(r"[0-9a-f]{40}")


def verified_shas(commands: list[list[str]]) -> list[str]:
    """Arguments of `git rev-parse --verify` that already were full SHAs."""
    return [
        word
        for argv in commands
        if argv[:3] == ["git", "rev-parse", "--verify"] or "--verify" in argv[:6]
        for word in argv
        if FULL_SHA.match(word)
    ]


@pytest.fixture(scope="module")
def report_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main with a promoted version, then a PR branch that changes metrics and params."""
    repo = tmp_path_factory.mktemp("count-report") / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    dvc("init", "-q", cwd=repo)
    models = {"churn": "reports/metrics.json"}
    commit(repo, "v1", metrics={"accuracy": 0.8}, params={"t": 0}, models=models)
    git("tag", "-a", "-m", "v1", "churn@v1.0.0", cwd=repo)
    commit(repo, "train", metrics={"accuracy": 0.9}, params={"t": 1})
    git("checkout", "-q", "-b", "pr", cwd=repo)
    commit(repo, "tune", metrics={"accuracy": 0.92}, params={"t": 2})
    return repo


@pytest.fixture(scope="module")
def govern_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("count-govern") / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    dvc("init", "-q", cwd=repo)
    (repo / "data" / "raw").mkdir(parents=True)
    (repo / "data" / "raw" / "data.csv").write_text("x,y\n1,0\n2,1\n")
    dvc("add", "-q", "data/raw/data.csv", cwd=repo)
    dvc_file = repo / "data" / "raw" / "data.csv.dvc"
    dvc_file.write_text(dvc_file.read_text() + "meta:\n  license: CC-BY-4.0\n")
    (repo / "train.py").write_text(TRAIN)
    (repo / "dvc.yaml").write_text(DVC_YAML.replace("python", sys.executable, 1))
    (repo / "params.yaml").write_text(PARAMS)
    (repo / "governance").mkdir()
    (repo / "governance" / "policy.yaml").write_text(POLICY)
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text("/governance/ @acme/ml-leads\n")
    dvc("repro", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "base", cwd=repo)
    git("switch", "-q", "-c", "feature", cwd=repo)
    return repo


def test_report_subprocesses(report_repo: Path, tmp_path: Path) -> None:
    run = run_counted(["report", "--base", "main"], report_repo, tmp_path / "log")
    assert run.returncode == 0, run.output
    print(f"report: {len(run.commands)}\n{run.summary()}")
    assert verified_shas(run.commands) == [], run.summary()
    assert run.count("git", "rev-parse", "--verify") == 1, run.summary()  # `main` only
    assert run.count("dvc") == 0, run.summary()  # DVC is read in-process, in one pass
    assert len(run.commands) <= 6, run.summary()


def test_govern_subprocesses(govern_repo: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(govern_repo, repo, symlinks=True)
    run = run_counted(["govern", "--base", "main"], repo, tmp_path / "log")
    assert run.returncode == 0, run.output
    print(f"govern: {len(run.commands)}\n{run.summary()}")
    assert verified_shas(run.commands) == [], run.summary()
    assert run.count("git", "rev-parse", "--verify") == 1, run.summary()  # `main` only
    assert run.count("dvc") == 0, run.summary()  # `dvc status` runs in-process, one DVC pass
    assert len(run.commands) <= 8, run.summary()


def test_promote_to_staging_subprocesses(pristine: Sandbox, tmp_path: Path) -> None:
    sandbox = pristine.copy(tmp_path / "sandbox")
    env = {"GITHUB_REPOSITORY": "", "GITHUB_TOKEN": ""}
    run = run_counted(["promote", "--stage", "staging"], sandbox.work, tmp_path / "log", env)
    assert run.returncode == 0, run.output
    assert set(sandbox.origin_tags()) == {"demo-model@v0.1.0", "demo-model#staging#1"}
    print(f"promote --stage staging: {len(run.commands)}\n{run.summary()}")
    assert run.count("git", "fetch") == 1, run.summary()  # the tag history, once per run
    assert verified_shas(run.commands) == [], run.summary()
    assert len(run.commands) <= 20, run.summary()
