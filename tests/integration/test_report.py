"""`mlgitops report` on real git + DVC repositories.

Small repositories declare their metrics and params to DVC in dvc.yaml and commit
hand-written values, so each case sets exactly the history it needs; a baked template
repository (slow) checks the whole flow on a real pipeline against `dvc metrics diff`.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from mlgitops.cli import main
from mlgitops.errors import InputError, ToolError
from mlgitops.io.workspace import Workspace
from mlgitops.proc import dvc, git
from mlgitops.services.report import ReportRequest, build_report

pytestmark = pytest.mark.slow  # runs dvc repro and reads DVC metrics at several revisions

POLICY = {"version": 1, "metrics": {"accuracy": {"higher_is_better": True}}}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def dvc_yaml(models: dict[str, str]) -> dict[str, Any]:
    return {
        "metrics": sorted(set(models.values())),
        "params": ["params.yaml"],
        "artifacts": {
            name: {"path": f"models/{name}.pkl", "type": "model", "meta": {"metrics": file}}
            for name, file in models.items()
        },
    }


def commit(
    repo: Path,
    message: str,
    *,
    metrics: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    models: dict[str, str] | None = None,
    files: dict[str, Any] | None = None,
) -> str:
    if models is not None:
        (repo / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml(models)), encoding="utf-8")
    if metrics is not None:
        write_json(repo / "reports/metrics.json", metrics)
    if params is not None:
        (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    for name, data in (files or {}).items():
        write_json(repo / name, data)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture
def new_repo(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "repo", policy: dict[str, Any] | None = POLICY) -> Path:
        repo = tmp_path / name
        repo.mkdir()
        git("init", "-q", "-b", "main", cwd=repo)
        dvc("init", "-q", cwd=repo)
        if policy is not None:
            (repo / "governance").mkdir()
            (repo / "governance/policy.yaml").write_text(yaml.safe_dump(policy))
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "init", cwd=repo)
        return repo

    return make


def report_of(repo: Path, **request: Any) -> dict[str, Any]:
    from mlgitops.core.markdown.report import report_to_dict

    return report_to_dict(build_report(Workspace.open(repo), ReportRequest(**request)))


def metric_rows(data: dict[str, Any], model: int = 0) -> dict[str, tuple[Any, Any, str]]:
    return {
        m["name"]: (
            m["base"] and m["base"]["raw"],
            m["head"] and m["head"]["raw"],
            m["change"],
        )
        for m in data["models"][model]["metrics"]
    }


def test_pr_branch_against_merge_base(new_repo: Callable[..., Path]) -> None:
    repo = new_repo()
    models = {"churn": "reports/metrics.json"}
    base = commit(
        repo, "train", metrics={"accuracy": 0.90, "loss": 0.3}, params={"t": 1}, models=models
    )
    git("checkout", "-q", "-b", "pr", cwd=repo)
    commit(repo, "tune", metrics={"accuracy": 0.92, "loss": 0.3, "f1": 0.8}, params={"t": 2})
    git("checkout", "-q", "main", cwd=repo)
    commit(repo, "main moved on", metrics={"accuracy": 0.99, "loss": 0.1}, params={"t": 9})
    git("checkout", "-q", "pr", cwd=repo)

    data = report_of(repo, base="main")
    assert data["base"] == {"label": "main", "sha": base, "kind": "merge-base"}
    assert data["head"]["kind"] == "workspace" and data["head"]["label"] == "working tree"
    assert metric_rows(data) == {
        "accuracy": (0.90, 0.92, "better"),
        "loss": (0.3, 0.3, "unchanged"),
        "f1": (None, 0.8, "added"),
    }
    assert data["params"] == [{"name": "t", "base": 1, "head": 2, "change": "changed"}]
    assert data["models"][0]["name"] == "churn"

    # --head names a revision instead of the working tree
    (repo / "reports/metrics.json").write_text('{"accuracy": 0.5}')
    data = report_of(repo, base="main", head="pr")
    assert data["head"]["kind"] == "ref" and metric_rows(data)["accuracy"][1] == 0.92


def test_uncommitted_working_tree_is_the_default_head(new_repo: Callable[..., Path]) -> None:
    repo = new_repo()
    commit(repo, "train", metrics={"accuracy": 0.9}, models={"m": "reports/metrics.json"})
    write_json(repo / "reports/metrics.json", {"accuracy": 0.8})
    data = report_of(repo, base="main")
    assert data["head"]["label"] == "working tree (uncommitted changes)"
    assert metric_rows(data)["accuracy"] == (0.9, 0.8, "worse")


def test_no_metrics_at_base_falls_back_to_last_promoted_tag(
    new_repo: Callable[..., Path],
) -> None:
    repo = new_repo()
    models = {"churn": "reports/metrics.json"}
    commit(repo, "v1", metrics={"accuracy": 0.80}, params={"t": 1}, models=models)
    git("tag", "-a", "churn@v1.0.0", "-m", "v1", cwd=repo)
    v2 = commit(repo, "v2", metrics={"accuracy": 0.85}, params={"t": 2})
    git("tag", "-a", "churn@v1.1.0", "-m", "v2", cwd=repo)
    commit(repo, "v10 deregistered", metrics={"accuracy": 0.1})
    git("tag", "-a", "churn@v1.10.0", "-m", "bad", cwd=repo)
    git("tag", "-a", "churn@v1.10.0!", "-m", "deregistered", cwd=repo)
    git("tag", "other@v9.0.0", cwd=repo)
    # main loses its metrics (e.g. a restructuring PR); the PR adds them back
    (repo / "reports/metrics.json").unlink()
    commit(repo, "no metrics on main", models={"churn": "reports/metrics.json"})
    git("checkout", "-q", "-b", "pr", cwd=repo)
    commit(repo, "pr", metrics={"accuracy": 0.9}, params={"t": 3})

    data = report_of(repo, base="main")
    model = data["models"][0]
    assert model["base"] == {"label": "churn@v1.1.0", "sha": v2, "kind": "promoted"}
    assert "compared with the last promoted version `churn@v1.1.0`" in model["note"]
    assert metric_rows(data)["accuracy"] == (0.85, 0.9, "better")
    assert [p["label"] for p in model["history"]] == ["v1.0.0", "v1.1.0", "head"]
    markdown = build_report(Workspace.open(repo), ReportRequest(base="main"))
    from mlgitops.core.markdown.report import render_report

    text = render_report(markdown)
    assert 'x-axis ["v1.0.0", "v1.1.0", "head"]' in text
    assert 'line "accuracy" [0.8, 0.85, 0.9]' in text
    assert report_of(repo, base="main", history=0)["models"][0]["history"] == []
    short = report_of(repo, base="main", history=1)["models"][0]["history"]
    assert [p["label"] for p in short] == ["v1.1.0", "head"]


def test_first_pr_without_any_base_shows_head_values(new_repo: Callable[..., Path]) -> None:
    repo = new_repo()
    git("checkout", "-q", "-b", "pr", cwd=repo)
    commit(repo, "first model", metrics={"accuracy": 0.9}, models={"m": "reports/metrics.json"})
    data = report_of(repo, base="main")
    assert data["models"][0]["base"]["kind"] == "none"
    assert data["verdict"] == "📝 No base to compare with: head values only."
    assert "no promoted version yet" in data["models"][0]["note"]
    assert metric_rows(data) == {"accuracy": (None, 0.9, "added")}


def test_renamed_metrics_file_and_two_models(new_repo: Callable[..., Path]) -> None:
    repo = new_repo()
    commit(
        repo,
        "two models",
        models={"a": "reports/a_old.json", "b": "reports/b.json"},
        files={"reports/a_old.json": {"accuracy": 0.7}, "reports/b.json": {"rmse": 3.0}},
    )
    git("checkout", "-q", "-b", "pr", cwd=repo)
    (repo / "reports/a_old.json").unlink()
    commit(
        repo,
        "rename a's metrics",
        models={"a": "reports/a.json", "b": "reports/b.json"},
        files={"reports/a.json": {"accuracy": 0.75}, "reports/b.json": {"rmse": 2.0}},
    )
    data = report_of(repo, base="main")
    assert [m["name"] for m in data["models"]] == ["a", "b"]
    assert metric_rows(data, 0) == {"accuracy": (0.7, 0.75, "better")}
    assert metric_rows(data, 1) == {"rmse": (3.0, 2.0, "changed")}  # no direction in policy


def test_invalid_and_hostile_values_are_reported_not_compared(
    new_repo: Callable[..., Path],
) -> None:
    repo = new_repo()
    hostile = "@admin <!-- x --> | #1 [a](javascript:alert(1))\u202e\n"
    models = {"m": "reports/metrics.json"}
    commit(
        repo,
        "base",
        metrics={"accuracy": 0.9, "f1": 0.5, hostile: 1.0, "flag": 1, "recall": 0.8},
        params={hostile: "<b>", "lr": 0.1},
        models=models,
    )
    git("checkout", "-q", "-b", "pr", cwd=repo)
    (repo / "reports").mkdir(exist_ok=True)
    (repo / "reports/metrics.json").write_text(
        json.dumps({"accuracy": math.nan, "f1": "0.6", hostile: 2.0, "flag": True, "recall": None})
    )
    (repo / "params.yaml").write_text(yaml.safe_dump({hostile: "@here", "lr": 0.2}))
    git("commit", "-q", "-am", "hostile", cwd=repo)
    data = report_of(repo, base="main")
    assert metric_rows(data) == {
        "accuracy": (0.9, "nan", "invalid"),
        "f1": (0.5, "0.6", "invalid"),
        hostile: (1.0, 2.0, "changed"),
        "flag": (1, True, "invalid"),
        "recall": (0.8, None, "invalid"),  # DVC drops the null; it is not "removed"
    }
    json.dumps(data, allow_nan=False)
    from mlgitops.core.markdown.report import render_report

    markdown = render_report(build_report(Workspace.open(repo), ReportRequest(base="main")))
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    assert sum(r.count("<td") == 6 for r in rows) == 5
    assert sum(r.count("<td") == 4 for r in rows) == 2
    outside = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert "@admin" not in outside and "@here" not in outside and "<!--" not in html
    assert "<a " not in html and "\u202e" not in markdown


def test_cli_writes_json_and_markdown(
    new_repo: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    repo = new_repo()
    commit(repo, "t", metrics={"accuracy": 0.9}, models={"m": "reports/metrics.json"})
    git("checkout", "-q", "-b", "pr", cwd=repo)
    commit(repo, "u", metrics={"accuracy": 0.8})
    monkeypatch.chdir(repo)
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    assert main(["report", "--format", "json", "--output", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["counts"]["worse"] == 1
    assert "worse<<" in output.read_text()
    assert main(["report"]) == 0
    assert "| `accuracy` | 0.9 | 0.8 | -0.1 | -11.11 % | 🔴 worse ↑ |" in capsys.readouterr().out


def test_bad_base_and_bad_policy(new_repo: Callable[..., Path]) -> None:
    repo = new_repo()
    commit(repo, "t", metrics={"accuracy": 0.9}, models={"m": "reports/metrics.json"})
    with pytest.raises(InputError, match="git revision 'nope' not found"):
        build_report(Workspace.open(repo), ReportRequest(base="nope"))
    (repo / "governance/policy.yaml").write_text("version: 1\nmetrics: {accuracy: {x: 1}}\n")
    data = report_of(repo, base="main")
    assert "The policy could not be read" in data["notes"][0]
    assert metric_rows(data)["accuracy"][2] == "unchanged"


def test_shallow_clone_fetches_history_and_target(
    new_repo: Callable[..., Path], tmp_path: Path
) -> None:
    origin = new_repo("origin")
    models = {"m": "reports/metrics.json"}
    commit(origin, "t", metrics={"accuracy": 0.9}, models=models)
    git("tag", "-a", "m@v1.0.0", "-m", "v1", cwd=origin)
    git("checkout", "-q", "-b", "pr", cwd=origin)
    commit(origin, "u", metrics={"accuracy": 0.95})
    commit(origin, "w", metrics={"accuracy": 0.96})
    clone = tmp_path / "clone"
    git(
        "clone", "-q", "--depth", "1", "--branch", "pr", "--no-tags",
        f"file://{origin}", str(clone), cwd=tmp_path,
    )  # fmt: skip
    assert Workspace.open(clone).git.shallow
    data = report_of(clone, base="main")
    assert data["base"]["label"] == "origin/main"
    assert metric_rows(data)["accuracy"] == (0.9, 0.96, "better")
    assert "The clone was shallow" in data["notes"][0]
    assert [p["label"] for p in data["models"][0]["history"]] == ["v1.0.0", "head"]


def test_shallow_clone_without_origin_names_fetch_depth(
    new_repo: Callable[..., Path], tmp_path: Path
) -> None:
    origin = new_repo("origin")
    commit(origin, "t", metrics={"accuracy": 0.9}, models={"m": "reports/metrics.json"})
    commit(origin, "u", metrics={"accuracy": 0.91})
    clone = tmp_path / "clone"
    git("clone", "-q", "--depth", "1", f"file://{origin}", str(clone), cwd=tmp_path)
    shutil.rmtree(origin)
    with pytest.raises(ToolError) as caught:
        build_report(Workspace.open(clone), ReportRequest(base="main"))
    assert "shallow clone" in str(caught.value) and "fetch-depth: 0" in str(caught.value)


# --------------------------------------------------------------------------- baked repo
@pytest.fixture(scope="module")
def baked_pr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default baked repo, trained on main, plus a PR branch with shallower trees."""
    from helpers.baking import trained_copy  # shares one bake per test process

    repo = trained_copy(tmp_path_factory.mktemp("baked"))
    git("checkout", "-q", "-b", "shallower-trees", cwd=repo)
    params = repo / "params.yaml"
    text = params.read_text()
    assert "max_depth: 8" in text
    params.write_text(text.replace("max_depth: 8", "max_depth: 2", 1))
    dvc("repro", "--quiet", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Shallower trees", cwd=repo)
    return repo


@pytest.mark.slow
def test_baked_repo_report_matches_dvc_metrics_diff(baked_pr: Path) -> None:
    data = report_of(baked_pr, base="main")
    expected = json.loads(dvc("metrics", "diff", "--json", "--all", "main", "HEAD", cwd=baked_pr))
    dvc_rows = expected["reports/metrics.json"]
    rows = metric_rows(data)
    assert set(rows) == set(dvc_rows) == {"accuracy", "f1", "precision", "recall", "roc_auc"}
    for name, (base, head, _) in rows.items():
        assert (base, head) == (dvc_rows[name]["old"], dvc_rows[name]["new"])
    for metric in data["models"][0]["metrics"]:
        assert metric["higher_is_better"] is True  # from the baked governance/policy.yaml
    assert data["models"][0]["name"].endswith("-model")
    assert {"name": "train.random_forest.max_depth", "base": 8, "head": 2, "change": "changed"} in (
        data["params"]
    )
    plots = {plot["path"]: plot for plot in data["plots"]}
    confusion = plots["reports/plots/confusion.csv"]
    assert confusion["template"] == "confusion" and confusion["change"] == "changed"
    test_rows = len((baked_pr / "reports/plots/confusion.csv").read_text().splitlines()) - 1
    assert sum(cell["head"] for cell in confusion["confusion"]) == test_rows
    assert sum(cell["base"] for cell in confusion["confusion"]) == test_rows


@pytest.mark.slow
def test_baked_repo_report_posted_as_sticky_comment(
    baked_pr: Path, localhub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    localhub.add_user("github-actions[bot]", "ghs_x", type="Bot")
    localhub.add_pull("acme/model", 1, head_sha=git("rev-parse", "HEAD", cwd=baked_pr))
    monkeypatch.chdir(baked_pr)
    for name, value in {
        "GITHUB_API_URL": localhub.api_url,
        "GITHUB_TOKEN": "ghs_x",
        "GITHUB_REPOSITORY": "acme/model",
    }.items():
        monkeypatch.setenv(name, value)
    report = tmp_path / "report.md"
    assert main(["report", "--base", "main", "--output", str(report)]) == 0
    for _ in range(2):
        assert main(["comment", "--pr", "1", "--body-file", str(report)]) == 0
    comments = localhub.comments("acme/model", 1)
    assert len(comments) == 1 and "🔴 worse" in comments[0]["body"]
    assert "train.random_forest.max_depth" in comments[0]["body"]
