"""metric.present, metric.min, metric.max and metric.regression."""

from __future__ import annotations

import math

from mlgitops.core.governance.facts import MetricsFacts
from mlgitops.core.governance.results import (
    Finding,
    RuleResult,
    Status,
    Value,
    describe_invalid,
    fmt,
    pct,
    policy_finding,
    within,
)
from mlgitops.core.model_card import is_number
from mlgitops.core.policy import MetricRule, Policy
from mlgitops.errors import Location


def metric_rules(policy: Policy, facts: MetricsFacts) -> list[RuleResult]:
    results: list[RuleResult] = []
    for name, rule in policy.metrics.items():
        value = None if facts.head is None else facts.head.get(name)
        if not is_number(value):
            if facts.head is None:
                message = f"cannot read {facts.file}: {facts.problem}"
            else:
                written = "null" if name in facts.head and value is None else None
                message = f"metric '{name}' in {facts.file} is {written or describe_invalid(value)}"
            results.append(
                RuleResult(
                    "metric.present",
                    name,
                    Status.FAIL,
                    message,
                    {"value": value if isinstance(value, str | int | float | bool) else None},
                    (policy_finding(policy, message, "metrics", name),),
                )
            )
            continue
        results.append(
            RuleResult(
                "metric.present", name, Status.PASS, f"{name} = {fmt(value)}", {"value": value}
            )
        )
        results.extend(_threshold_results(policy, rule, float(value)))
        results.append(_regression_result(policy, rule, float(value), facts))
    return results


def _threshold_results(policy: Policy, rule: MetricRule, value: float) -> list[RuleResult]:
    results = []
    name = rule.name
    for kind, bound in (("min", rule.min), ("max", rule.max)):
        if bound is None:
            continue
        if kind == "min":
            ok = within(bound, value)
            relation = ">=" if ok else "<"
        else:
            ok = within(value, bound)
            relation = "<=" if ok else ">"
        detail = f"{name} {fmt(value)} {relation} {kind} {fmt(bound)}"
        results.append(
            RuleResult(
                f"metric.{kind}",
                name,
                Status.PASS if ok else Status.FAIL,
                detail,
                {"value": value, kind: bound},
                () if ok else (policy_finding(policy, detail, "metrics", name, kind),),
            )
        )
    return results


def worsening(base: float, head: float, higher_is_better: bool) -> float:
    """How much worse head is than base, in metric units (negative: it improved)."""
    return base - head if higher_is_better else head - base


def _regression_result(
    policy: Policy, rule: MetricRule, value: float, facts: MetricsFacts
) -> RuleResult:
    name = rule.name
    limit = rule.max_regression
    if limit is None:
        return RuleResult("metric.regression", name, Status.SKIP, "no max_regression in the policy")
    if facts.base is None:
        return RuleResult(
            "metric.regression",
            name,
            Status.SKIP,
            "no base metrics to compare with (first run, or the base has no metrics file)",
            {"head": value},
        )
    base = facts.base.get(name)
    if not is_number(base):
        return RuleResult(
            "metric.regression",
            name,
            Status.SKIP,
            f"the base has no usable '{name}' ({describe_invalid(base)})",
            {"head": value},
        )
    base_value = float(base)
    worse_by = worsening(base_value, value, rule.higher_is_better)
    numbers: dict[str, Value] = {
        "base": base_value,
        "head": value,
        "delta": value - base_value,
        "worse_by": worse_by,
        "allowed": limit.amount,
        "kind": limit.kind,
    }
    if limit.kind == "absolute":
        ok = within(worse_by, limit.amount)
        allowed = fmt(limit.amount)
        amount = fmt(max(worse_by, 0.0))
    else:
        if base_value == 0:
            relative = 0.0 if worse_by <= 0 else math.inf
        else:
            relative = worse_by / abs(base_value)
        numbers["worse_by_relative"] = relative if math.isfinite(relative) else None
        ok = within(relative, limit.amount)
        allowed = pct(limit.amount)
        amount = pct(max(relative, 0.0)) if math.isfinite(relative) else "∞ (base is 0)"
    direction = "higher is better" if rule.higher_is_better else "lower is better"
    change = "worse" if worse_by > 0 else ("better" if worse_by < 0 else "unchanged")
    detail = (
        f"{name} {fmt(base_value)} → {fmt(value)} ({change}, {direction}); "
        f"regression {amount}, allowed {allowed}"
    )
    if facts.base_label:
        detail += f"; base {facts.base_label}"
    findings: tuple[Finding, ...] = ()
    if not ok:
        message = (
            f"{name} regressed by {amount} (allowed {allowed}): {fmt(base_value)} → {fmt(value)}"
        )
        findings = (policy_finding(policy, message, "metrics", name, "max_regression"),)
        if facts.changed_params:
            changed = ", ".join(
                f"{c.key}: {fmt(c.base)} → {fmt(c.head)}" for c in facts.changed_params
            )
            findings = (
                tuple(
                    Finding(
                        f"{message}; changed params: {changed}",
                        Location(facts.params_file, c.line, c.key),
                    )
                    for c in facts.changed_params
                )
                + findings
            )
    return RuleResult(
        "metric.regression", name, Status.PASS if ok else Status.FAIL, detail, numbers, findings
    )
