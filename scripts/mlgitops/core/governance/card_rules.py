"""model_card.present, .front_matter, .section and .metrics."""

from __future__ import annotations

import math

from mlgitops.core.governance.facts import MetricsFacts, ModelCardFacts
from mlgitops.core.governance.results import Finding, RuleResult, Status, fmt, policy_finding
from mlgitops.core.model_card import CardMetric, is_number
from mlgitops.core.policy import Policy
from mlgitops.errors import Location

# Two floats written by different code paths (json.dump vs a Jinja template) may differ in
# the last digits; a card value counts as equal within this tolerance.
CARD_METRIC_REL_TOL = 1e-9
CARD_METRIC_ABS_TOL = 1e-9


def card_rules(
    policy: Policy, facts: ModelCardFacts | None, metrics: MetricsFacts
) -> list[RuleResult]:
    config = policy.model_card
    if config is None:
        return []
    file = facts.file if facts is not None else config.path
    if facts is None or facts.card is None or facts.problem is not None:
        finding = (
            facts.problem
            if facts is not None and facts.problem is not None
            else Finding("model card not found", Location(file))
        )
        return [
            RuleResult(
                "model_card.present", file, Status.FAIL, finding.message, findings=(finding,)
            )
        ]
    results = [RuleResult("model_card.present", file, Status.PASS, f"{file} has front matter")]
    if facts.schema_problems:
        results.append(
            RuleResult(
                "model_card.front_matter",
                file,
                Status.FAIL,
                "; ".join(f"line {p.location.line}: {p.message}" for p in facts.schema_problems),
                {"problems": len(facts.schema_problems)},
                facts.schema_problems,
            )
        )
    else:
        results.append(
            RuleResult(
                "model_card.front_matter", file, Status.PASS, "front matter matches the schema"
            )
        )
    for title in config.required_sections:
        section = facts.card.section(title)
        if section is None:
            message = f"required section '## {title}' is missing"
            results.append(
                RuleResult(
                    "model_card.section",
                    title,
                    Status.FAIL,
                    message,
                    findings=(
                        Finding(message, Location(file)),
                        policy_finding(policy, message, "model_card", "required_sections"),
                    ),
                )
            )
        elif section.is_empty:
            message = f"required section '## {title}' (line {section.line}) is empty"
            results.append(
                RuleResult(
                    "model_card.section",
                    title,
                    Status.FAIL,
                    message,
                    findings=(Finding(message, Location(file, section.line)),),
                )
            )
        else:
            results.append(
                RuleResult("model_card.section", title, Status.PASS, f"line {section.line}")
            )
    if config.metrics_must_match:
        results.append(_card_metrics_result(file, facts, metrics))
    return results


def _card_metrics_result(file: str, facts: ModelCardFacts, metrics: MetricsFacts) -> RuleResult:
    if metrics.head is None:
        return RuleResult(
            "model_card.metrics", file, Status.SKIP, f"no metrics file to compare ({metrics.file})"
        )
    by_name: dict[str, list[CardMetric]] = {}
    for metric in facts.metrics:
        by_name.setdefault(metric.name, []).append(metric)
    findings: list[Finding] = []
    compared = 0
    for name, value in metrics.head.items():
        if not is_number(value):
            continue
        compared += 1
        entries = by_name.get(name)
        if not entries:
            findings.append(
                Finding(
                    f"metric '{name}' = {fmt(value)} in {metrics.file} is not in the card's"
                    " model-index: regenerate the card (dvc repro)",
                    Location(
                        file,
                        facts.card.front_matter.line
                        if facts.card and facts.card.front_matter
                        else None,
                    ),
                )
            )
            continue
        for entry in entries:
            if not (
                is_number(entry.value)
                and math.isclose(
                    float(entry.value),
                    float(value),
                    rel_tol=CARD_METRIC_REL_TOL,
                    abs_tol=CARD_METRIC_ABS_TOL,
                )
            ):
                findings.append(
                    Finding(
                        f"stale card: {name} is {fmt(entry.value)} in the card but"
                        f" {fmt(value)} in {metrics.file}: regenerate the card (dvc repro)",
                        Location(file, entry.line),
                    )
                )
    if findings:
        return RuleResult(
            "model_card.metrics",
            file,
            Status.FAIL,
            "; ".join(f.message for f in findings),
            {"compared": compared, "mismatched": len(findings)},
            tuple(findings),
        )
    return RuleResult(
        "model_card.metrics",
        file,
        Status.PASS,
        f"{compared} metric(s) in the card equal {metrics.file}",
        {"compared": compared},
    )
