"""Per-column data drift between a reference and a current table: pure computation.

Numeric columns are judged by the Population Stability Index (PSI, bins taken from
the reference) and the two-sample Kolmogorov-Smirnov test; categorical columns by a
chi-square test of homogeneity on the category counts. A column drifts when any of
its tests crosses the policy's threshold; the table drifts when any column does.

No I/O here: data frames and a `DriftPolicy` in, a `DriftReport` out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from mlgitops.errors import InputError

NUMERIC = "numeric"
CATEGORICAL = "categorical"

# Proportions are floored at this before taking logs, so an empty bin gives a large
# but finite PSI instead of infinity (the usual convention for PSI).
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class DriftPolicy:
    """Thresholds from the `drift:` section of governance/policy.yaml.

    A threshold of 0 for a p-value (or `psi_max` of infinity) switches that test off:
    with large samples the KS test flags tiny, harmless shifts, so teams often judge
    numeric columns by PSI alone (`ks_pvalue_min: 0`).
    """

    psi_max: float = 0.2
    ks_pvalue_min: float = 0.01
    chi2_pvalue_min: float = 0.01
    columns: tuple[str, ...] | None = None  # None: every column of the reference
    exclude: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()  # numeric-looking columns to treat as categories
    bins: int = 10
    issue_label: str = "drift"


@dataclass(frozen=True)
class ColumnDrift:
    """The tests of one column; `reasons` is empty when the column did not drift."""

    column: str
    kind: str
    reference_count: int
    current_count: int
    reference_missing: int = 0
    current_missing: int = 0
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    new_categories: tuple[str, ...] = ()  # categories seen only in the current data
    reasons: tuple[str, ...] = ()  # fixed wording, never data (names are shown apart)

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class DriftReport:
    """Every judged column plus what changed in the table's shape."""

    policy: DriftPolicy
    reference_rows: int
    current_rows: int
    columns: tuple[ColumnDrift, ...]
    missing_columns: tuple[str, ...] = ()  # judged columns absent from the current data
    new_columns: tuple[str, ...] = ()  # in the current data only (informational)
    labels: dict[str, str] = field(default_factory=dict)  # e.g. reference/current names

    @property
    def drifted_columns(self) -> tuple[ColumnDrift, ...]:
        return tuple(column for column in self.columns if column.drifted)

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_columns) or bool(self.missing_columns)


def population_stability_index(reference: ArrayLike, current: ArrayLike, bins: int = 10) -> float:
    """PSI of `current` against `reference`, with quantile bins of the reference.

    A reference with at most `bins` distinct values gets one bin per value, so
    constant and binary columns still detect a shift. PSI = sum((c - r) * ln(c / r))
    over bins of proportions r (reference) and c (current).
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("PSI needs at least one value on each side")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    distinct = np.unique(ref)
    if distinct.size <= bins:
        cuts = distinct
    else:
        quantiles = np.quantile(ref, np.linspace(0.0, 1.0, bins + 1))
        cuts = np.unique(quantiles[1:-1])
    # Bin i holds cuts[i-1] < x <= cuts[i]; the last bin is everything above the top cut.
    ref_counts = np.bincount(np.searchsorted(cuts, ref, side="left"), minlength=cuts.size + 1)
    cur_counts = np.bincount(np.searchsorted(cuts, cur, side="left"), minlength=cuts.size + 1)
    return _psi_from_counts(ref_counts, cur_counts)


def _psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    ref_share = np.maximum(ref_counts / ref_counts.sum(), PSI_EPSILON)
    cur_share = np.maximum(cur_counts / cur_counts.sum(), PSI_EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def chi_square_homogeneity(
    reference: Iterable[str] | pd.Series, current: Iterable[str] | pd.Series
) -> tuple[float, float]:
    """Chi-square statistic and p-value that both samples share one category distribution.

    Categories present on one side only count as zero on the other, so a brand-new
    category is strong evidence of drift. One category in total: (0.0, 1.0).
    """
    ref = _as_series(reference).value_counts()
    cur = _as_series(current).value_counts()
    if ref.sum() == 0 or cur.sum() == 0:
        raise ValueError("chi-square needs at least one value on each side")
    categories = sorted(set(ref.index) | set(cur.index), key=str)
    if len(categories) < 2:
        return 0.0, 1.0
    table = np.array(
        [[ref.get(c, 0) for c in categories], [cur.get(c, 0) for c in categories]], dtype=float
    )
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _as_series(values: Iterable[str] | pd.Series) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    return pd.Series(list(values), dtype=object)


def _is_numeric(series: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    )


def _finite(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


def _categories(series: pd.Series) -> pd.Series:
    # Compare categories as text: a CSV may read "1" as an int on one side and a
    # string on the other; 1.0 and 1 are the same category.
    values = series.dropna()
    if _is_numeric(values):
        return values.map(_number_text).astype(object)
    return values.astype(str).astype(object)


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _judge_numeric(name: str, ref: pd.Series, cur: pd.Series, policy: DriftPolicy) -> ColumnDrift:
    ref_values = _finite(ref)
    cur_values = _finite(cur)
    base = ColumnDrift(
        column=name,
        kind=NUMERIC,
        reference_count=int(ref_values.size),
        current_count=int(cur_values.size),
        reference_missing=int(len(ref) - ref_values.size),
        current_missing=int(len(cur) - cur_values.size),
    )
    if not _is_numeric(cur) and cur.notna().any():
        return replace(base, reasons=("type changed: numeric in reference, text in current",))
    empty = _empty_reason(ref_values.size, cur_values.size)
    if empty is not None:
        return replace(base, reasons=empty)
    psi = population_stability_index(ref_values, cur_values, bins=policy.bins)
    ks = stats.ks_2samp(ref_values, cur_values)
    ks_statistic, ks_pvalue = float(ks.statistic), float(ks.pvalue)
    reasons = []
    if psi > policy.psi_max:
        reasons.append(f"PSI {psi:.3f} > {policy.psi_max:g}")
    if ks_pvalue < policy.ks_pvalue_min:
        reasons.append(f"KS p-value {_p(ks_pvalue)} < {policy.ks_pvalue_min:g}")
    return replace(
        base,
        psi=psi,
        ks_statistic=ks_statistic,
        ks_pvalue=ks_pvalue,
        reasons=tuple(reasons),
    )


def _judge_categorical(
    name: str, ref: pd.Series, cur: pd.Series, policy: DriftPolicy
) -> ColumnDrift:
    ref_values = _categories(ref)
    cur_values = _categories(cur)
    base = ColumnDrift(
        column=name,
        kind=CATEGORICAL,
        reference_count=len(ref_values),
        current_count=len(cur_values),
        reference_missing=int(len(ref) - len(ref_values)),
        current_missing=int(len(cur) - len(cur_values)),
    )
    empty = _empty_reason(len(ref_values), len(cur_values))
    if empty is not None:
        return replace(base, reasons=empty)
    statistic, pvalue = chi_square_homogeneity(ref_values, cur_values)
    reasons = []
    if pvalue < policy.chi2_pvalue_min:
        reasons.append(f"chi-square p-value {_p(pvalue)} < {policy.chi2_pvalue_min:g}")
    return replace(
        base,
        chi2_statistic=statistic,
        chi2_pvalue=pvalue,
        new_categories=tuple(sorted(set(cur_values.unique()) - set(ref_values.unique()))),
        reasons=tuple(reasons),
    )


def _empty_reason(reference_count: int, current_count: int) -> tuple[str, ...] | None:
    """None when both sides have values; otherwise the verdict for an empty side."""
    if reference_count and current_count:
        return None
    if not reference_count and not current_count:
        return ()
    if not current_count:
        return ("no values in current data",)
    return ("no values in reference data",)


def _p(value: float) -> str:
    return f"{value:.2e}" if value < 0.001 else f"{value:.3f}"


def select_columns(reference: pd.DataFrame, policy: DriftPolicy) -> list[str]:
    """The reference columns the policy asks to judge, in reference order."""
    names = [str(column) for column in reference.columns]
    if policy.columns is not None:
        unknown = [c for c in policy.columns if c not in names]
        if unknown:
            raise InputError(
                f"drift columns not in the reference data: {', '.join(map(repr, unknown))}",
                hint=f"reference columns are: {', '.join(map(repr, names))}",
            )
        wanted = set(policy.columns)
        names = [c for c in names if c in wanted]
    excluded = set(policy.exclude)
    return [c for c in names if c not in excluded]


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    policy: DriftPolicy,
    labels: dict[str, str] | None = None,
) -> DriftReport:
    """Judge every selected column of `reference` against `current` under `policy`."""
    if len(reference) == 0:
        raise InputError("the reference data has no rows")
    if len(current) == 0:
        raise InputError("the current data has no rows")
    if len(set(map(str, current.columns))) != len(current.columns):
        raise InputError("the current data has duplicate column names")
    reference = reference.rename(columns=str)
    current = current.rename(columns=str)
    selected = select_columns(reference, policy)
    forced_categorical = set(policy.categorical)
    results = []
    missing = []
    for name in selected:
        if name not in current.columns:
            missing.append(name)
            continue
        ref, cur = reference[name], current[name]
        if name not in forced_categorical and _is_numeric(ref):
            results.append(_judge_numeric(name, ref, cur, policy))
        else:
            results.append(_judge_categorical(name, ref, cur, policy))
    reference_names = set(reference.columns)
    new = tuple(str(c) for c in current.columns if c not in reference_names)
    return DriftReport(
        policy=policy,
        reference_rows=len(reference),
        current_rows=len(current),
        columns=tuple(results),
        missing_columns=tuple(missing),
        new_columns=new,
        labels=dict(labels or {}),
    )


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def report_to_dict(report: DriftReport) -> dict[str, Any]:
    """JSON-ready data (NaN and infinity become null)."""
    policy = report.policy
    return {
        "drifted": report.drifted,
        "reference": report.labels.get("reference"),
        "current": report.labels.get("current"),
        "reference_rows": report.reference_rows,
        "current_rows": report.current_rows,
        "policy": {
            "psi_max": _json_number(policy.psi_max),
            "ks_pvalue_min": policy.ks_pvalue_min,
            "chi2_pvalue_min": policy.chi2_pvalue_min,
            "columns": list(policy.columns) if policy.columns is not None else "all",
            "exclude": list(policy.exclude),
            "categorical": list(policy.categorical),
            "bins": policy.bins,
        },
        "drifted_columns": [c.column for c in report.drifted_columns],
        "missing_columns": list(report.missing_columns),
        "new_columns": list(report.new_columns),
        "columns": [
            {
                "column": c.column,
                "kind": c.kind,
                "drifted": c.drifted,
                "reasons": list(c.reasons),
                "reference_count": c.reference_count,
                "current_count": c.current_count,
                "reference_missing": c.reference_missing,
                "current_missing": c.current_missing,
                "psi": _json_number(c.psi),
                "ks_statistic": _json_number(c.ks_statistic),
                "ks_pvalue": _json_number(c.ks_pvalue),
                "chi2_statistic": _json_number(c.chi2_statistic),
                "chi2_pvalue": _json_number(c.chi2_pvalue),
                "new_categories": list(c.new_categories),
            }
            for c in report.columns
        ],
    }
