"""Every markdown body the bots post, rendered as GitHub renders it.

The bodies come from the CLI and the demo, the way a workflow gets them: the sticky PR
comment (report + governance), the release notes, the history, the drift issue. Each is
rendered by cmark-gfm (tables with one width, every <details> closed, only HTML GitHub
keeps, no markdown escape shown literally) and each Mermaid block is parsed by Mermaid.
A small repository with 50 promoted versions carries the extreme values: 0, 1, 1e-9,
4,279,470, negatives, flat lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from helpers.demo import demo_run
from helpers.rendering import check_markdown, parse_mermaid, require_mermaid

from localhub.server import LocalHub
from mlgitops.proc import dvc, git

pytestmark = pytest.mark.slow

REPOSITORY = "acme/breast-cancer-classifier"
MODEL = "breast-cancer-classifier-model"
VERSIONS = 50


def mlgitops(*args: str, cwd: Path, codes: tuple[int, ...] = (0,), **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**__import__("os").environ, **env},
    )
    assert result.returncode in codes, result.stdout + result.stderr
    return result.stdout


def assert_renders(name: str, markdown: str) -> list[dict[str, Any]]:
    """The body renders cleanly; returns what Mermaid read from each of its charts."""
    rendered = check_markdown(markdown)
    assert rendered.problems == [], f"{name}: {rendered.problems}"
    if not rendered.mermaid:
        return []
    require_mermaid()
    results = parse_mermaid(rendered.mermaid)
    for result in results:
        assert result["ok"], f"{name}: Mermaid says {result['error']}"
    return results


# ----------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo() -> Path:
    run = demo_run()  # the one run tests/integration/test_demo.py checks
    assert run.returncode == 0, run.stdout + run.stderr
    return run.workdir


def _state(demo: Path) -> dict[str, Any]:
    state = json.loads((demo / "github-state.json").read_text(encoding="utf-8"))
    repo: dict[str, Any] = state["repos"][REPOSITORY]
    return repo


def test_the_pr_comments_render(demo: Path) -> None:
    comments = list(_state(demo)["comments"].values())
    assert len(comments) == 3  # PR #1, PR #2 and the retraining pull request
    for comment in comments:
        charts = assert_renders(f"comment on #{comment['issue']}", comment["body"])
        charted = {plot["title"] for chart in charts for plot in chart["plots"]}
        # every metric with a policy rule, recall included
        assert charted == {"accuracy", "f1", "precision", "recall", "roc_auc"}


def test_the_deploy_and_retraining_bodies_render(demo: Path) -> None:
    issues = list(_state(demo)["issues"].values())
    bot = [i for i in issues if i["author"]["login"] == "github-actions[bot]"]
    # five deploy PRs, the drift issue and the retraining pull request
    assert len(bot) == 7
    for issue in bot:
        assert_renders(f"#{issue['number']} {issue['title']}", issue["body"])


def test_the_release_notes_render(demo: Path) -> None:
    releases = list(_state(demo)["releases"].values())
    assert len(releases) == 2
    for release in releases:
        assert_renders(f"release {release['tag_name']}", release["body"])


def test_history_and_governance_render(demo: Path) -> None:
    project = demo / "breast-cancer-classifier"
    assert_renders("history", mlgitops("history", "--format", "md", cwd=project))
    governance = mlgitops("govern", "--format", "md", cwd=project)
    assert_renders("govern", governance)
    git("switch", "-q", "stronger-regularisation", cwd=project)
    dvc("checkout", "-q", cwd=project)
    try:
        failed = mlgitops("govern", "--base", "main", "--format", "md", cwd=project, codes=(1,))
        assert_renders("govern (failing)", failed)
        report = mlgitops("report", "--base", "main", "--format", "md", cwd=project)
        assert_renders("report", report)
    finally:
        git("switch", "-q", "main", cwd=project)
        dvc("checkout", "-q", cwd=project)


def test_the_drift_issue_renders(demo: Path) -> None:
    project = demo / "breast-cancer-classifier"
    data = pd.read_csv(project / "data/raw/data.csv")
    shifted = data.assign(**{"mean radius": data["mean radius"] * 1.5})
    current = demo / "current.csv"
    shifted.to_csv(current, index=False)
    report = mlgitops(
        "drift", "--reference", f"{MODEL}@v1.1.0", "--current", str(current), "--format", "md",
        cwd=project, codes=(1,),
    )  # fmt: skip
    assert_renders("drift report", report)
    with LocalHub() as hub:
        hub.add_user("github-actions[bot]", "ghs_bot", type="Bot")
        hub.add_repo(REPOSITORY)
        mlgitops(
            "drift", "--reference", f"{MODEL}@v1.1.0", "--current", str(current), "--open-issue",
            cwd=project, codes=(1,), GITHUB_TOKEN="ghs_bot", GITHUB_REPOSITORY=REPOSITORY,
            GITHUB_API_URL=hub.api_url,
        )  # fmt: skip
        (issue,) = hub.issues(REPOSITORY)
    assert_renders("drift issue", issue["body"])


# ----------------------------------------------------------------------------- extremes
def _values(version: int) -> dict[str, Any]:
    return {
        "accuracy": version % 2,  # 0 and 1
        "error_rate": 1e-9 * (1 + version % 3),
        "rmse": 4279470.0 + version * 1000,
        "r2": -0.5 + version / 100,
        "flat": 0.5,
        "unruled": 12,
    }


@pytest.fixture(scope="module")
def extremes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo = tmp_path_factory.mktemp("extremes") / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    dvc("init", "-q", cwd=repo)
    policy = {
        "version": 1,
        "metrics": {
            "accuracy": {"higher_is_better": True, "min": 0.5},
            "error_rate": {"higher_is_better": False},
            "rmse": {"higher_is_better": False, "max_regression": {"relative": 0.05}},
            "r2": {"higher_is_better": True},
            "flat": {"higher_is_better": True},
        },
    }
    (repo / "governance").mkdir()
    (repo / "governance/policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    dvc_yaml = {
        "metrics": ["reports/metrics.json"],
        "params": ["params.yaml"],
        "artifacts": {
            "model": {
                "path": "model.pkl",
                "type": "model",
                "meta": {"metrics": "reports/metrics.json"},
            }
        },
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml), encoding="utf-8")
    (repo / "reports").mkdir()
    for version in range(VERSIONS):
        (repo / "reports/metrics.json").write_text(json.dumps(_values(version)), encoding="utf-8")
        params = {"train": {"C": 10.0**-version, "name": "a|b `c` <b>x</b>", "big": 4279470.0}}
        (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", f"version {version}", cwd=repo)
        git(
            "tag",
            "-a",
            f"model@v1.{version}.0",
            "-m",
            f"Registering model@v1.{version}.0",
            cwd=repo,
        )
    git("switch", "-q", "-c", "pr", cwd=repo)
    head = {**_values(0), "accuracy": 1e-9, "rmse": -4e6, "r2": None, "unruled": "n/a"}
    (repo / "reports/metrics.json").write_text(json.dumps(head), encoding="utf-8")
    git("commit", "-q", "-am", "head", cwd=repo)
    yield repo


def test_fifty_versions_of_extreme_values_render_and_parse(extremes: Path) -> None:
    report = mlgitops(
        "report", "--base", "main", "--history", str(VERSIONS), "--format", "md", cwd=extremes
    )
    charts = assert_renders("report with extremes", report)
    lines = {plot["title"]: plot["values"] for chart in charts for plot in chart["plots"]}
    assert set(lines) == {"accuracy", "error_rate", "rmse", "flat"}  # r2 is null at head
    assert lines["rmse"] == [4279470.0 + v * 1000 for v in range(VERSIONS)] + [-4e6]
    error_rates = [_values(v)["error_rate"] for v in range(VERSIONS)] + [_values(0)["error_rate"]]
    assert lines["error_rate"] == error_rates
    assert lines["accuracy"][-1] == 1e-9
    assert all(len(chart["categories"]) == VERSIONS + 1 for chart in charts)


def test_governance_and_history_of_extremes_render(extremes: Path) -> None:
    governance = mlgitops(
        "govern", "--base", "main", "--format", "md", "--no-dvc-status", cwd=extremes,
        codes=(0, 1),
    )  # fmt: skip
    assert_renders("govern with extremes", governance)
    assert_renders("history of 50", mlgitops("history", "--format", "md", cwd=extremes))
