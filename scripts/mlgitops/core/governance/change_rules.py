"""change_control.codeowners and change_control.approval."""

from __future__ import annotations

from mlgitops.core.governance.codeowners import codeowners_for
from mlgitops.core.governance.data_rules import under
from mlgitops.core.governance.facts import ChangeFacts
from mlgitops.core.governance.results import Finding, RuleResult, Status, Value, policy_finding
from mlgitops.core.policy import ChangeControlPolicy, Policy
from mlgitops.errors import Location

CODEOWNERS = "change_control.codeowners"
APPROVAL = "change_control.approval"


def change_rules(policy: Policy, facts: ChangeFacts | None) -> list[RuleResult]:
    """CODEOWNERS must cover each protected path; a change to one needs an approval."""
    config = policy.change_control
    if config is None:
        return []
    if facts is None:
        return [RuleResult(APPROVAL, "protected paths", Status.SKIP, "not gathered")]
    return [_codeowners_result(policy, config, facts), _approval_result(config, facts)]


def _codeowners_result(
    policy: Policy, config: ChangeControlPolicy, facts: ChangeFacts
) -> RuleResult:
    paths = ", ".join(config.protected_paths)
    if facts.codeowners_file is None:
        message = (
            f"no CODEOWNERS file (.github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS) covers {paths}"
        )
        finding = policy_finding(policy, message, "change_control", "protected_paths")
        return RuleResult(CODEOWNERS, paths, Status.FAIL, message, findings=(finding,))
    uncovered = []
    for prefix in config.protected_paths:
        # A folder is covered when a file inside it is.
        probe = prefix.strip("/") + "/policy.yaml" if prefix.endswith("/") else prefix.strip("/")
        rule = codeowners_for(facts.codeowners, probe)
        if rule is None or not rule.owners:
            uncovered.append(prefix)
    if uncovered:
        message = f"{facts.codeowners_file} names no owner for {', '.join(uncovered)}"
        finding = Finding(message, Location(facts.codeowners_file))
        return RuleResult(CODEOWNERS, paths, Status.FAIL, message, findings=(finding,))
    return RuleResult(
        CODEOWNERS, paths, Status.PASS, f"{facts.codeowners_file} names owners for {paths}"
    )


def _approval_result(config: ChangeControlPolicy, facts: ChangeFacts) -> RuleResult:
    paths = ", ".join(config.protected_paths)
    if facts.changed_files is None:
        return RuleResult(APPROVAL, paths, Status.SKIP, "no base revision to diff against")
    touched = [
        f for f in facts.changed_files if any(under(f, prefix) for prefix in config.protected_paths)
    ]
    base = f" since {facts.base_label}" if facts.base_label else ""
    numbers: dict[str, Value] = {"changed_protected_files": len(touched)}
    if not touched:
        detail = f"no protected files changed{base} ({len(facts.changed_files)} file(s) changed)"
        return RuleResult(APPROVAL, paths, Status.PASS, detail, numbers)
    listing = ", ".join(touched)
    if config.approval_label in facts.labels:
        detail = (
            f"protected files changed ({listing}); approved by label"
            f" '{config.approval_label}' ({facts.labels_source})"
        )
        return RuleResult(APPROVAL, paths, Status.PASS, detail, numbers)
    if config.accept_codeowners_review and all(
        (rule := codeowners_for(facts.codeowners, f)) is not None and rule.owners for f in touched
    ):
        detail = (
            f"protected files changed ({listing}); a review by their code owners is required"
            " by branch protection (accept_codeowners_review: true)"
        )
        return RuleResult(APPROVAL, paths, Status.PASS, detail, numbers)
    message = (
        f"protected file(s) changed{base} without approval: add the label"
        f" '{config.approval_label}' to the pull request"
    )
    if config.accept_codeowners_review:
        message += " (CODEOWNERS does not cover every changed file)"
    return RuleResult(
        APPROVAL,
        paths,
        Status.FAIL,
        f"{message}; changed: {listing}; labels: {', '.join(facts.labels) or 'none'}"
        f" ({facts.labels_source})",
        numbers,
        tuple(Finding(message, Location(f)) for f in touched),
    )
