"""fairness.gap: the spread of one metric across the groups of a fairness report."""

from __future__ import annotations

from collections.abc import Mapping

from mlgitops.core.governance.facts import FairnessFacts
from mlgitops.core.governance.results import (
    RuleResult,
    Status,
    describe_invalid,
    fmt,
    policy_finding,
    within,
)
from mlgitops.core.model_card import is_number
from mlgitops.core.policy import Policy


def fairness_rules(policy: Policy, facts: FairnessFacts | None) -> list[RuleResult]:
    config = policy.fairness
    if config is None:
        return []
    where = ("fairness", "max_gap")
    if facts is None or facts.groups is None:
        problem = facts.problem if facts is not None else "not gathered"
        message = f"cannot read fairness report {config.report}: {problem}"
        return [
            RuleResult(
                "fairness.gap",
                config.metric,
                Status.FAIL,
                message,
                findings=(policy_finding(policy, message, "fairness", "report"),),
            )
        ]
    compared: dict[str, float] = {}
    ignored: list[str] = []
    invalid: list[str] = []
    for group, values in facts.groups.items():
        count = values.get("count") if isinstance(values, Mapping) else None
        value = values.get(config.metric) if isinstance(values, Mapping) else None
        if is_number(count) and count < config.min_group_size:
            ignored.append(f"{group} (n={fmt(count)})")
            continue
        if not is_number(value):
            invalid.append(f"{group}: {config.metric} {describe_invalid(value)}")
            continue
        compared[group] = float(value)
    subject = f"{config.metric} by {facts.column}" if facts.column else config.metric
    if invalid or len(compared) < 2:
        reason = "; ".join(invalid) if invalid else f"only {len(compared)} group(s) to compare"
        message = f"fairness report {facts.file}: {reason}"
        return [
            RuleResult(
                "fairness.gap",
                subject,
                Status.FAIL,
                message,
                {"groups": len(compared)},
                (policy_finding(policy, message, *where),),
            )
        ]
    best = max(compared, key=lambda g: compared[g])
    worst = min(compared, key=lambda g: compared[g])
    gap = compared[best] - compared[worst]
    ok = within(gap, config.max_gap)
    detail = (
        f"gap {fmt(gap)} {'<=' if ok else '>'} max_gap {fmt(config.max_gap)} "
        f"(best '{best}' {fmt(compared[best])}, worst '{worst}' {fmt(compared[worst])};"
        f" {len(compared)} groups)"
    )
    if ignored:
        detail += f"; not compared (below min_group_size): {', '.join(ignored)}"
    return [
        RuleResult(
            "fairness.gap",
            subject,
            Status.PASS if ok else Status.FAIL,
            detail,
            {"gap": gap, "max_gap": config.max_gap, "groups": len(compared)},
            () if ok else (policy_finding(policy, f"fairness {detail}", *where),),
        )
    ]
