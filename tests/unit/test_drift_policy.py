"""The `drift:` section of governance/policy.yaml: defaults, values, errors with locations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlgitops.core.drift import DriftPolicy
from mlgitops.errors import InputError
from mlgitops.services.drift import load_drift_policy

BASE = "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults_unless_named(tmp_path: Path) -> None:
    assert load_drift_policy(tmp_path / "nope.yaml") == DriftPolicy()
    with pytest.raises(InputError, match="policy file not found"):
        load_drift_policy(tmp_path / "nope.yaml", required=True)


def test_policy_without_drift_section_gives_defaults(tmp_path: Path) -> None:
    assert load_drift_policy(write(tmp_path, BASE)) == DriftPolicy()


def test_full_drift_section(tmp_path: Path) -> None:
    text = BASE + (
        "drift:\n"
        "  psi_max: 0.25\n"
        "  ks_pvalue_min: 0\n"
        "  chi2_pvalue_min: 0.001\n"
        "  columns: [a, b]\n"
        "  exclude: [b]\n"
        "  categorical: [a]\n"
        "  bins: 20\n"
        "  issue_label: data-drift\n"
    )
    assert load_drift_policy(write(tmp_path, text)) == DriftPolicy(
        psi_max=0.25,
        ks_pvalue_min=0.0,
        chi2_pvalue_min=0.001,
        columns=("a", "b"),
        exclude=("b",),
        categorical=("a",),
        bins=20,
        issue_label="data-drift",
    )


def test_columns_all_means_every_column(tmp_path: Path) -> None:
    policy = load_drift_policy(write(tmp_path, BASE + "drift:\n  columns: all\n"))
    assert policy.columns is None
    assert math.isclose(policy.psi_max, 0.2)


@pytest.mark.parametrize(
    ("section", "message", "line", "key"),
    [
        ("drift:\n  psi_max: high\n", 'expected a number, got string "high"', 6, "drift.psi_max"),
        (
            "drift:\n  ks_pvalue_min: 2\n",
            "2 is greater than the maximum of 1",
            6,
            "drift.ks_pvalue_min",
        ),
        ("drift:\n  psi_max: true\n", "expected a number, got boolean true", 6, "drift.psi_max"),
        ("drift:\n  colums: all\n", "unknown key 'colums'", 6, "drift.colums"),
        (
            "drift:\n  columns: x\n",
            "columns takes 'all' or a list of column names",
            6,
            "drift.columns",
        ),
        ("drift:\n  bins: 1\n", "must be >= 2, got 1", 6, "drift.bins"),
        ("drift:\n  issue_label: ''\n", "must not be empty", 6, "drift.issue_label"),
        ("drift: [1]\n", "expected a mapping", 5, "drift"),
    ],
)
def test_bad_values_name_file_line_and_key(
    tmp_path: Path, section: str, message: str, line: int, key: str
) -> None:
    path = write(tmp_path, BASE + section)
    with pytest.raises(InputError, match=message) as caught:
        load_drift_policy(path)
    location = caught.value.location
    assert location is not None
    assert (location.file, location.line, location.key) == (str(path), line, key)


def test_invalid_rest_of_policy_is_reported_by_the_policy_loader(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="version"):
        load_drift_policy(write(tmp_path, "metrics: {}\ndrift: {}\n"))
