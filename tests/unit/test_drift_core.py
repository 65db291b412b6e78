"""Drift statistics and verdicts: table-driven over small, seeded data."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlgitops.core.drift import (
    CATEGORICAL,
    NUMERIC,
    DriftPolicy,
    chi_square_homogeneity,
    compute_drift,
    population_stability_index,
    report_to_dict,
)
from mlgitops.errors import InputError

RNG_SEED = 7


def normal(mean: float, size: int = 2000, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, 1.0, size)


# --------------------------------------------------------------------------- PSI


def test_psi_of_identical_samples_is_zero() -> None:
    values = normal(0.0)
    assert population_stability_index(values, values) == pytest.approx(0.0)


def test_psi_matches_hand_computed_value() -> None:
    # Reference has 2 distinct values -> one bin per value: shares (0.5, 0.5) vs (0.8, 0.2).
    reference = [0, 0, 1, 1]
    current = [0, 0, 0, 0, 1] * 2 + [0, 0, 0, 1, 1]
    ref_share, cur_share = np.array([0.5, 0.5]), np.array([11 / 15, 4 / 15])
    expected = float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))
    assert population_stability_index(reference, current) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("shift", "low", "high"),
    [(0.0, 0.0, 0.02), (0.25, 0.03, 0.15), (1.0, 0.6, 1.5)],
)
def test_psi_grows_with_the_shift(shift: float, low: float, high: float) -> None:
    psi = population_stability_index(normal(0.0), normal(shift, seed=RNG_SEED + 1))
    assert low <= psi <= high


def test_psi_of_a_constant_reference_detects_a_new_value() -> None:
    assert population_stability_index([3.0] * 100, [3.0] * 100) == pytest.approx(0.0)
    assert population_stability_index([3.0] * 100, [4.0] * 100) > 5


def test_psi_is_finite_when_current_leaves_a_bin_empty() -> None:
    psi = population_stability_index(normal(0.0), np.full(50, 100.0))
    assert math.isfinite(psi) and psi > 1


def test_psi_rejects_empty_input() -> None:
    with pytest.raises(ValueError):
        population_stability_index([], [1.0])


# --------------------------------------------------------------------------- chi-square


def test_chi_square_same_distribution_has_high_pvalue() -> None:
    statistic, pvalue = chi_square_homogeneity(["a", "b"] * 50, ["b", "a"] * 50)
    assert statistic == pytest.approx(0.0)
    assert pvalue == pytest.approx(1.0)


def test_chi_square_single_category_is_no_evidence() -> None:
    assert chi_square_homogeneity(["a"] * 10, ["a"] * 5) == (0.0, 1.0)


def test_chi_square_new_category_is_strong_evidence() -> None:
    _, pvalue = chi_square_homogeneity(["a", "b"] * 100, ["a", "b", "c", "c"] * 50)
    assert pvalue < 1e-10


# --------------------------------------------------------------------------- verdicts


def frames(**columns: tuple[list | np.ndarray, list | np.ndarray]) -> tuple:
    reference = pd.DataFrame({name: pair[0] for name, pair in columns.items()})
    current = pd.DataFrame({name: pair[1] for name, pair in columns.items()})
    return reference, current


def test_no_drift_on_a_shuffled_copy() -> None:
    reference = pd.DataFrame({"x": normal(0.0), "c": ["a", "b", "c", "d"] * 500})
    current = reference.sample(frac=1.0, random_state=1).reset_index(drop=True)
    report = compute_drift(reference, current, DriftPolicy())
    assert not report.drifted
    assert [c.kind for c in report.columns] == [NUMERIC, CATEGORICAL]


@pytest.mark.parametrize(
    ("policy", "expected_reasons"),
    [
        (DriftPolicy(), ["PSI", "KS p-value"]),
        (DriftPolicy(ks_pvalue_min=0.0), ["PSI"]),  # KS switched off
        (DriftPolicy(psi_max=10.0), ["KS p-value"]),
        (DriftPolicy(psi_max=10.0, ks_pvalue_min=0.0), []),
    ],
)
def test_numeric_thresholds_decide_the_verdict(
    policy: DriftPolicy, expected_reasons: list[str]
) -> None:
    reference, current = frames(x=(normal(0.0), normal(1.0, seed=2)))
    (column,) = compute_drift(reference, current, policy).columns
    assert [reason.split(" ")[0] for reason in column.reasons] == [
        r.split(" ")[0] for r in expected_reasons
    ]
    assert column.psi is not None and column.psi > 0.5
    assert column.ks_pvalue is not None and column.ks_pvalue < 1e-10


def test_small_shift_passes_psi_but_not_ks_on_large_samples() -> None:
    reference, current = frames(x=(normal(0.0, 20000), normal(0.08, 20000, seed=3)))
    (column,) = compute_drift(reference, current, DriftPolicy()).columns
    assert column.psi is not None and column.psi < 0.2
    assert column.reasons == (f"KS p-value {column.ks_pvalue:.2e} < 0.01",)


def test_categorical_drift_names_new_categories_apart_from_reasons() -> None:
    reference, current = frames(c=(["a", "b"] * 100, ["a", "@here", "b", "@here"] * 50))
    (column,) = compute_drift(reference, current, DriftPolicy()).columns
    assert column.kind == CATEGORICAL
    assert column.drifted
    assert column.new_categories == ("@here",)
    assert all("@here" not in reason for reason in column.reasons)


def test_numbers_and_their_text_are_the_same_category() -> None:
    reference = pd.DataFrame({"code": [1, 2, 3] * 30})
    current = pd.DataFrame({"code": [1.0, 2.0, 3.0] * 30})
    report = compute_drift(reference, current, DriftPolicy(categorical=("code",)))
    assert report.columns[0].kind == CATEGORICAL
    assert not report.drifted


def test_booleans_are_categorical() -> None:
    reference, current = frames(flag=([True, False] * 50, [True] * 100))
    (column,) = compute_drift(reference, current, DriftPolicy()).columns
    assert column.kind == CATEGORICAL
    assert column.drifted


def test_missing_and_infinite_values_are_counted_not_compared() -> None:
    ref_values = list(normal(0.0, 200))
    cur_values = [*list(normal(0.0, 196)), float("nan"), float("inf"), -float("inf"), None]
    reference, current = frames(x=(ref_values, cur_values))
    (column,) = compute_drift(reference, current, DriftPolicy()).columns
    assert (column.current_count, column.current_missing) == (196, 4)
    assert not column.drifted


def test_text_in_a_numeric_column_is_a_type_change() -> None:
    reference, current = frames(x=([1.0, 2.0, 3.0], ["1", "two", "3"]))
    (column,) = compute_drift(reference, current, DriftPolicy()).columns
    assert column.reasons == ("type changed: numeric in reference, text in current",)


def test_an_emptied_column_drifts() -> None:
    reference, current = frames(x=([1.0, 2.0, 3.0], [None, None, None]))
    (column,) = compute_drift(reference, current, DriftPolicy()).columns
    assert column.reasons == ("no values in current data",)


def test_missing_columns_drift_and_new_columns_are_listed() -> None:
    reference = pd.DataFrame({"a": [1, 2, 3], "gone": [1, 2, 3]})
    current = pd.DataFrame({"a": [1, 2, 3], "extra": [1, 2, 3]})
    report = compute_drift(reference, current, DriftPolicy())
    assert report.drifted
    assert report.missing_columns == ("gone",)
    assert report.new_columns == ("extra",)


def test_columns_and_exclude_select_what_is_judged() -> None:
    reference = pd.DataFrame({"a": [1.0, 2.0] * 20, "b": [1.0, 2.0] * 20, "target": [0, 1] * 20})
    current = pd.DataFrame({"a": [1.0, 2.0] * 20, "b": [9.0] * 40, "target": [0] * 40})
    report = compute_drift(reference, current, DriftPolicy(columns=("a", "target")))
    assert [c.column for c in report.columns] == ["a", "target"]
    report = compute_drift(reference, current, DriftPolicy(exclude=("b", "target")))
    assert [c.column for c in report.columns] == ["a"]
    assert not report.drifted


def test_policy_naming_an_unknown_column_is_bad_input() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(InputError, match="'nope'"):
        compute_drift(frame, frame, DriftPolicy(columns=("nope",)))


@pytest.mark.parametrize("side", ["reference", "current"])
def test_empty_tables_are_bad_input(side: str) -> None:
    full, empty = pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": []})
    reference, current = (empty, full) if side == "reference" else (full, empty)
    with pytest.raises(InputError, match=f"{side} data has no rows"):
        compute_drift(reference, current, DriftPolicy())


def test_json_form_is_strict_json() -> None:
    reference, current = frames(
        x=(normal(0.0, 100), normal(2.0, 100)), c=(["a"] * 100, ["b"] * 100)
    )
    data = report_to_dict(compute_drift(reference, current, DriftPolicy(psi_max=math.inf)))
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["drifted_columns"] == ["x", "c"]
    assert data["policy"]["psi_max"] is None
    assert data["columns"][1]["new_categories"] == ["b"]


def test_the_drift_command_module_keeps_pandas_and_scipy_out_of_cli_start_up() -> None:
    code = (
        "import sys, argparse, mlgitops.commands.drift as d\n"
        "d.register(argparse.ArgumentParser().add_subparsers())\n"
        "print(sorted(m for m in ('pandas', 'scipy', 'dvc') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
