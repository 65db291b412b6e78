"""change_control.codeowners and change_control.approval."""

from __future__ import annotations

from mlgitops.core.governance.codeowners import codeowners_for
from mlgitops.core.governance.data_rules import under
from mlgitops.core.governance.facts import ChangeFacts
from mlgitops.core.governance.results import Finding, RuleResult, Status, Value, policy_finding
from mlgitops.core.policy import Policy
from mlgitops.errors import Location


def change_rules(policy: Policy, facts: ChangeFacts | None) -> list[RuleResult]:
    config = policy.change_control
    if config is None:
        return []
    if facts is None:
        return [
            RuleResult("change_control.approval", "protected paths", Status.SKIP, "not gathered")
        ]
    paths = ", ".join(config.protected_paths)
    results = []
    # CODEOWNERS must exist and cover each protected path.
    if facts.codeowners_file is None:
        message = (
            f"no CODEOWNERS file (.github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS) covers {paths}"
        )
        results.append(
            RuleResult(
                "change_control.codeowners",
                paths,
                Status.FAIL,
                message,
                findings=(policy_finding(policy, message, "change_control", "protected_paths"),),
            )
        )
    else:
        uncovered = []
        for prefix in config.protected_paths:
            probe = (
                prefix.strip("/") + "/policy.yaml" if prefix.endswith("/") else prefix.strip("/")
            )
            rule = codeowners_for(facts.codeowners, probe)
            if rule is None or not rule.owners:
                uncovered.append(prefix)
        if uncovered:
            message = f"{facts.codeowners_file} names no owner for {', '.join(uncovered)}"
            results.append(
                RuleResult(
                    "change_control.codeowners",
                    paths,
                    Status.FAIL,
                    message,
                    findings=(Finding(message, Location(facts.codeowners_file)),),
                )
            )
        else:
            results.append(
                RuleResult(
                    "change_control.codeowners",
                    paths,
                    Status.PASS,
                    f"{facts.codeowners_file} names owners for {paths}",
                )
            )
    if facts.changed_files is None:
        results.append(
            RuleResult(
                "change_control.approval",
                paths,
                Status.SKIP,
                "no base revision to diff against",
            )
        )
        return results
    touched = [
        f for f in facts.changed_files if any(under(f, prefix) for prefix in config.protected_paths)
    ]
    base = f" since {facts.base_label}" if facts.base_label else ""
    numbers: dict[str, Value] = {"changed_protected_files": len(touched)}
    if not touched:
        results.append(
            RuleResult(
                "change_control.approval",
                paths,
                Status.PASS,
                f"no protected files changed{base} ({len(facts.changed_files)} file(s) changed)",
                numbers,
            )
        )
        return results
    listing = ", ".join(touched)
    if config.approval_label in facts.labels:
        results.append(
            RuleResult(
                "change_control.approval",
                paths,
                Status.PASS,
                f"protected files changed ({listing}); approved by label"
                f" '{config.approval_label}' ({facts.labels_source})",
                numbers,
            )
        )
        return results
    if config.accept_codeowners_review and all(
        (rule := codeowners_for(facts.codeowners, f)) is not None and rule.owners for f in touched
    ):
        results.append(
            RuleResult(
                "change_control.approval",
                paths,
                Status.PASS,
                f"protected files changed ({listing}); a review by their code owners is required"
                " by branch protection (accept_codeowners_review: true)",
                numbers,
            )
        )
        return results
    message = (
        f"protected file(s) changed{base} without approval: add the label"
        f" '{config.approval_label}' to the pull request"
    )
    if config.accept_codeowners_review:
        message += " (CODEOWNERS does not cover every changed file)"
    results.append(
        RuleResult(
            "change_control.approval",
            paths,
            Status.FAIL,
            f"{message}; changed: {listing}; labels: {', '.join(facts.labels) or 'none'}"
            f" ({facts.labels_source})",
            numbers,
            tuple(Finding(message, Location(f)) for f in touched),
        )
    )
    return results
