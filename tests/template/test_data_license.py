"""Your own CSV starts green: its license is asked for, recorded with the data, and allowed.

A CSV bake asks for the data's SPDX license and source (`data_license`, `data_source`);
the pre-generation hook rejects a missing or malformed license; `mlgitops init` carries
both into the `meta:` of data/raw/data.csv.dvc, and the first `mlgitops govern` passes
`data.license`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from helpers.baking import RUNNABLE, bake, write_small_csv

from mlgitops.io.policy_loader import load_policy


def _csv_answers(tmp_path: Path, **answers: str) -> dict[str, str]:
    source = write_small_csv(tmp_path / "in" / "customers.csv")
    return {"dataset": "csv", "csv_path": str(source), "target_column": "churned", **answers}


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({}, "dataset=csv needs data_license: the SPDX id of your data's license"),
        ({"data_license": "NOASSERTION"}, "data_license='NOASSERTION' is not an SPDX license id"),
        ({"data_license": "CC BY 4.0"}, "data_license='CC BY 4.0' is not an SPDX license id"),
        ({"data_license": "MIT", "data_source": "a\nb"}, "data_source must be on one line"),
    ],
)
def test_a_csv_bake_needs_a_valid_license(
    tmp_path: Path, answers: dict[str, str], message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path / "out", **_csv_answers(tmp_path, **answers))
    assert message in capfd.readouterr().err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_the_bundled_datasets_need_no_license_answer(tmp_path: Path) -> None:
    repo = bake(tmp_path / "out")
    dataset = yaml.safe_load((repo / "data/dataset.yaml").read_text(encoding="utf-8"))
    assert dataset["license"] == "CC-BY-4.0"


def test_the_stated_license_and_source_are_written_and_allowed(tmp_path: Path) -> None:
    answers = _csv_answers(
        tmp_path, data_license="LicenseRef-acme-internal", data_source='https://x.test/"q"'
    )
    repo = bake(tmp_path / "out", **answers)
    dataset = yaml.safe_load((repo / "data/dataset.yaml").read_text(encoding="utf-8"))
    assert dataset["license"] == "LicenseRef-acme-internal"
    assert dataset["source"] == 'https://x.test/"q"'
    policy = load_policy(repo / "governance/policy.yaml")
    assert policy.data is not None and policy.data.allowed_licenses is not None
    assert policy.data.allowed_licenses[-1] == "LicenseRef-acme-internal"


def test_an_already_allowed_license_is_not_listed_twice(tmp_path: Path) -> None:
    repo = bake(tmp_path / "out", **_csv_answers(tmp_path, data_license="CC0-1.0"))
    policy = load_policy(repo / "governance/policy.yaml")
    assert policy.data is not None and policy.data.allowed_licenses is not None
    assert list(policy.data.allowed_licenses).count("CC0-1.0") == 1


@pytest.mark.slow
def test_the_first_govern_of_a_csv_bake_passes_data_license(
    runnable_repo: Callable[[str], Path],
) -> None:
    repo = runnable_repo("csv")
    meta = yaml.safe_load((repo / "data/raw/data.csv.dvc").read_text(encoding="utf-8"))["meta"]
    assert meta == {
        "license": RUNNABLE["csv"]["data_license"],
        "source": RUNNABLE["csv"]["data_source"],
    }
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", "govern", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    verdict = json.loads(result.stdout)
    statuses = {(r["rule"], r["subject"]): r["status"] for r in verdict["results"]}
    assert statuses[("data.license", "data/raw/data.csv.dvc")] == "pass"
    failed = sorted(key for key, status in statuses.items() if status == "fail")
    assert failed == [] and result.returncode == 0, result.stderr
