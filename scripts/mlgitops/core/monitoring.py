"""What a served model is watched for: pure policy types and streaming summaries.

The `monitoring:` section of the policy says which inputs the prediction logs keep
(`log:`), how many logged predictions a verdict needs (`min_samples`), how far the
live metrics may fall below the promoted version's own (`decay:`), and the latency
objective over the logged window (`latency:`).

Everything here works on values already read: no files, no environment. The
summaries (`LatencySketch`, `ClassificationCounts`, `RegressionSums`) take values in
chunks and hold a fixed amount of state, so memory does not grow with the rows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HASH_PREFIX = "h:"
DEFAULT_SALT_ENV = "MLGITOPS_LOG_SALT"
DEFAULT_LOG_FOLDER = "logs/predictions"

# The metrics the evaluate stage writes, and which way is better.
HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "precision": True, "recall": True, "r2": True}
LOWER_IS_BETTER = {"rmse": False, "mae": False}
KNOWN_METRICS = {**HIGHER_IS_BETTER, **LOWER_IS_BETTER}


@dataclass(frozen=True)
class LogPolicy:
    """Which request inputs a prediction log keeps, and where.

    `include` None keeps every input; `exclude` wins over `include`; `hash` keeps a
    salted SHA-256 of the value instead of the value (equal values stay equal, so a
    hashed column can still be counted or joined, but not read back).
    """

    folder: str = DEFAULT_LOG_FOLDER
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    hash: tuple[str, ...] = ()
    salt_env: str = DEFAULT_SALT_ENV
    segment_mb: float = 64.0

    def keeps(self, column: str) -> bool:
        if column in self.exclude:
            return False
        return self.include is None or column in self.include

    def to_dict(self) -> dict[str, Any]:
        """Plain data, e.g. for a model-settings file the serving runtime reads."""
        return {
            "folder": self.folder,
            "include": list(self.include) if self.include is not None else "all",
            "exclude": list(self.exclude),
            "hash": list(self.hash),
            "salt_env": self.salt_env,
            "segment_mb": self.segment_mb,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogPolicy:
        include = data.get("include", "all")
        return cls(
            folder=str(data.get("folder", DEFAULT_LOG_FOLDER)),
            include=None if include == "all" else tuple(include),
            exclude=tuple(data.get("exclude", ())),
            hash=tuple(data.get("hash", ())),
            salt_env=str(data.get("salt_env", DEFAULT_SALT_ENV)),
            segment_mb=float(data.get("segment_mb", 64.0)),
        )


@dataclass(frozen=True)
class DecayRule:
    """The largest allowed fall of one metric below the promoted version's value."""

    metric: str
    absolute: float | None = None
    relative: float | None = None


@dataclass(frozen=True)
class MonitoringPolicy:
    """The `monitoring:` section of governance/policy.yaml (defaults when it is absent)."""

    log: LogPolicy = field(default_factory=LogPolicy)
    min_samples: int = 1
    prediction_drift: bool = True
    decay: tuple[DecayRule, ...] = ()
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    retrain_label: str = "retrain"


def hash_value(value: Any, salt: str) -> str:
    """`h:` and 16 hex digits of SHA-256(salt, value as text); None stays None."""
    digest = hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()[:16]
    return HASH_PREFIX + digest


def logged_inputs(row: Mapping[str, Any], policy: LogPolicy, salt: str | None) -> dict[str, Any]:
    """The inputs of one row as the log keeps them: selected, hashed, JSON-safe."""
    kept: dict[str, Any] = {}
    hashed = set(policy.hash)
    for name, value in row.items():
        column = str(name)
        if not policy.keeps(column):
            continue
        value = json_safe(value)
        if column in hashed and value is not None:
            if salt is None:  # checked when the logger is built; never log a bare hash
                raise ValueError(f"column {column!r} is hashed but no salt was given")
            value = hash_value(value, salt)
        kept[column] = value
    return kept


def json_safe(value: Any) -> Any:
    """A value JSON can carry: numpy scalars to Python, NaN and infinities to None."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --------------------------------------------------------------------------- latency


class LatencySketch:
    """Quantiles of latencies in fixed log-spaced buckets (about 2 KiB of counts).

    Bucket i holds values in [GAMMA**i, GAMMA**(i+1)) milliseconds from 1 µs to about
    28 hours; a quantile is reported as the geometric middle of its bucket, so it is
    within RELATIVE_ERROR (1 %) of the exact order statistic. Values below 1 µs land
    in the first bucket, larger ones in the last.
    """

    GAMMA = 1.02
    RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)
    LOWEST_MS = 1e-3
    BUCKETS = 1200

    def __init__(self) -> None:
        self.counts = [0] * self.BUCKETS
        self.count = 0

    def add(self, values: Iterable[float]) -> None:
        log_gamma = math.log(self.GAMMA)
        for value in values:
            if value is None or not math.isfinite(value) or value < 0:
                continue
            index = 0
            if value > self.LOWEST_MS:
                index = min(int(math.log(value / self.LOWEST_MS) / log_gamma), self.BUCKETS - 1)
            self.counts[index] += 1
            self.count += 1

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1) in milliseconds, None without values."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index, bucket in enumerate(self.counts):
            seen += bucket
            if seen >= rank:
                return self.LOWEST_MS * self.GAMMA ** (index + 0.5)
        return self.LOWEST_MS * self.GAMMA ** (self.BUCKETS - 0.5)


# --------------------------------------------------------------------------- decay


class ClassificationCounts:
    """A confusion matrix grown chunk by chunk; accuracy, precision, recall and f1.

    Binary: the positive class is the last of the sorted classes (as in the evaluate
    stage of the pipeline); more classes: macro averages.
    """

    def __init__(self, classes: Iterable[str] = ()) -> None:
        self.pairs: dict[tuple[str, str], int] = {}
        self.classes: set[str] = set(classes)
        self.count = 0

    def add(self, truth: Iterable[Any], predicted: Iterable[Any]) -> None:
        for actual, guess in zip(truth, predicted, strict=True):
            key = (label_text(actual), label_text(guess))
            self.pairs[key] = self.pairs.get(key, 0) + 1
            self.classes.update(key)
            self.count += 1

    def metrics(self) -> dict[str, float]:
        if not self.count:
            return {}
        classes = sorted(self.classes)
        correct = sum(n for (a, p), n in self.pairs.items() if a == p)
        result = {"accuracy": correct / self.count}
        scored = classes[-1:] if len(classes) == 2 else classes
        precision, recall, f1 = [], [], []
        for label in scored:
            tp = self.pairs.get((label, label), 0)
            predicted = sum(n for (_, p), n in self.pairs.items() if p == label)
            actual = sum(n for (a, _), n in self.pairs.items() if a == label)
            p = tp / predicted if predicted else 0.0
            r = tp / actual if actual else 0.0
            precision.append(p)
            recall.append(r)
            f1.append(2 * p * r / (p + r) if p + r else 0.0)
        result["precision"] = sum(precision) / len(scored)
        result["recall"] = sum(recall) / len(scored)
        result["f1"] = sum(f1) / len(scored)
        return result


class RegressionSums:
    """Running sums for rmse, mae and r2 (five numbers, any number of rows)."""

    def __init__(self) -> None:
        self.count = 0
        self.abs_error = 0.0
        self.sq_error = 0.0
        self.truth_sum = 0.0
        self.truth_sq = 0.0

    def add(self, truth: Iterable[float], predicted: Iterable[float]) -> None:
        for actual, guess in zip(truth, predicted, strict=True):
            error = float(actual) - float(guess)
            self.count += 1
            self.abs_error += abs(error)
            self.sq_error += error * error
            self.truth_sum += float(actual)
            self.truth_sq += float(actual) ** 2

    def metrics(self) -> dict[str, float]:
        if not self.count:
            return {}
        result = {
            "rmse": math.sqrt(self.sq_error / self.count),
            "mae": self.abs_error / self.count,
        }
        total = self.truth_sq - self.truth_sum**2 / self.count
        if self.count >= 2 and total > 0:
            result["r2"] = 1 - self.sq_error / total
        return result


def label_text(value: Any) -> str:
    """Class labels compared as text: 1, 1.0 and "1" are one class."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class DecayCheck:
    """One metric on the labelled window against the promoted version's value."""

    metric: str
    reference: float
    current: float
    allowed_drop: float
    failed: bool


def judge_decay(
    rules: Iterable[DecayRule], reference: Mapping[str, float], current: Mapping[str, float]
) -> tuple[DecayCheck, ...]:
    """Each rule whose metric both sides have; a fall beyond the allowance fails."""
    checks = []
    for rule in rules:
        if rule.metric not in reference or rule.metric not in current:
            continue
        base, now = float(reference[rule.metric]), float(current[rule.metric])
        higher = KNOWN_METRICS.get(rule.metric, True)
        drop = (base - now) if higher else (now - base)
        allowed = rule.absolute if rule.absolute is not None else abs(base) * (rule.relative or 0)
        checks.append(DecayCheck(rule.metric, base, now, allowed, drop > allowed + 1e-12))
    return tuple(checks)


@dataclass(frozen=True)
class LatencyCheck:
    """Request latencies of the window against the objective (None: no objective)."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    p50_max_ms: float | None
    p99_max_ms: float | None

    @property
    def failed(self) -> bool:
        return _over(self.p50_ms, self.p50_max_ms) or _over(self.p99_ms, self.p99_max_ms)


def _over(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit


def check_latency(sketch: LatencySketch, policy: MonitoringPolicy) -> LatencyCheck:
    """p50 and p99 of the sketch against the policy's objective."""
    return LatencyCheck(
        count=sketch.count,
        p50_ms=sketch.quantile(0.50),
        p99_ms=sketch.quantile(0.99),
        p50_max_ms=policy.latency_p50_ms,
        p99_max_ms=policy.latency_p99_ms,
    )
