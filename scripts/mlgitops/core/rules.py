"""Governance rules: facts in, one RuleResult per rule and subject out. Pure.

`evaluate(policy, facts)` never reads files, runs git/dvc or looks at the environment;
`mlgitops.services.governance` gathers the facts. Rule ids are stable (they appear in the
JSON output and the docs):

    metric.present  metric.min  metric.max  metric.regression
    fairness.gap
    model_card.present  model_card.front_matter  model_card.section  model_card.metrics
    data.git_file_size  data.dvc_tracked  data.license  data.dvc_status
    change_control.approval  change_control.codeowners
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from mlgitops.core.model_card import CardMetric, ModelCard, is_number
from mlgitops.errors import Location
from mlgitops.policy import MetricRule, Policy

# Two floats written by different code paths (json.dump vs a Jinja template) may differ in
# the last digits; a card value counts as equal within this tolerance.
CARD_METRIC_REL_TOL = 1e-9
CARD_METRIC_ABS_TOL = 1e-9
# Under dataset_paths, git may keep DVC pointers and small metadata, nothing else.
# Thresholds compare with this tolerance: 0.9 - 0.8 is 0.09999999999999998, and a value
# exactly at a limit written in the policy must pass whichever way float rounding goes.
LIMIT_REL_TOL = 1e-9
DATASET_NAMES_ALLOWED_IN_GIT = (".gitignore", ".gitkeep", ".dvcignore")
DATASET_SUFFIXES_ALLOWED_IN_GIT = (".dvc", ".md", ".yaml", ".yml")

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


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class ParamChange:
    key: str  # dotted, e.g. train.n_estimators
    base: Any
    head: Any
    line: int | None


@dataclass(frozen=True)
class MetricsFacts:
    """Head metrics (from the workspace) and base metrics (None: no base to compare)."""

    file: str
    head: Mapping[str, Any] | None
    base: Mapping[str, Any] | None = None
    base_label: str | None = None
    problem: str | None = None  # why head is None
    params_file: str = "params.yaml"
    changed_params: tuple[ParamChange, ...] = ()


@dataclass(frozen=True)
class FairnessFacts:
    file: str
    column: str | None = None
    metric: str | None = None
    groups: Mapping[str, Mapping[str, Any]] | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ModelCardFacts:
    file: str
    card: ModelCard | None = None
    problem: Finding | None = None  # unreadable, no front matter, not strict YAML
    schema_problems: tuple[Finding, ...] = ()
    metrics: tuple[CardMetric, ...] = ()


@dataclass(frozen=True)
class GitFile:
    path: str
    size: int  # bytes


@dataclass(frozen=True)
class DvcFile:
    path: str
    license: Any  # meta.license as written; None when absent
    line: int | None  # line of meta.license (or of the file start)


@dataclass(frozen=True)
class DataFacts:
    git_files: tuple[GitFile, ...]
    dvc_files: tuple[DvcFile, ...]
    dvc_status: Mapping[str, Any] | None = None  # `dvc status --json`; None: not checked
    # how HEAD's dvc.lock / tracked outputs differ from the workspace (see the service)
    lock_drift: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeownersRule:
    pattern: str
    owners: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class ChangeFacts:
    changed_files: tuple[str, ...] | None  # None: no base to diff against
    labels: tuple[str, ...]
    labels_source: str  # "event payload", "--labels", "none"
    base_label: str | None = None
    codeowners_file: str | None = None
    codeowners: tuple[CodeownersRule, ...] = ()


@dataclass(frozen=True)
class ModelFacts:
    """Metrics and card of one more model (a second `artifacts:` entry of dvc.yaml)."""

    name: str
    metrics: MetricsFacts
    model_card: ModelCardFacts | None = None


@dataclass(frozen=True)
class GovernanceFacts:
    """Everything the rules look at. `metrics`/`model_card` are those of the first (often
    only) model; `model` names it when the repository declares several (`more_models`)."""

    metrics: MetricsFacts
    fairness: FairnessFacts | None = None
    model_card: ModelCardFacts | None = None
    data: DataFacts | None = None
    change: ChangeFacts | None = None
    model: str | None = None
    more_models: tuple[ModelFacts, ...] = ()


# --------------------------------------------------------------------------- helpers


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


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def _describe_invalid(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"not finite ({value})"
    return f"not a number ({value!r})"


def _policy_finding(policy: Policy, message: str, *path: str | int) -> Finding:
    return Finding(message, policy.location(*path))


# --------------------------------------------------------------------------- metric rules


def _metric_rules(policy: Policy, facts: MetricsFacts) -> list[RuleResult]:
    results: list[RuleResult] = []
    for name, rule in policy.metrics.items():
        value = None if facts.head is None else facts.head.get(name)
        if not is_number(value):
            if facts.head is None:
                message = f"cannot read {facts.file}: {facts.problem}"
            else:
                message = f"metric '{name}' in {facts.file} is {_describe_invalid(value)}"
            results.append(
                RuleResult(
                    "metric.present",
                    name,
                    Status.FAIL,
                    message,
                    {"value": value if isinstance(value, str | int | float | bool) else None},
                    (_policy_finding(policy, message, "metrics", name),),
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
                () if ok else (_policy_finding(policy, detail, "metrics", name, kind),),
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
            f"the base has no usable '{name}' ({_describe_invalid(base)})",
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
        allowed = _pct(limit.amount)
        amount = _pct(max(relative, 0.0)) if math.isfinite(relative) else "∞ (base is 0)"
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
        findings = (_policy_finding(policy, message, "metrics", name, "max_regression"),)
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


# --------------------------------------------------------------------------- fairness


def _fairness_rules(policy: Policy, facts: FairnessFacts | None) -> list[RuleResult]:
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
                findings=(_policy_finding(policy, message, "fairness", "report"),),
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
            invalid.append(f"{group}: {config.metric} {_describe_invalid(value)}")
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
                (_policy_finding(policy, message, *where),),
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
            () if ok else (_policy_finding(policy, f"fairness {detail}", *where),),
        )
    ]


# --------------------------------------------------------------------------- model card


def _card_rules(
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
                        _policy_finding(policy, message, "model_card", "required_sections"),
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


# --------------------------------------------------------------------------- data


def under(path: str, prefix: str) -> bool:
    """True if `path` is `prefix` or inside it (prefix `data/` or `data`)."""
    prefix = prefix.strip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix in {"", "."}


def _data_rules(policy: Policy, facts: DataFacts | None) -> list[RuleResult]:
    config = policy.data
    if config is None:
        return []
    if facts is None:
        return [RuleResult("data.git_file_size", "git", Status.SKIP, "data facts not gathered")]
    results = []
    limit = config.max_git_file_kb * 1024
    large = [f for f in facts.git_files if f.size > limit]
    if large:
        listing = ", ".join(f"{f.path} ({f.size / 1024:.0f} KiB)" for f in large)
        results.append(
            RuleResult(
                "data.git_file_size",
                "git",
                Status.FAIL,
                f"{len(large)} file(s) over {fmt(config.max_git_file_kb)} KiB committed to git:"
                f" {listing}; track them with `dvc add`",
                {"over_limit": len(large), "max_git_file_kb": config.max_git_file_kb},
                tuple(
                    Finding(
                        f"{f.path} is {f.size / 1024:.0f} KiB, over the"
                        f" {fmt(config.max_git_file_kb)} KiB limit for files in git:"
                        " `git rm --cached` it and `dvc add` it",
                        Location(f.path),
                    )
                    for f in large
                ),
            )
        )
    else:
        biggest = max(facts.git_files, key=lambda f: f.size, default=None)
        detail = f"{len(facts.git_files)} file(s) in git, all <= {fmt(config.max_git_file_kb)} KiB"
        if biggest is not None:
            detail += f" (largest {biggest.path}, {biggest.size / 1024:.0f} KiB)"
        results.append(
            RuleResult(
                "data.git_file_size",
                "git",
                Status.PASS,
                detail,
                {"files": len(facts.git_files), "max_git_file_kb": config.max_git_file_kb},
            )
        )
    in_git = [
        f.path
        for f in facts.git_files
        if any(under(f.path, prefix) for prefix in config.dataset_paths)
        and not f.path.endswith(DATASET_SUFFIXES_ALLOWED_IN_GIT)
        and f.path.rsplit("/", 1)[-1] not in DATASET_NAMES_ALLOWED_IN_GIT
    ]
    paths = ", ".join(config.dataset_paths)
    if in_git:
        results.append(
            RuleResult(
                "data.dvc_tracked",
                paths,
                Status.FAIL,
                f"dataset file(s) committed to git instead of DVC: {', '.join(in_git)}",
                {"in_git": len(in_git)},
                tuple(
                    Finding(
                        f"{p} is a dataset file committed to git: track it with `dvc add`",
                        Location(p),
                    )
                    for p in in_git
                ),
            )
        )
    else:
        tracked = sum(
            1 for f in facts.dvc_files if any(under(f.path, p) for p in config.dataset_paths)
        )
        results.append(
            RuleResult(
                "data.dvc_tracked",
                paths,
                Status.PASS,
                f"no dataset files in git under {paths}; {tracked} .dvc file(s) there",
                {"dvc_files": tracked},
            )
        )
    if config.allowed_licenses is not None:
        results.extend(_license_results(config.allowed_licenses, facts.dvc_files))
    if config.require_clean_dvc_status:
        results.append(_dvc_status_result(facts.dvc_status, facts.lock_drift))
    return results


def _license_results(allowed: Sequence[str], dvc_files: Sequence[DvcFile]) -> list[RuleResult]:
    if not dvc_files:
        return [RuleResult("data.license", ".dvc files", Status.SKIP, "no .dvc files in git")]
    results = []
    allowed_text = ", ".join(allowed)
    for dvc_file in dvc_files:
        license_ = dvc_file.license
        if license_ is None:
            message = (
                f"{dvc_file.path} declares no data license (meta.license); allowed: {allowed_text}"
            )
        elif not isinstance(license_, str) or license_ not in allowed:
            message = (
                f"{dvc_file.path}: data license {license_!r} is not allowed;"
                f" allowed: {allowed_text}"
            )
        else:
            results.append(
                RuleResult(
                    "data.license",
                    dvc_file.path,
                    Status.PASS,
                    f"{license_} is allowed",
                    {"license": license_},
                )
            )
            continue
        results.append(
            RuleResult(
                "data.license",
                dvc_file.path,
                Status.FAIL,
                message,
                {"license": license_ if isinstance(license_, str) else None},
                (Finding(message, Location(dvc_file.path, dvc_file.line, "meta.license")),),
            )
        )
    return results


def _status_summary(status: Mapping[str, Any]) -> str:
    parts = []
    for stage, changes in status.items():
        kinds: list[str] = []
        if isinstance(changes, list):
            for change in changes:
                if isinstance(change, dict):
                    for kind, paths in change.items():
                        if isinstance(paths, dict):
                            names = ", ".join(f"{p} {s}" for p, s in paths.items())
                            kinds.append(f"{kind}: {names}")
                        else:
                            kinds.append(f"{kind}: {paths}")
                else:
                    kinds.append(str(change))
        parts.append(f"{stage} ({'; '.join(kinds)})" if kinds else stage)
    return "; ".join(parts)


def _dvc_status_result(status: Mapping[str, Any] | None, drift: Sequence[str] = ()) -> RuleResult:
    if status is None:
        return RuleResult("data.dvc_status", "dvc.lock", Status.SKIP, "dvc status not checked")
    if not status and not drift:
        return RuleResult(
            "data.dvc_status",
            "dvc.lock",
            Status.PASS,
            "dvc status is clean and the committed dvc.lock and outputs match the workspace",
        )
    parts = []
    if status:
        parts.append(f"dvc status is not clean: {_status_summary(status)}")
    if drift:
        parts.append(f"the commit is not what the pipeline produces: {'; '.join(drift)}")
    message = (
        ". ".join(parts) + ". The committed metrics do not come from the committed code and"
        " data: run `dvc repro` and commit dvc.lock and the outputs"
    )
    return RuleResult(
        "data.dvc_status",
        "dvc.lock",
        Status.FAIL,
        message,
        {"changed_stages": len(status), "differences": len(drift)},
        (Finding(message, Location("dvc.lock")),),
    )


# --------------------------------------------------------------------------- change control


def codeowners_match(pattern: str, path: str) -> bool:
    """Whether a CODEOWNERS pattern matches a repository path (a gitignore-like subset).

    `*` matches everything; a pattern with a leading or inner `/` is anchored at the root,
    otherwise it matches a path component anywhere; a trailing `/` (or `/**`) matches only
    folders; a pattern matching a folder matches everything inside it.
    """
    if pattern in {"*", "**", "/**"}:
        return True
    directory_only = pattern.endswith("/")
    body = pattern.strip("/")
    if body.endswith("/**"):
        body, directory_only = body[:-3], True
    anchored = pattern.startswith("/") or "/" in body
    parts = path.split("/")
    for n in range(1, len(parts) + 1):
        candidate = "/".join(parts[:n]) if anchored else parts[n - 1]
        if directory_only and n == len(parts):
            continue
        if fnmatch.fnmatchcase(candidate, body):
            return True
    return False


def codeowners_for(rules: Sequence[CodeownersRule], path: str) -> CodeownersRule | None:
    """The last rule matching `path` (GitHub: the last match wins)."""
    match = None
    for rule in rules:
        if codeowners_match(rule.pattern, path):
            match = rule
    return match


def _change_rules(policy: Policy, facts: ChangeFacts | None) -> list[RuleResult]:
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
                findings=(_policy_finding(policy, message, "change_control", "protected_paths"),),
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


# --------------------------------------------------------------------------- entry point


def evaluate(policy: Policy, facts: GovernanceFacts) -> list[RuleResult]:
    """Every rule of `policy` applied to `facts`, in a stable order."""
    models = [
        ModelFacts(facts.model or "", facts.metrics, facts.model_card),
        *facts.more_models,
    ]
    per_model: list[RuleResult] = []
    for model in models:
        found = [
            *_metric_rules(policy, model.metrics),
            *_card_rules(policy, model.model_card, model.metrics),
        ]
        if len(models) > 1:
            found = [replace(r, subject=f"{model.name}: {r.subject}") for r in found]
        per_model.extend(found)
    return [
        *per_model,
        *_fairness_rules(policy, facts.fairness),
        *_data_rules(policy, facts.data),
        *_change_rules(policy, facts.change),
    ]


# --------------------------------------------------------------------------- rendering

_INVISIBLE = dict.fromkeys(
    [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF, 0x00AD]
)
_STATUS_MARK = {Status.PASS: "✅", Status.FAIL: "❌", Status.SKIP: "⚪"}
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_RISKY_TOKEN = re.compile(r"\S*(?:@|#\d|://)\S*")


def md_text(text: str) -> str:
    """Untrusted text made safe for one markdown table cell.

    Invisible and bidi control characters are dropped, HTML is escaped, `|` and newlines
    cannot break the row, and tokens that GitHub would turn into mentions, issue links or
    URLs (`@user`, `#123`, `javascript://`) are put in code spans, where it does not.
    """
    text = text.translate(_INVISIBLE)
    text = " ".join(text.split())
    text = _TAG_START.sub("&lt;", text.replace("&", "&amp;"))

    def code(match: re.Match[str]) -> str:
        return "`" + match.group(0).replace("`", "'") + "`"

    text = _RISKY_TOKEN.sub(code, text)
    return text.replace("|", "\\|")


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


_TABLE_HEAD = ["| | Rule | Subject | Details |", "|---|---|---|---|"]


def _rows(results: Sequence[RuleResult]) -> list[str]:
    return [
        f"| {_STATUS_MARK[r.status]} | `{r.rule}` | {md_text(r.subject)} | {md_text(r.detail)} |"
        for r in results
    ]


def render_markdown(
    results: Sequence[RuleResult], *, policy_file: str, base_label: str | None
) -> str:
    """The governance section of the PR comment and job summary.

    Failed rules come first in an open table; passed and skipped rules, with their
    numbers, follow in a collapsed `<details>` block, so a long policy stays readable.
    """
    lines = [f"### {verdict_line(results)}", ""]
    base = f"`{md_text(base_label)}`" if base_label else "none"
    lines += [f"Policy `{md_text(policy_file)}` · base {base}", ""]
    failed = [r for r in results if r.status is Status.FAIL]
    others = [r for r in results if r.status is Status.PASS] + [
        r for r in results if r.status is Status.SKIP
    ]
    if failed:
        lines += [*_TABLE_HEAD, *_rows(failed), ""]
    if others:
        tally = counts(results)
        summary = f"{tally['pass']} passed" + (
            f", {tally['skip']} skipped" if tally["skip"] else ""
        )
        lines += [f"<details><summary>{summary}</summary>", ""]
        lines += [*_TABLE_HEAD, *_rows(others), "", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _json_value(value: Value) -> Value:
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
                "numbers": {key: _json_value(value) for key, value in r.numbers.items()},
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
