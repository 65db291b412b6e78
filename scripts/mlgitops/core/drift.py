"""Per-column data drift between a reference and a current table: pure computation.

Numeric columns are judged by the Population Stability Index (PSI, bins taken from
the reference) and the two-sample Kolmogorov-Smirnov test; categorical columns by a
chi-square test of homogeneity on the category counts. A column drifts when any of
its tests crosses the policy's threshold; the table drifts when any column does.

No I/O here: data frames and a `DriftPolicy` in, a `DriftReport` out.

Streamed: `StreamingDrift` holds the reference and takes the current data in chunks,
keeping per column only counts whose size depends on the reference, not on the
current rows: PSI counts per reference quantile bin; for Kolmogorov-Smirnov, counts
of current values at and between the reference's distinct values, from which the KS
statistic is exact (both empirical CDFs are step functions, and the current one is
known at every point where the difference can peak); chi-square counts per category
(new categories beyond MAX_NEW_CATEGORIES are pooled into one). Up to KS_EXACT_MAX
current values the values themselves are also kept and SciPy's `ks_2samp` gives the
exact p-value, as for a whole table; beyond, the p-value is Smirnov's asymptotic one,
which is what `ks_2samp` itself switches to above that size.
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

from mlgitops.core.monitoring import DecayCheck, LatencyCheck
from mlgitops.errors import InputError

NUMERIC = "numeric"
CATEGORICAL = "categorical"

# SciPy's ks_2samp computes exact p-values up to this many values per side.
KS_EXACT_MAX = 10_000
# Distinct categories seen only in the current data that are counted one by one.
MAX_NEW_CATEGORIES = 10_000
OTHER_NEW = "(other new categories)"

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
    # Prediction logs: served outputs vs the reference's test-set predictions, the
    # labelled window against the reference's metrics, latency, and what was skipped.
    prediction: ColumnDrift | None = None
    min_samples: int = 1
    decay: tuple[DecayCheck, ...] = ()
    labelled: int | None = None  # predictions with a label (None: no labels given)
    unmatched_labels: int = 0  # labels whose request id is not in the window
    latency: LatencyCheck | None = None
    log: dict[str, int] = field(default_factory=dict)  # segments, records, truncated, corrupt
    notes: tuple[str, ...] = ()  # fixed wording, never data

    @property
    def drifted_columns(self) -> tuple[ColumnDrift, ...]:
        return tuple(column for column in self.columns if column.drifted)

    @property
    def insufficient(self) -> bool:
        """Fewer current rows than the policy's minimum: no verdict at all."""
        return self.current_rows < self.min_samples

    @property
    def drifted(self) -> bool:
        if self.insufficient:
            return False
        prediction = self.prediction is not None and self.prediction.drifted
        return bool(self.drifted_columns) or bool(self.missing_columns) or prediction

    @property
    def decayed(self) -> bool:
        return not self.insufficient and any(check.failed for check in self.decay)

    @property
    def slow(self) -> bool:
        return not self.insufficient and self.latency is not None and self.latency.failed

    @property
    def needs_retraining(self) -> bool:
        """Drift or decay over the policy: the data moved, retraining may help."""
        return self.drifted or self.decayed

    @property
    def failed(self) -> bool:
        """Anything over the policy (latency too, which retraining does not fix)."""
        return self.needs_retraining or self.slow

    @property
    def verdict(self) -> str:
        """`insufficient-data`, `drift`, `decay`, `latency` or `ok` (the first that holds)."""
        if self.insufficient:
            return "insufficient-data"
        if self.drifted:
            return "drift"
        if self.decayed:
            return "decay"
        if self.slow:
            return "latency"
        return "ok"


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
    cuts = psi_cuts(ref, bins)
    # Bin i holds cuts[i-1] < x <= cuts[i]; the last bin is everything above the top cut.
    ref_counts = np.bincount(np.searchsorted(cuts, ref, side="left"), minlength=cuts.size + 1)
    cur_counts = np.bincount(np.searchsorted(cuts, cur, side="left"), minlength=cuts.size + 1)
    return _psi_from_counts(ref_counts, cur_counts)


def psi_cuts(reference: np.ndarray, bins: int) -> np.ndarray:
    """The bin edges of PSI: one bin per value of a reference with few values, else
    `bins` quantile bins of the reference."""
    distinct = np.unique(reference)
    if distinct.size <= bins:
        return distinct
    quantiles = np.quantile(reference, np.linspace(0.0, 1.0, bins + 1))
    return np.unique(quantiles[1:-1])


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


class _NumericColumn:
    """Running counts of one numeric column against its reference (see module docstring)."""

    def __init__(self, name: str, reference: pd.Series, policy: DriftPolicy) -> None:
        self.name = name
        self.policy = policy
        self.reference = _finite(reference)
        self.reference_missing = int(len(reference) - self.reference.size)
        self.cuts = psi_cuts(self.reference, policy.bins) if self.reference.size else np.array([])
        self.distinct, reference_counts = np.unique(self.reference, return_counts=True)
        self.reference_cdf = np.cumsum(reference_counts)
        self.bin_counts = np.zeros(self.cuts.size + 1, dtype=np.int64)
        self.equal = np.zeros(self.distinct.size, dtype=np.int64)
        self.between = np.zeros(self.distinct.size + 1, dtype=np.int64)
        self.kept: list[np.ndarray] | None = []
        self.count = 0
        self.missing = 0
        self.text = False

    def update(self, series: pd.Series) -> None:
        if not _is_numeric(series) and series.notna().any():
            numbers = pd.to_numeric(series, errors="coerce")
            self.text = self.text or bool((numbers.isna() & series.notna()).any())
        values = _finite(series)
        self.missing += int(len(series) - values.size)
        if not values.size:
            return
        self.count += int(values.size)
        if self.reference.size:
            bins = np.searchsorted(self.cuts, values, side="left")
            self.bin_counts += np.bincount(bins, minlength=self.cuts.size + 1)
            at = np.searchsorted(self.distinct, values, side="left")
            hit = at < self.distinct.size
            hit[hit] = self.distinct[at[hit]] == values[hit]
            self.equal += np.bincount(at[hit], minlength=self.distinct.size)
            self.between += np.bincount(at[~hit], minlength=self.distinct.size + 1)
        if self.kept is not None:
            self.kept.append(values)
            if self.count > KS_EXACT_MAX:
                self.kept = None

    def ks(self) -> tuple[float, float]:
        """The two-sample KS statistic and p-value against the reference."""
        if self.kept is not None:
            result = stats.ks_2samp(self.reference, np.concatenate(self.kept))
            return float(result.statistic), float(result.pvalue)
        n_ref, n_cur = self.reference.size, self.count
        below = np.cumsum(self.between[:-1])  # current values below each distinct value
        at_or_below = below + np.cumsum(self.equal)
        ref_at = self.reference_cdf / n_ref
        ref_before = np.concatenate(([0], self.reference_cdf[:-1])) / n_ref
        cur_at = at_or_below / n_cur
        cur_before = (below + np.concatenate(([0], np.cumsum(self.equal)[:-1]))) / n_cur
        statistic = float(max(np.abs(ref_at - cur_at).max(), np.abs(ref_before - cur_before).max()))
        large, small = sorted((float(n_ref), float(n_cur)), reverse=True)
        pvalue = float(
            np.clip(
                stats.distributions.kstwo.sf(statistic, np.round(large * small / (large + small))),
                0,
                1,
            )
        )
        return statistic, pvalue

    def finish(self) -> ColumnDrift:
        policy = self.policy
        base = ColumnDrift(
            column=self.name,
            kind=NUMERIC,
            reference_count=int(self.reference.size),
            current_count=self.count,
            reference_missing=self.reference_missing,
            current_missing=self.missing,
        )
        if self.text:
            return replace(base, reasons=("type changed: numeric in reference, text in current",))
        empty = _empty_reason(self.reference.size, self.count)
        if empty is not None:
            return replace(base, reasons=empty)
        reference_bins = np.bincount(
            np.searchsorted(self.cuts, self.reference, side="left"), minlength=self.cuts.size + 1
        )
        psi = _psi_from_counts(reference_bins, self.bin_counts)
        ks_statistic, ks_pvalue = self.ks()
        reasons = []
        if psi > policy.psi_max:
            reasons.append(f"PSI {psi:.3f} > {policy.psi_max:g}")
        if ks_pvalue < policy.ks_pvalue_min:
            reasons.append(f"KS p-value {_p(ks_pvalue)} < {policy.ks_pvalue_min:g}")
        return replace(
            base, psi=psi, ks_statistic=ks_statistic, ks_pvalue=ks_pvalue, reasons=tuple(reasons)
        )


class _CategoricalColumn:
    """Running category counts of one column against its reference."""

    def __init__(self, name: str, reference: pd.Series, policy: DriftPolicy) -> None:
        self.name = name
        self.policy = policy
        values = _categories(reference)
        self.reference_counts = values.value_counts()
        self.reference_total = len(values)
        self.reference_missing = int(len(reference) - len(values))
        self.known = set(self.reference_counts.index)
        self.counts: dict[str, int] = {}
        self.new = 0
        self.count = 0
        self.missing = 0

    def update(self, series: pd.Series) -> None:
        values = _categories(series)
        self.missing += int(len(series) - len(values))
        self.count += len(values)
        for category, number in values.value_counts().items():
            key = str(category)
            if key not in self.counts and key not in self.known:
                if self.new >= MAX_NEW_CATEGORIES:
                    key = OTHER_NEW
                else:
                    self.new += 1
            self.counts[key] = self.counts.get(key, 0) + int(number)

    def finish(self) -> ColumnDrift:
        base = ColumnDrift(
            column=self.name,
            kind=CATEGORICAL,
            reference_count=self.reference_total,
            current_count=self.count,
            reference_missing=self.reference_missing,
            current_missing=self.missing,
        )
        empty = _empty_reason(self.reference_total, self.count)
        if empty is not None:
            return replace(base, reasons=empty)
        statistic, pvalue = _chi_square_counts(dict(self.reference_counts.items()), self.counts)
        reasons = []
        if pvalue < self.policy.chi2_pvalue_min:
            reasons.append(f"chi-square p-value {_p(pvalue)} < {self.policy.chi2_pvalue_min:g}")
        return replace(
            base,
            chi2_statistic=statistic,
            chi2_pvalue=pvalue,
            new_categories=tuple(sorted(set(self.counts) - self.known)),
            reasons=tuple(reasons),
        )


def _chi_square_counts(reference: dict[Any, int], current: dict[Any, int]) -> tuple[float, float]:
    categories = sorted(set(reference) | set(current), key=str)
    if len(categories) < 2:
        return 0.0, 1.0
    table = np.array(
        [[reference.get(c, 0) for c in categories], [current.get(c, 0) for c in categories]],
        dtype=float,
    )
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


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


class StreamingDrift:
    """Drift of current data fed in chunks against a reference held whole.

    State per judged column is bounded by the reference (see the module docstring),
    so any number of current rows fits in the same memory.
    """

    def __init__(self, reference: pd.DataFrame, policy: DriftPolicy) -> None:
        if len(reference) == 0:
            raise InputError("the reference data has no rows")
        reference = reference.rename(columns=str)
        self.policy = policy
        self.reference_rows = len(reference)
        self.reference_names = [str(c) for c in reference.columns]
        forced = set(policy.categorical)
        self.columns: dict[str, _NumericColumn | _CategoricalColumn] = {}
        for name in select_columns(reference, policy):
            ref = reference[name]
            if name not in forced and _is_numeric(ref):
                self.columns[name] = _NumericColumn(name, ref, policy)
            else:
                self.columns[name] = _CategoricalColumn(name, ref, policy)
        self.seen: set[str] = set()
        self.new: dict[str, None] = {}  # ordered set
        self.rows = 0

    def update(self, chunk: pd.DataFrame) -> None:
        """Add a chunk of current rows (any columns; absent ones count as missing)."""
        if len(set(map(str, chunk.columns))) != len(chunk.columns):
            raise InputError("the current data has duplicate column names")
        chunk = chunk.rename(columns=str)
        self.rows += len(chunk)
        known = set(self.reference_names)
        for name in chunk.columns:
            if name not in known:
                self.new.setdefault(name, None)
        for name, column in self.columns.items():
            if name in chunk.columns:
                self.seen.add(name)
                column.update(chunk[name])
            else:
                column.missing += len(chunk)

    def finish(self, labels: dict[str, str] | None = None) -> DriftReport:
        """The report over every chunk so far."""
        results = []
        missing = []
        for name, column in self.columns.items():
            if name not in self.seen:
                missing.append(name)
                continue
            results.append(column.finish())
        return DriftReport(
            policy=self.policy,
            reference_rows=self.reference_rows,
            current_rows=self.rows,
            columns=tuple(results),
            missing_columns=tuple(missing),
            new_columns=tuple(self.new),
            labels=dict(labels or {}),
        )


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
    drift = StreamingDrift(reference, policy)
    drift.update(current)
    return drift.finish(labels)


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def report_to_dict(report: DriftReport) -> dict[str, Any]:
    """JSON-ready data (NaN and infinity become null)."""
    policy = report.policy
    return {
        "verdict": report.verdict,
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
        "min_samples": report.min_samples,
        "prediction": _column_dict(report.prediction) if report.prediction else None,
        "decay": [
            {
                "metric": d.metric,
                "reference": d.reference,
                "current": _json_number(d.current),
                "allowed_drop": d.allowed_drop,
                "failed": d.failed,
            }
            for d in report.decay
        ],
        "labelled": report.labelled,
        "unmatched_labels": report.unmatched_labels,
        "latency": None
        if report.latency is None
        else {
            "requests": report.latency.count,
            "p50_ms": _json_number(report.latency.p50_ms),
            "p99_ms": _json_number(report.latency.p99_ms),
            "p50_max_ms": report.latency.p50_max_ms,
            "p99_max_ms": report.latency.p99_max_ms,
            "failed": report.latency.failed,
        },
        "log": dict(report.log),
        "notes": list(report.notes),
    }


def _column_dict(c: ColumnDrift) -> dict[str, Any]:
    return {
        "column": c.column,
        "kind": c.kind,
        "drifted": c.drifted,
        "reasons": list(c.reasons),
        "current_count": c.current_count,
        "psi": _json_number(c.psi),
        "ks_pvalue": _json_number(c.ks_pvalue),
        "chi2_pvalue": _json_number(c.chi2_pvalue),
        "new_categories": list(c.new_categories),
    }
