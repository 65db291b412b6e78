"""Bake repositories from template/ for tests, and bring them to a trained, committed state.

`bake(output_dir, **context)` only renders the template (cookiecutter's Python API, no
prompts). `bake_and_init(tmp_path, **context)` also runs `mlgitops init` (git, DVC, data,
local remote, first commit), `dvc repro`, and commits the results, so the returned repository
has a clean `git status` and `dvc status`, ready for a branch and a pull request.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cookiecutter.main import cookiecutter

from helpers.shared import build_once
from mlgitops import proc
from mlgitops.bootstrap import init_repository

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template"

# The pipeline's commands (`python src/...`) and `dvc` must come from this interpreter's venv.
_BIN = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _BIN:
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

DEFAULT_SLUG = "breast-cancer-classifier"
TRAINED_MESSAGE = "Train the first model"

# Answers of the combinations that train here (csv also needs csv_path: write_small_csv).
RUNNABLE = {
    "default": {},
    "diabetes": {
        "project_name": "Diabetes Progression",
        "task": "regression",
        "dataset": "diabetes",
    },
    "csv": {
        "project_name": "Churn",
        "dataset": "csv",
        "target_column": "churned",
        "license": "Apache-2.0",
        "data_license": "CC-BY-4.0",
        "data_source": "https://example.com/churn.csv",
    },
}


def bake(output_dir: Path, **context: Any) -> Path:
    """Render the template into `output_dir` with `context` as answers; returns the new folder.

    Raises cookiecutter's FailedHookException when the pre_gen hook rejects the answers.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    folder = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        extra_context={key: str(value) for key, value in context.items()},
        output_dir=str(output_dir),
        overwrite_if_exists=False,
        accept_hooks=True,
    )
    return Path(folder)


def bake_and_init(
    tmp_path: Path, *, repro: bool = True, push: bool = False, **context: Any
) -> Path:
    """Bake into `tmp_path`, `mlgitops init`, and (default) `dvc repro` and commit the results.

    The local DVC remote is `tmp_path/<slug>-dvc-remote`. With `push=True` the data and the
    model are pushed to it too. Returns the repository folder.
    """
    repo = bake(tmp_path, **context)
    init_repository(repo)
    if repro:
        proc.dvc("repro", "--quiet", cwd=repo)
        proc.git("add", "-A", cwd=repo)
        proc.git("commit", "-q", "-m", TRAINED_MESSAGE, cwd=repo)
    if push:
        proc.dvc("push", "--quiet", cwd=repo)
    return repo


def trained_copy(tmp_path: Path, **context: Any) -> Path:
    """A private copy of a baked, initialised, trained and pushed repository, in `tmp_path`.

    The first call per answers (per test run, whichever worker makes it) pays for bake +
    init + repro + push; later calls copy that repository (git history, DVC cache) and its
    local remote, which takes well under a second. The copy's remote is its own
    `tmp_path/<slug>-dvc-remote`, set in `.dvc/config.local` (git-ignored), so `git status`
    stays clean; a `git clone` of the copy still reads the committed URL, the shared source
    remote. Returns the copy.
    """
    key = repr(sorted((name, str(value)) for name, value in context.items()))

    def build(folder: Path) -> None:
        bake_and_init(folder, push=True, **context)

    base = build_once(f"trained {key}", build)
    (source,) = (path for path in base.iterdir() if (path / "dvc.yaml").is_file())
    target = tmp_path / source.name
    shutil.copytree(source, target, symlinks=True)
    remote = tmp_path / f"{source.name}-dvc-remote"
    shutil.copytree(source.parent / f"{source.name}-dvc-remote", remote, symlinks=True)
    (target / ".dvc" / "config.local").write_text(
        f"['remote \"storage\"']\n    url = {remote}\n", encoding="utf-8"
    )
    return target


def write_small_csv(path: Path, rows: int = 240, seed: int = 3) -> Path:
    """A small classification CSV: numeric and text features, a yes/no target, a duplicate."""
    generator = np.random.default_rng(seed)
    tenure = generator.integers(1, 72, rows)
    charges = np.round(generator.normal(70, 20, rows), 2)
    plan = generator.choice(["basic", "plus", "pro"], rows)
    churn = np.where(
        charges / 100 + generator.normal(0, 0.3, rows) - tenure / 100 > 0.4, "yes", "no"
    )
    frame = pd.DataFrame(
        {"tenure": tenure, "monthly charges": charges, "plan": plan, "churned": churn}
    )
    frame = pd.concat([frame, frame.head(1)], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
