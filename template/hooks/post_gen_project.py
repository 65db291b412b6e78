"""Finish the generated repository: put the chosen dataset in place and drop unused options.

Runs inside the generated folder. No git or dvc commands here: `mlgitops init` does that as
the documented first step, so that `cruft update` can still re-render the template later.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

CONTEXT = json.loads({{ cookiecutter | tojson | tojson }})

RAW = Path("data", "raw")
BUNDLED = {"breast_cancer": RAW / "breast_cancer.csv", "diabetes": RAW / "diabetes.csv"}

# (variable, value that keeps the files) -> files removed for any other value, e.g.
# ("training_runner", "cml-cloud"): [".github/workflows/cml-runner.yml"]. Today the runner
# choice is handled inside the workflow files, so nothing is pruned; missing files are skipped.
PRUNE: dict[tuple[str, str], list[str]] = {}


def resolve_user_path(raw: str) -> Path:
    """Relative to the directory cookiecutter was run from (the inherited PWD)."""
    path = Path(raw).expanduser()
    if path.is_absolute():
        return path
    return Path(os.environ.get("PWD", os.getcwd())) / path


def place_dataset() -> None:
    target = RAW / "data.csv"
    dataset = CONTEXT["dataset"]
    if dataset == "csv":
        shutil.copyfile(resolve_user_path(CONTEXT["csv_path"].strip()), target)
    else:
        BUNDLED[dataset].rename(target)
    for path in BUNDLED.values():
        path.unlink(missing_ok=True)


def prune() -> None:
    for (key, keep_value), paths in PRUNE.items():
        if CONTEXT[key] == keep_value:
            continue
        for name in paths:
            path = Path(name)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def main() -> int:
    place_dataset()
    prune()
    print(
        f"\nCreated {Path.cwd()}\nNext: cd {CONTEXT['project_slug']} && mlgitops init && dvc repro\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
