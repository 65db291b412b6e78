"""Baked repositories that train here: init, repro, metrics, no-op repro, own tests, push/pull.

Each repository is baked, initialised and reproduced once per session (conftest.py).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from helpers.baking import RUNNABLE, trained_copy

from mlgitops import proc

METRIC_NAMES = {
    "classification": {"accuracy", "f1", "precision", "recall", "roc_auc"},
    "regression": {"rmse", "mae", "r2"},
}
UP_TO_DATE = "Data and pipelines are up to date."

pytestmark = pytest.mark.slow


def _task(repo: Path) -> str:
    return str(yaml.safe_load((repo / "data/dataset.yaml").read_text(encoding="utf-8"))["task"])


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_metrics_present_and_finite(runnable_repo: Callable[[str], Path], name: str) -> None:
    repo = runnable_repo(name)
    metrics = json.loads((repo / "reports/metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == METRIC_NAMES[_task(repo)]
    assert all(isinstance(value, float) and math.isfinite(value) for value in metrics.values())
    fairness = json.loads((repo / "reports/fairness.json").read_text(encoding="utf-8"))
    assert set(fairness) == {"column", "metric", "groups"}
    assert fairness["groups"] and all("count" in group for group in fairness["groups"].values())
    card = (repo / "MODEL_CARD.md").read_text(encoding="utf-8")
    matter = yaml.safe_load(card.split("---\n", 2)[1])
    results = matter["model-index"][0]["results"][0]["metrics"]
    assert {item["type"]: item["value"] for item in results} == metrics
    plots = {path.name for path in (repo / "reports/plots").iterdir()}
    expected = "confusion.csv" if _task(repo) == "classification" else "residuals.csv"
    assert plots == {expected, "importance.csv"}
    meta = yaml.safe_load((repo / "data/raw/data.csv.dvc").read_text(encoding="utf-8"))["meta"]
    assert meta["license"]


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_second_repro_is_a_no_op(runnable_repo: Callable[[str], Path], name: str) -> None:
    repo = runnable_repo(name)
    output = proc.dvc("repro", cwd=repo)
    assert "didn't change, skipping" in output
    assert "Running stage" not in output
    assert UP_TO_DATE in proc.dvc("status", cwd=repo)
    assert proc.git("status", "--porcelain", cwd=repo) == ""


def test_retraining_in_a_clone_gives_identical_bytes(
    baked_default_repo: Path, tmp_path: Path
) -> None:
    """Same data and params in another process and folder: byte-identical model and metrics."""
    proc.dvc("push", "--quiet", cwd=baked_default_repo)
    clone = tmp_path / "clone"
    proc.git("clone", "-q", str(baked_default_repo), str(clone), cwd=tmp_path)
    proc.dvc("pull", "--quiet", "prepare", cwd=clone)
    proc.dvc("repro", "--quiet", "--force", "--single-item", "train", cwd=clone)
    proc.dvc("repro", "--quiet", "--force", "--single-item", "evaluate", cwd=clone)
    for name in ("models/model.pkl", "reports/metrics.json", "reports/fairness.json"):
        assert (clone / name).read_bytes() == (baked_default_repo / name).read_bytes(), name
    assert proc.git("status", "--porcelain", cwd=clone) == ""


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_baked_repos_own_tests_pass(runnable_repo: Callable[[str], Path], name: str) -> None:
    repo = runnable_repo(name)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_push_then_clone_and_pull_gives_identical_files(
    runnable_repo: Callable[[str], Path], name: str, tmp_path: Path
) -> None:
    repo = runnable_repo(name)
    proc.dvc("push", "--quiet", cwd=repo)
    clone = tmp_path / "clone"
    proc.git("clone", "-q", str(repo), str(clone), cwd=tmp_path)
    assert not (clone / "models/model.pkl").exists()
    proc.dvc("pull", "--quiet", cwd=clone)
    for relative in ("models/model.pkl", "data/raw/data.csv", "data/prepared/train.csv"):
        assert (clone / relative).read_bytes() == (repo / relative).read_bytes(), relative
    assert UP_TO_DATE in proc.dvc("status", cwd=clone)


def test_dvc_reads_the_artifact_declaration(baked_default_repo: Path) -> None:
    """DVC itself accepts the `artifacts:` section, `meta:` included."""
    from dvc.repo import Repo

    with Repo(str(baked_default_repo)) as repo:
        artifacts = repo.artifacts.read()["dvc.yaml"]
    artifact = artifacts["breast-cancer-classifier-model"]
    assert artifact.path == "models/model.pkl"
    assert artifact.type == "model"
    assert artifact.meta == {
        "metrics": "reports/metrics.json",
        "card": "MODEL_CARD.md",
        "schema": "models/schema.json",
    }


def test_trained_copy_is_independent_and_clean(tmp_path: Path) -> None:
    first = trained_copy(tmp_path / "one")
    second = trained_copy(tmp_path / "two")
    assert first != second
    for repo in (first, second):
        assert proc.git("status", "--porcelain", cwd=repo) == ""
    local = (second / ".dvc" / "config.local").read_text(encoding="utf-8")
    assert str(tmp_path / "two" / "breast-cancer-classifier-dvc-remote") in local
    # The copy's own remote holds everything: nothing to push, nothing missing.
    assert proc.dvc("status", "--cloud", "--json", cwd=second).strip() in ("{}", "")
