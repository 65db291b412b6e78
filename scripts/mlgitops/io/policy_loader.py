"""governance/policy.yaml -> `mlgitops.core.policy.Policy`.

Strict YAML (see `mlgitops.io.yaml_strict`), the version check, the shipped JSON Schema,
then the checks a schema cannot express (min <= max). Every problem names file, line, key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgitops.core.policy import (
    DEFAULT_POLICY_PATH,
    POLICY_VERSIONS,
    ChangeControlPolicy,
    DataPolicy,
    FairnessPolicy,
    MaxRegression,
    MetricRule,
    ModelCardPolicy,
    Policy,
    ReleasePolicy,
)
from mlgitops.errors import InputError, Location
from mlgitops.io.yaml_strict import YamlDocument, describe, load_yaml

MAX_POLICY_BYTES = 64 * 1024


def policy_problems(document: YamlDocument) -> list[InputError]:
    """Every problem of a parsed policy: version, schema, then cross-field checks."""
    # Imported here: `mlgitops report` reads the policy (`load_metric_directions`) without
    # JSON Schema, whose import alone costs it a tenth of a second.
    from mlgitops.io.schema import load_schema, schema_errors

    version_problem = _version_problem(document)
    if version_problem is not None:
        return [version_problem]
    data = document.data
    problems = schema_errors(document, load_schema(f"policy-v{data['version']}"))
    if problems:
        return problems
    for name, rule in data["metrics"].items():
        low, high = rule.get("min"), rule.get("max")
        if low is not None and high is not None and low > high:
            problems.append(
                InputError(
                    f"min ({low}) is greater than max ({high}): no value can pass",
                    location=document.location("metrics", name, "max"),
                )
            )
    return problems


def _version_problem(document: YamlDocument) -> InputError | None:
    """What is wrong with the top level or the `version:` of a policy, if anything."""
    data = document.data
    if not isinstance(data, dict):
        return InputError(
            f"expected a mapping at the top level, got {describe(data)}",
            location=Location(document.file, document.line_of()),
        )
    if "version" not in data:
        return InputError(
            "missing required key 'version'",
            location=Location(document.file, 1, "version"),
            hint=f"add 'version: {POLICY_VERSIONS[-1]}' as the first line",
        )
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        return InputError(
            f"expected an integer, got {describe(version)}",
            location=document.location("version"),
        )
    if version not in POLICY_VERSIONS:
        supported = ", ".join(str(v) for v in POLICY_VERSIONS)
        return InputError(
            f"unsupported policy version {version}; this mlgitops reads version {supported}",
            location=document.location("version"),
            hint="upgrade mlgitops, or write the policy in a supported version",
        )
    return None


def policy_from_document(document: YamlDocument) -> Policy:
    """Build a Policy from a parsed document; raises the first problem as InputError."""
    problems = policy_problems(document)
    if problems:
        first = problems[0]
        if len(problems) > 1:
            first.message += f" (and {len(problems) - 1} more problem(s); run 'mlgitops validate')"
        raise first
    data = document.data
    metrics = {}
    for name, raw in data["metrics"].items():
        regression = None
        if "max_regression" in raw:
            ((kind, amount),) = raw["max_regression"].items()
            regression = MaxRegression(kind, float(amount))
        metrics[name] = MetricRule(
            name=name,
            higher_is_better=raw["higher_is_better"],
            min=_float_or_none(raw.get("min")),
            max=_float_or_none(raw.get("max")),
            max_regression=regression,
        )
    fairness = None
    if "fairness" in data:
        raw = data["fairness"]
        fairness = FairnessPolicy(
            metric=raw["metric"],
            max_gap=float(raw["max_gap"]),
            report=raw.get("report", "reports/fairness.json"),
            min_group_size=raw.get("min_group_size", 0),
        )
    model_card = None
    if "model_card" in data:
        raw = data["model_card"]
        model_card = ModelCardPolicy(
            path=raw.get("path", "MODEL_CARD.md"),
            required_sections=tuple(raw.get("required_sections", ())),
            metrics_must_match=raw.get("metrics_must_match", True),
        )
    data_policy = None
    if "data" in data:
        raw = data["data"]
        licenses = raw.get("allowed_licenses")
        data_policy = DataPolicy(
            allowed_licenses=None if licenses is None else tuple(licenses),
            max_git_file_kb=float(raw.get("max_git_file_kb", 512)),
            dataset_paths=tuple(raw.get("dataset_paths", ("data/",))),
            require_clean_dvc_status=raw.get("require_clean_dvc_status", True),
        )
    change_control = None
    if "change_control" in data:
        raw = data["change_control"]
        change_control = ChangeControlPolicy(
            protected_paths=tuple(raw["protected_paths"]),
            approval_label=raw.get("approval_label", "governance-approved"),
            accept_codeowners_review=raw.get("accept_codeowners_review", False),
        )
    raw = data.get("release", {})
    release = ReleasePolicy(
        default_bump=raw.get("default_bump", "minor"),
        stages=tuple(raw.get("stages", ("staging", "production"))),
    )
    return Policy(
        version=data["version"],
        metrics=metrics,
        source=document.source,
        fairness=fairness,
        model_card=model_card,
        data=data_policy,
        change_control=change_control,
        release=release,
        sections=dict(data),
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def load_policy(path: Path | str = DEFAULT_POLICY_PATH, *, file: str | None = None) -> Policy:
    """Read, strictly parse and validate a policy file.

    `file` is the name used in messages and annotations (default: `path` as given).
    Raises InputError with file, line and key for every kind of bad input.
    """
    document = load_yaml(path, file=file, max_bytes=MAX_POLICY_BYTES)
    return policy_from_document(document)


def load_metric_directions(path: Path | str) -> dict[str, bool]:
    """`higher_is_better` of each metric rule of a policy: what `mlgitops report` needs.

    Strict YAML, the version, and the `metrics:` entries as far as they are read here;
    not the whole policy against its JSON Schema (`govern` and `validate` check that):
    importing and compiling the schema cost the report more CPU than all its rendering.
    Raises InputError with file, line and key.
    """
    document = load_yaml(path, max_bytes=MAX_POLICY_BYTES)
    problem = _version_problem(document)
    if problem is not None:
        raise problem
    metrics = document.data.get("metrics")
    if not isinstance(metrics, dict):
        raise InputError(
            f"expected a mapping, got {describe(metrics)}", location=document.location("metrics")
        )
    directions: dict[str, bool] = {}
    for name, rule in metrics.items():
        higher = rule.get("higher_is_better") if isinstance(rule, dict) else None
        if not isinstance(higher, bool):
            raise InputError(
                f"expected true or false, got {describe(higher)}",
                location=document.location("metrics", str(name), "higher_is_better"),
            )
        directions[str(name)] = higher
    return directions
