"""Answers the pre_gen hook must reject (with a clear message), and hostile answers that must
come out correctly escaped; relative csv paths resolved from where cookiecutter was run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from helpers.baking import TEMPLATE, bake, write_small_csv

pytestmark = pytest.mark.slow

COOKIECUTTER = str(Path(sys.executable).parent / "cookiecutter")


def run_cli(
    output: Path, *answers: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`cookiecutter --no-input` as a user runs it, from `cwd` (PWD set like a shell does)."""
    workdir = cwd or output
    env = {**os.environ, "PWD": str(workdir)}
    return subprocess.run(
        [COOKIECUTTER, "--no-input", "--output-dir", str(output), str(TEMPLATE), *answers],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_slug": "3d-model"}, "project_slug='3d-model' is not valid"),
        ({"project_slug": "My Repo"}, "project_slug='My Repo' is not valid"),
        ({"project_slug": "repo-"}, "project_slug='repo-' is not valid"),
        ({"model_name": "Model_1"}, "model_name='Model_1' is not valid"),
        ({"model_name": "m@v1"}, "model_name='m@v1' is not valid"),
        ({"package_name": "class"}, "package_name='class' is a Python keyword"),
        ({"task": "regression"}, "dataset='breast_cancer' is a classification dataset"),
        ({"dataset": "diabetes"}, "dataset='diabetes' is a regression dataset"),
        ({"dataset": "csv"}, "dataset=csv needs csv_path"),
        ({"dataset": "csv", "csv_path": "/nonexistent/x.csv"}, "no such file"),
        ({"dvc_remote": "s3"}, "dvc_remote=s3 needs dvc_remote_url"),
        ({"dvc_remote": "s3", "dvc_remote_url": "gs://b/p"}, "must start with 's3://'"),
        ({"dvc_remote": "gcs", "dvc_remote_url": "s3://b/p"}, "must start with 'gs://'"),
        ({"dvc_remote": "local", "dvc_remote_url": "s3://b/p"}, "dvc_remote=local needs a folder"),
        ({"author_email": "not-an-email"}, "is not an email address"),
        ({"template_ref": "a..b"}, "is not a git tag, branch or SHA"),
        ({"template_repo": "no-owner"}, "use owner/name"),
    ],
)
def test_invalid_answers_are_rejected(
    tmp_path: Path, answers: dict[str, str], message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, **answers)
    assert message in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == [], "a rejected bake must leave nothing behind"


def test_cli_reports_every_problem_and_fails(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "project_slug=9lives", "model_name=Bad Name", "task=regression")
    assert result.returncode != 0
    for text in ("project_slug='9lives'", "model_name='Bad Name'", "a classification dataset"):
        assert text in result.stderr
    assert "Nothing was generated" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_csv_path_relative_to_where_cookiecutter_runs(tmp_path: Path) -> None:
    """Hooks run inside the new folder, yet a relative csv_path is taken from the user's PWD."""
    work = tmp_path / "work"
    source = write_small_csv(work / "data" / "customers.csv")
    result = run_cli(
        tmp_path / "out",
        "dataset=csv",
        "csv_path=data/customers.csv",
        "target_column=churned",
        "data_license=CC0-1.0",
        cwd=work,
    )
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "out" / "breast-cancer-classifier"
    assert (repo / "data/raw/data.csv").read_bytes() == source.read_bytes()
    assert not (repo / "data/raw/breast_cancer.csv").exists()


def test_csv_target_column_must_exist(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    source = write_small_csv(tmp_path / "in.csv")
    with pytest.raises(FailedHookException):
        bake(tmp_path / "out", dataset="csv", csv_path=str(source), target_column="label")
    assert "target_column='label' is not a column" in capfd.readouterr().err


HOSTILE = {
    "project_name": "Ünïcødé \"Quoted\" 'n' <b>bold</b> \\ back",
    "author_name": 'O\'Brien "The" Ünïcode \\ }} %}',
    "author_email": "o.brien+ml@example.com",
    "template_ref": "release/v1.2",
}


def test_hostile_answers_are_escaped(tmp_path: Path) -> None:
    repo = bake(tmp_path, **HOSTILE)
    assert repo.name == "unicode-quoted-n-b-bold-b-back"
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["authors"][0]["name"] == HOSTILE["author_name"]
    assert pyproject["tool"]["mlgitops"]["template_ref"] == "release/v1.2"
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))
    artifact = dvc_yaml["artifacts"]["unicode-quoted-n-b-bold-b-back-model"]
    assert HOSTILE["project_name"] in artifact["desc"]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {HOSTILE['project_name']}\n")


def test_no_input_answers_with_template_syntax_are_rendered_or_rejected(tmp_path: Path) -> None:
    """With --no-input cookiecutter renders answers as Jinja: the result holds no template
    syntax, or cookiecutter stops with an error and leaves nothing behind."""
    result = run_cli(tmp_path, "project_name=Models {{ 7 * 7 }}")
    assert result.returncode == 0, result.stderr
    assert (
        (tmp_path / "models-49" / "README.md").read_text(encoding="utf-8").startswith("# Models 49")
    )
    for answer in ("project_name={{ cookiecutter.undefined_thing }}", "author_name=a {% b"):
        bad = tmp_path / "bad"
        bad.mkdir(exist_ok=True)
        result = run_cli(bad, answer)
        assert result.returncode != 0
        assert list(bad.iterdir()) == []


def test_typed_answers_with_template_syntax_stay_literal(tmp_path: Path) -> None:
    """Typed answers are not rendered by cookiecutter (replay behaves the same way): `{{`
    reaches the templates as text and must come out escaped, not evaluated."""
    defaults = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    context = {
        key: value[0] if isinstance(value, list) else value
        for key, value in defaults.items()
        if not key.startswith("_")
    }
    # A replay holds rendered private variables too: the ref the workflows pin.
    context["__template_ref"] = defaults["_release_ref"]
    literal = "Risky {{ 7 * 7 }} {% raw %} \"q\" 'q'"
    context.update(
        project_name=literal,
        project_slug="risky",
        package_name="risky",
        model_name="risky-model",
        author_name=literal,
    )
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps({"cookiecutter": context}), encoding="utf-8")
    repo = Path(cookiecutter(str(TEMPLATE), replay=str(replay), output_dir=str(tmp_path / "out")))
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["authors"][0]["name"] == literal
    desc = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))["artifacts"][
        "risky-model"
    ]["desc"]
    assert literal in desc
    assert (repo / "README.md").read_text(encoding="utf-8").startswith(f"# {literal}\n")
