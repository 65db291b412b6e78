"""The generated governance/policy.yaml, and `mlgitops govern` on real baked repositories.

Each CLI test copies a session-wide baked, trained and committed repository, makes one
pull-request-like change on a branch, and checks which rules pass or fail.
"""

# Expected messages and annotations are kept whole on one line.
# ruff: noqa: E501
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.baking import bake, write_small_csv

from mlgitops.cli import main
from mlgitops.core.governance.codeowners import codeowners_match
from mlgitops.core.governance.results import fmt
from mlgitops.io.policy_loader import load_policy
from mlgitops.io.schema import load_schema, schema_path
from mlgitops.io.yaml_strict import load_yaml
from mlgitops.proc import dvc, git
from mlgitops.services.governance import parse_codeowners

DATASET_TASKS = [
    ("breast_cancer", "classification"),
    ("diabetes", "regression"),
    ("csv", "classification"),
    ("csv", "regression"),
]


@pytest.mark.parametrize(("dataset", "task"), DATASET_TASKS)
@pytest.mark.slow
def test_generated_policy_is_valid_for_every_dataset_and_task(
    tmp_path: Path, dataset: str, task: str
) -> None:
    context = {"dataset": dataset, "task": task, "project_name": f"p {dataset} {task}"}
    if dataset == "csv":
        context["csv_path"] = str(write_small_csv(tmp_path / "in.csv"))
        context["target_column"] = "churned"
        context["data_license"] = "CC0-1.0"
    repo = bake(tmp_path / "out", **context)
    path = repo / "governance" / "policy.yaml"
    policy = load_policy(path)
    raw = load_yaml(path, max_bytes=1 << 16).data
    jsonschema.validate(raw, load_schema("policy-v1"))
    expected = (
        {"accuracy", "f1", "precision", "recall", "roc_auc"}
        if task == "classification"
        else {"rmse", "mae", "r2"}
    )
    assert set(policy.metrics) == expected
    has_thresholds = any(r.min is not None or r.max is not None for r in policy.metrics.values())
    assert has_thresholds is (dataset != "csv")
    assert (policy.fairness is not None) is (dataset != "csv")
    assert policy.model_card is not None and len(policy.model_card.required_sections) == 6
    assert policy.change_control is not None
    owners = parse_codeowners((repo / ".github" / "CODEOWNERS").read_text())
    for protected in policy.change_control.protected_paths:
        probe = protected + "policy.yaml" if protected.endswith("/") else protected
        assert any(codeowners_match(rule.pattern, probe) and rule.owners for rule in owners)
    assert [rule.owners for rule in owners] == [("jane.doe@example.com",)] * 2


# --------------------------------------------------------------------------- CLI on baked repos


@pytest.fixture
def clone(
    runnable_repo: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], tuple[Path, str]]:
    """clone(name) -> (a private copy of the baked repo on branch `pr`, base commit)."""

    def make(name: str) -> tuple[Path, str]:
        source = runnable_repo(name)
        repo = tmp_path / source.name
        shutil.copytree(source, repo, symlinks=True)
        base = git("rev-parse", "HEAD", cwd=repo)
        git("switch", "-q", "-c", "pr", cwd=repo)
        monkeypatch.chdir(repo)
        return repo, base

    return make


def govern(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["govern", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def fails(report: dict[str, Any]) -> set[str]:
    return {r["rule"] for r in report["results"] if r["status"] == "fail"}


def commit(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "diabetes"])
def test_fresh_repo_passes_every_rule(
    clone: Callable[[str], tuple[Path, str]], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    _, base = clone(name)
    code, report = govern(capsys, "--base", base)
    assert code == 0, [r for r in report["results"] if r["status"] == "fail"]
    assert report["counts"]["fail"] == 0
    rules = {r["rule"] for r in report["results"]}
    assert rules == {
        "metric.present", "metric.min", "metric.max", "metric.regression", "fairness.gap",
        "model_card.present", "model_card.front_matter", "model_card.section",
        "model_card.metrics", "data.git_file_size", "data.dvc_tracked", "data.license",
        "data.dvc_status", "change_control.codeowners", "change_control.approval",
    } - ({"metric.max"} if name == "default" else set())  # fmt: skip
    assert main(["validate"]) == 0


@pytest.mark.slow
def test_worse_model_fails_floor_and_regression_with_annotations(
    clone: Callable[[str], tuple[Path, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, base = clone("diabetes")
    edit(repo / "params.yaml", "alpha: 1.0", "alpha: 1000.0")
    dvc("repro", "-q", cwd=repo)
    commit(repo, "much stronger regularisation")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    output = repo.parent / "governance.md"
    assert main(["govern", "--base", base, "--output", str(output)]) == 1
    annotations = capsys.readouterr().out.splitlines()
    failed = {r.split("title=governance ")[1].split("::")[0] for r in annotations}
    assert {"metric.min", "metric.regression"} <= failed
    params_line = (repo / "params.yaml").read_text().splitlines().index("    alpha: 1000.0") + 1
    assert any(
        a.startswith(f"::error file=params.yaml,line={params_line},title=governance metric.regression::r2 regressed by ")
        and "changed params: train.ridge.alpha: 1 → 1000" in a
        for a in annotations
    ), annotations  # fmt: skip
    markdown = output.read_text()
    assert markdown.startswith("### ❌ Governance failed: ")
    assert re.search(r"\| ❌ \| `metric.min` \| r2 \| r2 [-0-9.]+ < min 0.35 \|", markdown)


@pytest.mark.slow
def test_stale_card_missing_section_and_bad_front_matter(
    clone: Callable[[str], tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base = clone("default")
    card = repo / "MODEL_CARD.md"
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    edit(card, f"value: {metrics['f1']}", "value: 0.5")
    edit(card, "## Limitations", "## Caveats")
    edit(card, "license: mit", "license: [mit]")
    code, report = govern(capsys, "--base", base, "--no-dvc-status")
    assert code == 1
    assert fails(report) == {"model_card.metrics", "model_card.section", "model_card.front_matter"}
    stale = next(r for r in report["results"] if r["rule"] == "model_card.metrics")
    assert stale["detail"].startswith(
        f"stale card: f1 is 0.5 in the card but {fmt(metrics['f1'])} in reports/metrics.json"
    )


@pytest.mark.slow
def test_params_changed_without_repro_fails_dvc_status(
    clone: Callable[[str], tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base = clone("default")
    edit(repo / "params.yaml", "n_estimators: 100", "n_estimators: 120")
    commit(repo, "tune without running the pipeline")
    code, report = govern(capsys, "--base", base)
    assert code == 1
    assert fails(report) == {"data.dvc_status"}


@pytest.mark.slow
def test_data_rules_license_large_file_and_dataset_in_git(
    clone: Callable[[str], tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base = clone("default")
    edit(repo / "data/raw/data.csv.dvc", "license: CC-BY-4.0", "license: CC-BY-NC-4.0")
    shutil.copy(repo / "data/raw/data.csv", repo / "data/copy.csv")  # 118 KiB
    (repo / "notes.bin").write_bytes(b"\0" * 600 * 1024)
    commit(repo, "data in git")
    code, report = govern(capsys, "--base", base, "--no-dvc-status")
    assert code == 1
    assert fails(report) == {"data.license", "data.git_file_size", "data.dvc_tracked"}


@pytest.mark.slow
def test_policy_change_needs_the_label_and_fairness_gap_fails(
    clone: Callable[[str], tuple[Path, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, base = clone("default")
    edit(repo / "governance/policy.yaml", "max_gap: 0.10", "max_gap: 0.01")
    commit(repo, "tighten fairness")
    event = repo.parent / "event.json"
    pull = {"number": 3, "base": {"sha": base, "ref": "main"}, "labels": [{"name": "x"}]}
    event.write_text(json.dumps({"pull_request": pull}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, report = govern(capsys, "--no-dvc-status")
    assert code == 1
    assert fails(report) == {"change_control.approval", "fairness.gap"}
    pull["labels"] = [{"name": "governance-approved"}]
    event.write_text(json.dumps({"pull_request": pull}))
    code, report = govern(capsys, "--no-dvc-status")
    assert fails(report) == {"fairness.gap"}


@pytest.mark.slow
def test_codeowners_removed(
    clone: Callable[[str], tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base = clone("default")
    (repo / ".github/CODEOWNERS").unlink()
    commit(repo, "drop owners")
    code, report = govern(
        capsys, "--base", base, "--no-dvc-status", "--labels", "governance-approved"
    )
    assert code == 1
    assert fails(report) == {"change_control.codeowners"}


@pytest.mark.slow
def test_invalid_policy_is_exit_2_with_annotation(
    clone: Callable[[str], tuple[Path, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _ = clone("default")
    edit(repo / "governance/policy.yaml", "min: 0.90", "min: 0.90\n    min: 0.5")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["govern"]) == 2
    captured = capsys.readouterr()
    line = (repo / "governance/policy.yaml").read_text().splitlines().index("    min: 0.5") + 1
    message = f"governance/policy.yaml:{line} (key 'metrics.accuracy.min'): duplicate key 'min' (first defined on line {line - 1})"
    assert captured.err == f"mlgitops: error: {message}\n"
    assert captured.out == f"::error file=governance/policy.yaml,line={line}::{message}\n"


@pytest.mark.slow
def test_generated_policy_passes_check_jsonschema(tmp_path: Path) -> None:
    """An independent YAML 1.2 reader (check-jsonschema uses ruamel) agrees with the schema."""
    repo = bake(tmp_path, project_name="Schema Check")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--schemafile",
            str(schema_path("policy-v1")),
            str(repo / "governance" / "policy.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
