"""Validate the answers before anything is generated.

Every problem is reported at once, each with what to type instead; the exit code is non-zero
so that cookiecutter (and cruft) stop and remove the half-generated folder.
No git or dvc commands here: `mlgitops init` does that after baking, so `cruft update` keeps working.
"""

from __future__ import annotations

import csv
import json
import keyword
import os
import re
import sys
from pathlib import Path

CONTEXT = json.loads({{ cookiecutter | tojson | tojson }})

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
PACKAGE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
PYTHON_PATTERN = re.compile(r"^3\.(1[1-9]|[2-9][0-9])$")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# One SPDX license id (https://spdx.org/licenses/) or a LicenseRef-<name> of your own.
SPDX_ID_PATTERN = re.compile(r"^(?:LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.+-]*)$")
NOT_A_LICENSE = {"NOASSERTION", "NONE"}

DATASET_TASK = {"breast_cancer": "classification", "diabetes": "regression"}
REMOTE_SCHEMES = {"s3": "s3://", "gcs": "gs://", "azure": "azure://", "ssh": "ssh://"}
CHOICES = {
    "license": {"MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"},
    "task": {"classification", "regression"},
    "dataset": {"breast_cancer", "diabetes", "csv"},
    "dvc_remote": {"local", *REMOTE_SCHEMES},
    "training_runner": {"github-hosted", "self-hosted", "cml-cloud"},
}


def resolve_user_path(raw: str) -> Path:
    """A relative path is taken from where the user ran cookiecutter.

    Hooks run with the generated folder as working directory, but they inherit the environment,
    and the shell's PWD still names the directory cookiecutter was started from.
    """
    path = Path(raw).expanduser()
    if path.is_absolute():
        return path
    return Path(os.environ.get("PWD", os.getcwd())) / path


def check_name(errors: list[str], key: str, pattern: re.Pattern[str], example: str) -> None:
    value = CONTEXT[key]
    if not pattern.match(value) or value.endswith(("-", "_")):
        errors.append(
            f"{key}={value!r} is not valid: use lowercase letters, digits and "
            f"{'_' if key == 'package_name' else '-'}, starting with a letter (e.g. {example!r})"
        )


def check_csv(errors: list[str]) -> None:
    raw = CONTEXT["csv_path"].strip()
    target = CONTEXT["target_column"]
    if not raw:
        errors.append("dataset=csv needs csv_path: the path of your CSV file")
        return
    if not target.strip():
        errors.append("dataset=csv needs target_column: the column the model predicts")
    path = resolve_user_path(raw)
    if not path.is_file():
        errors.append(f"csv_path={raw!r}: no such file ({path})")
        return
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = sum(1 for _ in zip(range(20), reader))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        errors.append(f"csv_path={raw!r}: cannot read it as a UTF-8 CSV file ({error})")
        return
    columns = [name.strip() for name in header]
    if target.strip() and target.strip() not in columns:
        errors.append(
            f"target_column={target!r} is not a column of {raw!r}; its columns are: "
            + ", ".join(repr(name) for name in columns)
        )
    if rows < 20:
        errors.append(f"csv_path={raw!r}: needs at least 20 data rows to split and train")


def check_data_license(errors: list[str]) -> None:
    """The data's license is recorded with the data and checked by governance (data.license)."""
    license_id = CONTEXT["data_license"].strip()
    if not license_id:
        errors.append(
            "dataset=csv needs data_license: the SPDX id of your data's license, e.g. "
            "'CC-BY-4.0' or 'CC0-1.0' (https://spdx.org/licenses/), or 'LicenseRef-<name>' "
            "for your organisation's own terms"
        )
    elif license_id.upper() in NOT_A_LICENSE or not SPDX_ID_PATTERN.match(license_id):
        errors.append(
            f"data_license={license_id!r} is not an SPDX license id: use one such as "
            "'CC-BY-4.0' (https://spdx.org/licenses/), or 'LicenseRef-<name>'"
        )
    if CONTROL_CHARS.search(CONTEXT["data_source"]):
        errors.append("data_source must be on one line")


def validate() -> list[str]:
    errors: list[str] = []
    for key, allowed in CHOICES.items():
        if CONTEXT[key] not in allowed:
            errors.append(f"{key}={CONTEXT[key]!r} is not one of {sorted(allowed)}")
    for key in ("project_name", "author_name"):
        if not CONTEXT[key].strip() or CONTROL_CHARS.search(CONTEXT[key]):
            errors.append(f"{key}={CONTEXT[key]!r} must be non-empty and on one line")
    check_name(errors, "project_slug", NAME_PATTERN, "my-model-repo")
    check_name(errors, "model_name", NAME_PATTERN, "churn-classifier")
    check_name(errors, "package_name", PACKAGE_PATTERN, "my_model_repo")
    if keyword.iskeyword(CONTEXT["package_name"]):
        errors.append(f"package_name={CONTEXT['package_name']!r} is a Python keyword")
    if not EMAIL_PATTERN.match(CONTEXT["author_email"]):
        errors.append(f"author_email={CONTEXT['author_email']!r} is not an email address")
    if not PYTHON_PATTERN.match(CONTEXT["python_version"]):
        errors.append(f"python_version={CONTEXT['python_version']!r}: use 3.11 or newer, e.g. '3.12'")
    if not REPO_PATTERN.match(CONTEXT["template_repo"]):
        errors.append(
            f"template_repo={CONTEXT['template_repo']!r}: use owner/name, "
            "e.g. 'ml-gitops/ml-gitops-template'"
        )
    ref = CONTEXT["__template_ref"]  # the answer, or this release's tag when it is empty
    if not REF_PATTERN.match(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        errors.append(f"template_ref={ref!r} is not a git tag, branch or SHA")

    dataset, task = CONTEXT["dataset"], CONTEXT["task"]
    if dataset in DATASET_TASK and DATASET_TASK[dataset] != task:
        errors.append(
            f"dataset={dataset!r} is a {DATASET_TASK[dataset]} dataset but task={task!r}: "
            f"choose task={DATASET_TASK[dataset]!r}, or another dataset"
        )
    if dataset == "csv":
        check_csv(errors)
        check_data_license(errors)

    remote, url = CONTEXT["dvc_remote"], CONTEXT["dvc_remote_url"].strip()
    if remote == "local":
        if "://" in url:
            errors.append(
                f"dvc_remote=local needs a folder path, not the URL {url!r} "
                "(or choose the matching dvc_remote kind)"
            )
    elif remote in REMOTE_SCHEMES:
        scheme = REMOTE_SCHEMES[remote]
        if not url:
            errors.append(f"dvc_remote={remote} needs dvc_remote_url, e.g. '{scheme}bucket/path'")
        elif not url.startswith(scheme) or len(url) == len(scheme):
            errors.append(
                f"dvc_remote_url={url!r} does not match dvc_remote={remote}: "
                f"it must start with {scheme!r}"
            )
    if CONTROL_CHARS.search(url):
        errors.append("dvc_remote_url must be on one line")
    return errors


def main() -> int:
    errors = validate()
    if errors:
        print("\nThe answers cannot make a repository:", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        print("Nothing was generated. Run cookiecutter again with other answers.\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
