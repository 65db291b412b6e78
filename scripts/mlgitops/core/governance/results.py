"""What a rule says about one subject, and the verdict over all of them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlgitops.core.policy import Policy
from mlgitops.errors import Location

# Thresholds compare with this tolerance: 0.9 - 0.8 is 0.09999999999999998, and a value
# exactly at a limit written in the policy must pass whichever way float rounding goes.
LIMIT_REL_TOL = 1e-9


Number = float | int
Value = float | int | str | bool | None


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """One annotation-worthy problem: a message and where it is."""

    message: str
    location: Location


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule on one subject, with the numbers behind it."""

    rule: str
    subject: str
    status: Status
    detail: str
    numbers: Mapping[str, Value] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL


def fmt(value: Any) -> str:
    """A number as people read it in a table: up to 4 decimals, no trailing zeros."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in {"0", "-0"} else f"{value:.3g}"


def within(value: float, limit: float) -> bool:
    """value <= limit, where a value equal to the limit up to float noise counts as within."""
    return value <= limit or math.isclose(value, limit, rel_tol=LIMIT_REL_TOL, abs_tol=1e-12)


def pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def describe_invalid(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"not finite ({value})"
    return f"not a number ({value!r})"


def policy_finding(policy: Policy, message: str, *path: str | int) -> Finding:
    return Finding(message, policy.location(*path))


def counts(results: Sequence[RuleResult]) -> dict[str, int]:
    """Number of results per status, plus the total."""
    tally = {status.value: 0 for status in Status}
    for result in results:
        tally[result.status.value] += 1
    tally["total"] = len(results)
    return tally


def verdict_line(results: Sequence[RuleResult]) -> str:
    tally = counts(results)
    checked = tally["pass"] + tally["fail"]
    skipped = f", {tally['skip']} skipped" if tally["skip"] else ""
    if tally["fail"]:
        return f"❌ Governance failed: {tally['fail']} of {checked} checks failed{skipped}"
    return f"✅ Governance passed: {checked} checks passed{skipped}"


def json_value(value: Value) -> Value:
    """NaN and Inf are not JSON: show them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def to_json(
    results: Sequence[RuleResult], *, policy_file: str, base_label: str | None
) -> dict[str, Any]:
    """The same verdict, machine-readable."""
    return {
        "passed": not any(r.failed for r in results),
        "counts": counts(results),
        "policy": policy_file,
        "base": base_label,
        "results": [
            {
                "rule": r.rule,
                "subject": r.subject,
                "status": r.status.value,
                "detail": r.detail,
                "numbers": {key: json_value(value) for key, value in r.numbers.items()},
                "findings": [
                    {
                        "message": f.message,
                        "file": f.location.file,
                        "line": f.location.line,
                        "key": f.location.key,
                    }
                    for f in r.findings
                ],
            }
            for r in results
        ],
    }


def failure_annotations(results: Sequence[RuleResult]) -> list[tuple[str, Location | None, str]]:
    """(message, location, title) for every failed rule: one per finding, else one bare."""
    found: list[tuple[str, Location | None, str]] = []
    for result in results:
        if not result.failed:
            continue
        title = f"governance {result.rule}"
        if not result.findings:
            found.append((result.detail, None, title))
        for finding in result.findings:
            found.append((finding.message, finding.location, title))
    return found
