"""Bake every valid combination of the options and check what comes out, without training.

Combinations: each dataset with its task(s) x each DVC remote kind x each training runner;
license and Python version rotate through their choices along the way.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter
from helpers.baking import TEMPLATE, bake, write_small_csv

# Every file of a baked repository, for every combination. `{pkg}` is the package name.
# Add new template files here (one literal set, sorted).
EXPECTED_FILES = {
    ".dvcignore",
    ".github/CODEOWNERS",
    ".github/dependabot.yml",
    ".github/workflows/ml-comment.yml",
    ".github/workflows/ml-deploy.yml",
    ".github/workflows/ml-monitor.yml",
    ".github/workflows/ml-pr.yml",
    ".github/workflows/ml-promote.yml",
    ".github/zizmor.yml",
    ".gitignore",
    "LICENSE",
    "README.md",
    "data/dataset.yaml",
    "data/raw/data.csv",
    "deploy/README.md",
    "dvc.yaml",
    "governance/README.md",
    "governance/policy.yaml",
    "params.yaml",
    "pyproject.toml",
    "requirements-plots.txt",
    "requirements.txt",
    "src/{pkg}/__init__.py",
    "src/{pkg}/common.py",
    "src/{pkg}/evaluate.py",
    "src/{pkg}/model_card.py",
    "src/{pkg}/plots_html.py",
    "src/{pkg}/predict.py",
    "src/{pkg}/prepare.py",
    "src/{pkg}/schema.py",
    "src/{pkg}/train.py",
    "templates/model_card.md.j2",
    "tests/conftest.py",
    "tests/test_pipeline.py",
}
# Files that are Jinja templates for the repository itself, rendered later by its pipeline.
RUNTIME_TEMPLATES = {"templates/model_card.md.j2"}
# Files present only for some answers: (variable, value) -> files.
CONDITIONAL_FILES: dict[tuple[str, str], set[str]] = {}

DATASET_TASKS = [
    ("breast_cancer", "classification"),
    ("diabetes", "regression"),
    ("csv", "classification"),
    ("csv", "regression"),
]
REMOTES = {
    "local": "",
    "s3": "s3://models-bucket/churn",
    "gcs": "gs://models-bucket/churn",
    "azure": "azure://container/churn",
    "ssh": "ssh://user@example.com/srv/dvc",
}
RUNNERS = ["github-hosted", "self-hosted", "cml-cloud"]
LICENSES = ["MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"]
PYTHONS = ["3.11", "3.12", "3.13"]
COMBINATIONS = [
    {
        "dataset": dataset,
        "task": task,
        "dvc_remote": remote,
        "dvc_remote_url": REMOTES[remote],
        "training_runner": runner,
        "license": LICENSES[index % len(LICENSES)],
        "python_version": PYTHONS[index % len(PYTHONS)],
    }
    for index, ((dataset, task), remote, runner) in enumerate(
        itertools.product(DATASET_TASKS, REMOTES, RUNNERS)
    )
]
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#")


def expected_files(package: str, context: dict[str, str]) -> set[str]:
    files = {name.format(pkg=package) for name in EXPECTED_FILES}
    for (key, value), extra in CONDITIONAL_FILES.items():
        if context.get(key) == value:
            files |= {name.format(pkg=package) for name in extra}
    return files


def repo_files(repo: Path) -> set[str]:
    return {path.relative_to(repo).as_posix() for path in repo.rglob("*") if path.is_file()}


def check_parses(repo: Path) -> None:
    """Every YAML, JSON, TOML and Python file parses; no cookiecutter syntax is left."""
    for path in repo.rglob("*"):
        if not path.is_file() or path.suffix == ".csv":
            continue
        relative = path.relative_to(repo).as_posix()
        text = path.read_text(encoding="utf-8")
        if relative not in RUNTIME_TEMPLATES:
            assert not LEFTOVER_JINJA.search(text), f"template syntax left in {relative}"
        if path.suffix in (".yaml", ".yml"):
            yaml.safe_load(text)
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".py":
            ast.parse(text, filename=relative)


def name_of(combination: dict[str, str]) -> str:
    return "-".join(
        combination[key] for key in ("dataset", "task", "dvc_remote", "training_runner")
    )


@pytest.mark.slow
@pytest.mark.parametrize("combination", COMBINATIONS, ids=name_of)
def test_bake_combination(tmp_path: Path, combination: dict[str, str]) -> None:
    context = dict(combination)
    if context["dataset"] == "csv":
        context["csv_path"] = str(write_small_csv(tmp_path / "in" / "input.csv"))
        context["target_column"] = "churned" if context["task"] == "classification" else "tenure"
        context["data_license"] = "ODbL-1.0"
    repo = bake(tmp_path / "out", project_name="Churn Model", **context)

    assert repo_files(repo) == expected_files("churn_model", context)
    check_parses(repo)

    pyproject = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    settings = pyproject["tool"]["mlgitops"]
    assert settings["dvc_remote"] == context["dvc_remote"]
    assert settings["dvc_remote_url"] == context["dvc_remote_url"]
    assert settings["task"] == context["task"]
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))
    assert list(dvc_yaml["stages"]) == ["prepare", "train", "evaluate", "model_card"]
    assert list(dvc_yaml["artifacts"]) == ["churn-model-model"]
    artifact = dvc_yaml["artifacts"]["churn-model-model"]
    assert artifact["path"] == "models/model.pkl"
    assert artifact["type"] == "model"
    assert artifact["meta"] == {
        "metrics": "reports/metrics.json",
        "card": "MODEL_CARD.md",
        "schema": "models/schema.json",
    }
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    assert set(params) == {"prepare", "train", "evaluate"}
    dataset = yaml.safe_load((repo / "data" / "dataset.yaml").read_text(encoding="utf-8"))
    assert dataset["task"] == context["task"]
    if context["dataset"] == "csv":
        source = Path(context["csv_path"]).read_bytes()
        assert (repo / "data/raw/data.csv").read_bytes() == source
        assert dataset["target"] == context["target_column"]
        assert dataset["license"] == "ODbL-1.0" and dataset["source"] is None


@pytest.mark.slow
def test_root_config_points_cookiecutter_at_the_template(tmp_path: Path) -> None:
    """`cookiecutter <this repo>` follows the nested "templates" config at the root."""
    root = TEMPLATE.parent
    config = json.loads((root / "cookiecutter.json").read_text(encoding="utf-8"))
    assert [entry["path"] for entry in config["templates"].values()] == ["./template"]
    repo = Path(cookiecutter(str(root), no_input=True, output_dir=str(tmp_path)))
    assert repo_files(repo) == expected_files("breast_cancer_classifier", {})


@pytest.mark.slow
def test_cruft_create_with_directory_works(tmp_path: Path) -> None:
    """`cruft create --directory template <repo>` (the committed template) bakes and records it."""
    cruft = str(Path(sys.executable).parent / "cruft")
    root = TEMPLATE.parent
    result = subprocess.run(
        [cruft, "create", "--no-input", "--directory", "template", str(root)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "breast-cancer-classifier"
    recorded = json.loads((repo / ".cruft.json").read_text(encoding="utf-8"))
    assert recorded["directory"] == "template"
    assert (repo / "data/raw/data.csv").is_file()
    assert not (repo / "data/raw/breast_cancer.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "answers",
    [
        {"package_name": "a"},
        {
            "project_name": "A Much Longer Project Name For Wrapping",
            "task": "regression",
            "dataset": "diabetes",
        },
    ],
)
def test_baked_code_is_lint_clean(tmp_path: Path, answers: dict[str, str]) -> None:
    """The generated code passes ruff with the generated pyproject.toml's own settings."""
    repo = bake(tmp_path, **answers)
    ruff = str(Path(sys.executable).parent / "ruff")
    for command in ([ruff, "check", "--no-cache", "."], [ruff, "format", "--check", "."]):
        result = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
