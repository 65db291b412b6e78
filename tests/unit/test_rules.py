"""Table-driven tests of the pure governance rules (no files, no git, no dvc)."""

# The case tables keep one case per line (`# fmt: skip`), which is wider than 100 columns.
# ruff: noqa: E501

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from mlgitops.core.governance.codeowners import CodeownersRule, codeowners_match
from mlgitops.core.governance.facts import (
    ChangeFacts,
    DataFacts,
    DvcFile,
    FairnessFacts,
    GitFile,
    GovernanceFacts,
    MetricsFacts,
    ModelCardFacts,
    ModelFacts,
    ParamChange,
)
from mlgitops.core.governance.metric_rules import worsening
from mlgitops.core.governance.results import (
    Finding,
    RuleResult,
    Status,
    failure_annotations,
    fmt,
    to_json,
)
from mlgitops.core.governance.rules import evaluate
from mlgitops.core.markdown.governance import render_markdown
from mlgitops.core.model_card import CardMetric, parse_model_card
from mlgitops.core.policy import MaxRegression, MetricRule, Policy
from mlgitops.errors import Location
from mlgitops.github.actions import format_annotation
from mlgitops.io.policy_loader import policy_from_document
from mlgitops.io.yaml_strict import parse_yaml


def policy(text: str) -> Policy:
    return policy_from_document(parse_yaml("version: 1\n" + text, file="policy.yaml"))


def metrics(
    head: dict[str, Any] | None, base: dict[str, Any] | None = None, **kw: Any
) -> MetricsFacts:
    return MetricsFacts(
        file="reports/metrics.json",
        head=head,
        base=base,
        base_label="main (abc1234)" if base is not None else None,
        **kw,
    )


def results_of(p: Policy, facts: GovernanceFacts) -> dict[tuple[str, str], RuleResult]:
    return {(r.rule, r.subject): r for r in evaluate(p, facts)}


def status_of(p: Policy, facts: GovernanceFacts) -> dict[tuple[str, str], str]:
    return {key: r.status.value for key, r in results_of(p, facts).items()}


ACC = "metrics:\n  acc:\n    higher_is_better: true\n    min: 0.9\n    max_regression: {absolute: 0.02}\n"
RMSE = "metrics:\n  rmse:\n    higher_is_better: false\n    max: 60\n    max_regression: {relative: 0.05}\n"

# (id, policy, head, base, expected statuses of metric rules)
METRIC_CASES: list[tuple[str, str, Any, Any, dict[tuple[str, str], str]]] = [
    ("floor met, small regression", ACC, {"acc": 0.93}, {"acc": 0.94},
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "pass", ("metric.regression", "acc"): "pass"}),
    ("floor exactly met", ACC, {"acc": 0.9}, {"acc": 0.9},
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "pass", ("metric.regression", "acc"): "pass"}),
    ("below floor", ACC, {"acc": 0.89}, {"acc": 0.89},
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "fail", ("metric.regression", "acc"): "pass"}),
    ("regression over absolute limit", ACC, {"acc": 0.91}, {"acc": 0.95},
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "pass", ("metric.regression", "acc"): "fail"}),
    ("regression at the limit passes", ACC, {"acc": 0.93}, {"acc": 0.95},
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "pass", ("metric.regression", "acc"): "pass"}),
    ("improvement never fails", ACC, {"acc": 0.99}, {"acc": 0.91},
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "pass", ("metric.regression", "acc"): "pass"}),
    ("no base: regression skipped", ACC, {"acc": 0.95}, None,
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "pass", ("metric.regression", "acc"): "skip"}),
    ("base lacks the metric: skipped", ACC, {"acc": 0.95}, {"other": 1},
     {("metric.present", "acc"): "pass", ("metric.min", "acc"): "pass", ("metric.regression", "acc"): "skip"}),
    ("missing metric", ACC, {"other": 1.0}, None, {("metric.present", "acc"): "fail"}),
    ("NaN metric", ACC, {"acc": math.nan}, None, {("metric.present", "acc"): "fail"}),
    ("boolean metric", ACC, {"acc": True}, None, {("metric.present", "acc"): "fail"}),
    ("string metric", ACC, {"acc": "0.95"}, None, {("metric.present", "acc"): "fail"}),
    ("no metrics file", ACC, None, None, {("metric.present", "acc"): "fail"}),
    ("lower is better: rise within 5%", RMSE, {"rmse": 52.0}, {"rmse": 50.0},
     {("metric.present", "rmse"): "pass", ("metric.max", "rmse"): "pass", ("metric.regression", "rmse"): "pass"}),
    ("lower is better: rise over 5%", RMSE, {"rmse": 53.0}, {"rmse": 50.0},
     {("metric.present", "rmse"): "pass", ("metric.max", "rmse"): "pass", ("metric.regression", "rmse"): "fail"}),
    ("lower is better: a big drop is fine", RMSE, {"rmse": 10.0}, {"rmse": 50.0},
     {("metric.present", "rmse"): "pass", ("metric.max", "rmse"): "pass", ("metric.regression", "rmse"): "pass"}),
    ("over the ceiling", RMSE, {"rmse": 61.0}, {"rmse": 61.0},
     {("metric.present", "rmse"): "pass", ("metric.max", "rmse"): "fail", ("metric.regression", "rmse"): "pass"}),
    ("relative vs a zero base, worse", RMSE, {"rmse": 0.1}, {"rmse": 0.0},
     {("metric.present", "rmse"): "pass", ("metric.max", "rmse"): "pass", ("metric.regression", "rmse"): "fail"}),
    ("relative vs a zero base, equal", RMSE, {"rmse": 0.0}, {"rmse": 0.0},
     {("metric.present", "rmse"): "pass", ("metric.max", "rmse"): "pass", ("metric.regression", "rmse"): "pass"}),
    ("relative vs a negative base (r2-like)", "metrics:\n  r2:\n    higher_is_better: true\n    max_regression: {relative: 0.1}\n",
     {"r2": -0.55}, {"r2": -0.5},
     {("metric.present", "r2"): "pass", ("metric.regression", "r2"): "pass"}),
    ("no max_regression: skipped", "metrics:\n  r2: {higher_is_better: true}\n", {"r2": 0.1}, {"r2": 0.9},
     {("metric.present", "r2"): "pass", ("metric.regression", "r2"): "skip"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "head", "base", "expected"),
    [case[1:] for case in METRIC_CASES],
    ids=[case[0] for case in METRIC_CASES],
)
def test_metric_rules(
    text: str, head: Any, base: Any, expected: dict[tuple[str, str], str]
) -> None:
    facts = GovernanceFacts(
        metrics=metrics(head, base, problem="file not found" if head is None else None)
    )
    assert status_of(policy(text), facts) == expected


def test_regression_numbers_and_locations() -> None:
    p = policy(RMSE)
    change = ParamChange("train.alpha", 1.0, 2.0, 7)
    facts = GovernanceFacts(
        metrics=metrics({"rmse": 55.0}, {"rmse": 50.0}, changed_params=(change,))
    )
    result = results_of(p, facts)[("metric.regression", "rmse")]
    assert result.status is Status.FAIL
    assert result.numbers["worse_by"] == 5.0
    assert result.numbers["worse_by_relative"] == pytest.approx(0.1)
    assert result.detail == (
        "rmse 50 → 55 (worse, lower is better); regression 10.00%, allowed 5.00%;"
        " base main (abc1234)"
    )
    assert [(f.location.file, f.location.line) for f in result.findings] == [
        ("params.yaml", 7),
        ("policy.yaml", 6),
    ]
    assert result.findings[0].message == (
        "rmse regressed by 10.00% (allowed 5.00%): 50 → 55; changed params: train.alpha: 1 → 2"
    )


@pytest.mark.parametrize(
    ("base", "head", "higher", "expected"),
    [(0.9, 0.8, True, 0.1), (0.8, 0.9, True, -0.1), (50, 55, False, 5), (55, 50, False, -5)],
)
def test_worsening_is_direction_aware(
    base: float, head: float, higher: bool, expected: float
) -> None:
    assert worsening(base, head, higher) == pytest.approx(expected)


# --------------------------------------------------------------------------- fairness

FAIR = "metrics: {}\nfairness:\n  metric: acc\n  max_gap: 0.1\n  min_group_size: 10\n"


def groups(**values: tuple[Any, int]) -> dict[str, dict[str, Any]]:
    return {name: {"acc": value, "count": count} for name, (value, count) in values.items()}


FAIRNESS_CASES = [
    ("gap within", groups(a=(0.9, 50), b=(0.85, 50)), "pass", "gap 0.05 <= max_gap 0.1"),
    ("gap at the limit (float noise)", groups(a=(0.9, 50), b=(0.8, 50)), "pass", None),
    ("gap at the limit (other noise)", groups(a=(0.3, 50), b=(0.2, 50)), "pass", None),
    ("gap just over", groups(a=(0.9, 50), b=(0.7999, 50)), "fail", None),
    ("gap over", groups(a=(0.95, 50), b=(0.8, 50), c=(0.9, 50)), "fail", "gap 0.15 > max_gap 0.1"),
    ("small group ignored", groups(a=(0.95, 50), b=(0.9, 50), c=(0.1, 3)), "pass", None),
    ("one group only", groups(a=(0.95, 50)), "fail", "only 1 group(s) to compare"),
    ("NaN in a group", groups(a=(0.95, 50), b=(math.nan, 50)), "fail", "b: acc not finite (nan)"),
    ("metric missing in a group", {"a": {"acc": 0.9, "count": 50}, "b": {"count": 50}}, "fail",
     "b: acc missing"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("group_values", "expected", "detail"),
    [case[1:] for case in FAIRNESS_CASES],
    ids=[case[0] for case in FAIRNESS_CASES],
)
def test_fairness_gap(group_values: Any, expected: str, detail: str | None) -> None:
    facts = GovernanceFacts(
        metrics=metrics({}),
        fairness=FairnessFacts("reports/fairness.json", column="sex", groups=group_values),
    )
    result = results_of(policy(FAIR), facts)[("fairness.gap", "acc by sex")]
    assert result.status.value == expected
    if detail:
        assert detail in result.detail


def test_fairness_report_missing_fails_at_policy_line() -> None:
    facts = GovernanceFacts(
        metrics=metrics({}),
        fairness=FairnessFacts("reports/fairness.json", problem="file not found"),
    )
    (result,) = evaluate(policy(FAIR), facts)
    assert result.status is Status.FAIL
    assert result.detail == "cannot read fairness report reports/fairness.json: file not found"
    assert result.findings[0].location == Location("policy.yaml", 3, "fairness.report")


# --------------------------------------------------------------------------- model card

CARD_POLICY = (
    "metrics: {}\nmodel_card:\n  required_sections: [Model Details, Evaluation]\n"
    "  metrics_must_match: true\n"
)
CARD = """\
---
license: mit
---
# Card

## Model Details

Text.

## Evaluation
"""


def card_facts(text: str, card_metric_values: dict[str, Any], **kw: Any) -> ModelCardFacts:
    return ModelCardFacts(
        "MODEL_CARD.md",
        card=parse_model_card(text),
        metrics=tuple(
            CardMetric(n, v, 20 + i) for i, (n, v) in enumerate(card_metric_values.items())
        ),
        **kw,
    )


CARD_CASES = [
    ("all equal", CARD + "x\n", {"acc": 0.5}, {"acc": 0.5}, {}),
    ("empty section", CARD, {"acc": 0.5}, {"acc": 0.5}, {("model_card.section", "Evaluation"): "fail"}),
    ("comment-only section", CARD + "<!-- todo -->\n", {}, {}, {("model_card.section", "Evaluation"): "fail"}),
    ("subsection content counts", CARD + "### Numbers\n\n1\n", {}, {}, {}),
    ("missing section", CARD.replace("## Evaluation", "## Results") + "x\n", {}, {},
     {("model_card.section", "Evaluation"): "fail"}),
    ("heading in a code fence does not count", CARD.replace("## Evaluation", "```\n## Evaluation\n```"), {}, {},
     {("model_card.section", "Evaluation"): "fail"}),
    ("case and spacing of titles ignored", CARD.replace("## Evaluation", "##   evaluation  ##") + "x\n", {}, {}, {}),
    ("stale value", CARD + "x\n", {"acc": 0.5}, {"acc": 0.51}, {("model_card.metrics", "MODEL_CARD.md"): "fail"}),
    ("metric missing from card", CARD + "x\n", {"acc": 0.5, "f1": 0.2}, {"acc": 0.5},
     {("model_card.metrics", "MODEL_CARD.md"): "fail"}),
    ("float noise tolerated", CARD + "x\n", {"acc": 0.1 + 0.2}, {"acc": 0.3}, {}),
    ("card value not a number", CARD + "x\n", {"acc": 0.5}, {"acc": "0.5"},
     {("model_card.metrics", "MODEL_CARD.md"): "fail"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "file_metrics", "card_values", "failures"),
    [case[1:] for case in CARD_CASES],
    ids=[case[0] for case in CARD_CASES],
)
def test_model_card_rules(
    text: str, file_metrics: dict[str, Any], card_values: dict[str, Any], failures: dict[Any, str]
) -> None:
    facts = GovernanceFacts(metrics=metrics(file_metrics), model_card=card_facts(text, card_values))
    statuses = status_of(policy(CARD_POLICY), facts)
    assert {k: v for k, v in statuses.items() if v == "fail"} == failures
    assert statuses[("model_card.present", "MODEL_CARD.md")] == "pass"


def test_stale_card_finding_points_at_the_card_value_line() -> None:
    facts = GovernanceFacts(
        metrics=metrics({"acc": 0.5}), model_card=card_facts(CARD + "x\n", {"acc": 0.4})
    )
    result = results_of(policy(CARD_POLICY), facts)[("model_card.metrics", "MODEL_CARD.md")]
    assert result.findings == (
        Finding(
            "stale card: acc is 0.4 in the card but 0.5 in reports/metrics.json: regenerate the"
            " card (dvc repro)",
            Location("MODEL_CARD.md", 20),
        ),
    )


def test_unreadable_card_and_schema_problems() -> None:
    problem = Finding(
        "no YAML front matter: the card must start with a '---' line", Location("MODEL_CARD.md", 1)
    )
    facts = GovernanceFacts(
        metrics=metrics({}), model_card=ModelCardFacts("MODEL_CARD.md", problem=problem)
    )
    assert status_of(policy(CARD_POLICY), facts) == {
        ("model_card.present", "MODEL_CARD.md"): "fail"
    }
    schema = (Finding("expected a string, got list", Location("MODEL_CARD.md", 2, "license")),)
    facts = GovernanceFacts(
        metrics=metrics({}), model_card=card_facts(CARD + "x\n", {}, schema_problems=schema)
    )
    result = results_of(policy(CARD_POLICY), facts)[("model_card.front_matter", "MODEL_CARD.md")]
    assert result.status is Status.FAIL
    assert result.detail == "line 2: expected a string, got list"


# --------------------------------------------------------------------------- data

DATA = (
    "metrics: {}\ndata:\n  allowed_licenses: [CC0-1.0, MIT]\n  max_git_file_kb: 1\n"
    "  require_clean_dvc_status: true\n"
)
DVC_OK = DvcFile("data/raw/data.csv.dvc", "MIT", 7)
SMALL = (
    GitFile("README.md", 100),
    GitFile("data/raw/data.csv.dvc", 120),
    GitFile("data/dataset.yaml", 50),
)

DATA_CASES = [
    ("clean", SMALL, (DVC_OK,), {}, {}),
    ("big file in git", (*SMALL, GitFile("model.bin", 1025)), (DVC_OK,), {},
     {("data.git_file_size", "git"): "fail"}),
    ("file exactly at the limit", (*SMALL, GitFile("src/a.py", 1024)), (DVC_OK,), {}, {}),
    ("csv committed under data/", (*SMALL, GitFile("data/raw/extra.csv", 10)), (DVC_OK,), {},
     {("data.dvc_tracked", "data/"): "fail"}),
    ("license not allowed", SMALL, (DvcFile("data/raw/data.csv.dvc", "CC-BY-NC-4.0", 7),), {},
     {("data.license", "data/raw/data.csv.dvc"): "fail"}),
    ("license missing", SMALL, (DvcFile("data/raw/data.csv.dvc", None, 1),), {},
     {("data.license", "data/raw/data.csv.dvc"): "fail"}),
    ("license not a string", SMALL, (DvcFile("data/raw/data.csv.dvc", ["MIT"], 7),), {},
     {("data.license", "data/raw/data.csv.dvc"): "fail"}),
    ("dvc status dirty", SMALL, (DVC_OK,),
     {"train": [{"changed deps": {"params.yaml": "modified"}}]},
     {("data.dvc_status", "dvc.lock"): "fail"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "dvc_files", "status", "failures"),
    [case[1:] for case in DATA_CASES],
    ids=[case[0] for case in DATA_CASES],
)
def test_data_rules(files: Any, dvc_files: Any, status: Any, failures: dict[Any, str]) -> None:
    facts = GovernanceFacts(metrics=metrics({}), data=DataFacts(files, dvc_files, status))
    statuses = status_of(policy(DATA), facts)
    assert {k: v for k, v in statuses.items() if v == "fail"} == failures
    assert len(statuses) == 4


def test_dvc_status_detail_names_stages_and_changes() -> None:
    status = {
        "train": [
            {"changed deps": {"params.yaml": "modified"}},
            {"changed outs": {"m.pkl": "deleted"}},
        ],
        "data/raw/data.csv.dvc": [{"changed outs": {"data/raw/data.csv": "modified"}}],
    }
    facts = GovernanceFacts(metrics=metrics({}), data=DataFacts(SMALL, (DVC_OK,), status))
    result = results_of(policy(DATA), facts)[("data.dvc_status", "dvc.lock")]
    assert result.detail == (
        "dvc status is not clean: train (changed deps: params.yaml modified; changed outs:"
        " m.pkl deleted); data/raw/data.csv.dvc (changed outs: data/raw/data.csv modified)."
        " The committed metrics do not come from the committed code and data: run `dvc repro`"
        " and commit dvc.lock and the outputs"
    )


def test_committed_lock_drift_fails_even_with_clean_status() -> None:
    drift = (
        "stage train ran on other inputs than committed (params)",
        "reports/metrics.json differs from the commit",
    )
    facts = GovernanceFacts(metrics=metrics({}), data=DataFacts(SMALL, (DVC_OK,), {}, drift))
    result = results_of(policy(DATA), facts)[("data.dvc_status", "dvc.lock")]
    assert result.status is Status.FAIL
    assert result.detail == (
        "the commit is not what the pipeline produces: stage train ran on other inputs than"
        " committed (params); reports/metrics.json differs from the commit. The committed"
        " metrics do not come from the committed code and data: run `dvc repro` and commit"
        " dvc.lock and the outputs"
    )


def test_license_finding_points_at_the_dvc_file_line() -> None:
    bad = DvcFile("data/raw/data.csv.dvc", "GPL-3.0", 9)
    facts = GovernanceFacts(metrics=metrics({}), data=DataFacts(SMALL, (bad,), {}))
    result = results_of(policy(DATA), facts)[("data.license", "data/raw/data.csv.dvc")]
    assert result.findings == (
        Finding(
            "data/raw/data.csv.dvc: data license 'GPL-3.0' is not allowed; allowed: CC0-1.0, MIT;"
            " set `meta.license` in data/raw/data.csv.dvc to the data's SPDX license id",
            Location("data/raw/data.csv.dvc", 9, "meta.license"),
        ),
    )


def test_license_stated_in_the_dataset_file_names_it_and_the_command() -> None:
    """Baked with dataset=csv, the license is NOASSERTION until stated in dataset.yaml."""
    bad = DvcFile("data/raw/data.csv.dvc", "NOASSERTION", 4, stated_in="data/dataset.yaml")
    facts = GovernanceFacts(metrics=metrics({}), data=DataFacts(SMALL, (bad,), {}))
    result = results_of(policy(DATA), facts)[("data.license", "data/raw/data.csv.dvc")]
    assert result.detail == (
        "data/raw/data.csv.dvc: data license 'NOASSERTION' is not allowed; allowed: CC0-1.0,"
        " MIT; state the data's SPDX license id as `license:` in data/dataset.yaml, then run"
        " `mlgitops init` to copy it into data/raw/data.csv.dvc (meta.license) and commit both"
    )
    assert [f.location for f in result.findings] == [
        Location("data/raw/data.csv.dvc", 4, "meta.license"),
        Location("data/dataset.yaml", None, "license"),
    ]


# --------------------------------------------------------------------------- change control

CHANGE = "metrics: {}\nchange_control:\n  protected_paths: [governance/]\n  approval_label: ok\n"
OWNERS = (CodeownersRule("/governance/", ("@acme/leads",), 3),)

CHANGE_CASES = [
    ("nothing protected changed", CHANGE, ("params.yaml",), (), OWNERS, "pass"),
    ("protected change without label", CHANGE, ("governance/policy.yaml",), ("other",), OWNERS, "fail"),
    ("protected change with label", CHANGE, ("governance/policy.yaml",), ("ok",), OWNERS, "pass"),
    ("prefix is a folder, not a string prefix", CHANGE, ("governance-notes.md",), (), OWNERS, "pass"),
    ("codeowners review accepted", CHANGE + "  accept_codeowners_review: true\n",
     ("governance/policy.yaml",), (), OWNERS, "pass"),
    ("codeowners review accepted but no owner", CHANGE + "  accept_codeowners_review: true\n",
     ("governance/policy.yaml",), (), (CodeownersRule("/src/", ("@a",), 1),), "fail"),
    ("no base", CHANGE, None, (), OWNERS, "skip"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "changed", "labels", "owners", "expected"),
    [case[1:] for case in CHANGE_CASES],
    ids=[case[0] for case in CHANGE_CASES],
)
def test_change_control(text: str, changed: Any, labels: Any, owners: Any, expected: str) -> None:
    facts = GovernanceFacts(
        metrics=metrics({}),
        change=ChangeFacts(
            changed, labels, "--labels", codeowners_file=".github/CODEOWNERS", codeowners=owners
        ),
    )
    assert status_of(policy(text), facts)[("change_control.approval", "governance/")] == expected


def test_codeowners_presence() -> None:
    no_file = ChangeFacts((), (), "--labels")
    facts = GovernanceFacts(metrics=metrics({}), change=no_file)
    result = results_of(policy(CHANGE), facts)[("change_control.codeowners", "governance/")]
    assert result.status is Status.FAIL
    assert result.findings[0].location == Location(
        "policy.yaml", 4, "change_control.protected_paths"
    )
    uncovered = ChangeFacts(
        (),
        (),
        "--labels",
        codeowners_file="CODEOWNERS",
        codeowners=(CodeownersRule("/governance/", (), 1),),
    )
    facts = GovernanceFacts(metrics=metrics({}), change=uncovered)
    result = results_of(policy(CHANGE), facts)[("change_control.codeowners", "governance/")]
    assert result.detail == "CODEOWNERS names no owner for governance/"


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*", "a/b.txt", True),
        ("/governance/", "governance/policy.yaml", True),
        ("/governance/", "src/governance/x.py", False),
        ("governance/", "src/governance/x.py", True),
        ("governance/", "governance", False),
        ("/governance", "governance/policy.yaml", True),
        ("/governance/**", "governance/a/b.yaml", True),
        ("*.yaml", "governance/policy.yaml", True),
        ("/docs/*.md", "docs/a.md", True),
        ("/.github/CODEOWNERS", ".github/CODEOWNERS", True),
        ("/.github/CODEOWNERS", ".github/workflows/ci.yml", False),
    ],
)
def test_codeowners_match(pattern: str, path: str, expected: bool) -> None:
    assert codeowners_match(pattern, path) is expected


# --------------------------------------------------------------------------- output


def test_fmt() -> None:
    assert [fmt(v) for v in (0.9, 0.96491228, 1.0, 3, 53.777454, 1e-7, None, "x")] == [
        "0.9", "0.9649", "1", "3", "53.7775", "1e-07", "None", "'x'"
    ]  # fmt: skip


def _sample_results() -> list[RuleResult]:
    p = policy(ACC)
    return evaluate(p, GovernanceFacts(metrics=metrics({"acc": 0.8}, {"acc": 0.95})))


def test_markdown_puts_failures_first_and_counts() -> None:
    text = render_markdown(
        _sample_results(), policy_file="governance/policy.yaml", base_label="main (abc1234)"
    )
    lines = text.splitlines()
    assert lines[0] == "### ❌ Governance failed: 2 of 3 checks failed"
    assert lines[2] == "Policy `governance/policy.yaml` · base `main (abc1234)`"
    assert lines[4:6] == ["| | Rule | Subject | Details |", "|---|---|---|---|"]
    assert lines[6].startswith("| ❌ | `metric.min` | acc | acc 0.8 < min 0.9 |")
    assert lines[7].startswith("| ❌ | `metric.regression` | acc | acc 0.95 → 0.8 (worse,")
    assert lines[8:12] == [
        "",
        "<details><summary>1 passed</summary>",
        "",
        "| | Rule | Subject | Details |",
    ]
    assert lines[13] == "| ✅ | `metric.present` | acc | acc = 0.8 |"
    assert lines[14:] == ["", "</details>"]


def test_markdown_when_everything_passes_is_collapsed() -> None:
    results = evaluate(policy(ACC), GovernanceFacts(metrics=metrics({"acc": 0.95})))
    text = render_markdown(results, policy_file="p.yaml", base_label=None)
    assert text == (
        "### ✅ Governance passed: 2 checks passed, 1 skipped\n\n"
        "Policy `p.yaml` · base none\n\n"
        "<details><summary>2 passed, 1 skipped</summary>\n\n"
        "| | Rule | Subject | Details |\n|---|---|---|---|\n"
        "| ✅ | `metric.present` | acc | acc = 0.95 |\n"
        "| ✅ | `metric.min` | acc | acc 0.95 >= min 0.9 |\n"
        "| ⚪ | `metric.regression` | acc | no base metrics to compare with (first run, or the"
        " base has no metrics file) |\n\n"
        "</details>\n"
    )


def test_json_output_has_no_nan() -> None:
    results = evaluate(policy(ACC), GovernanceFacts(metrics=metrics({"acc": math.nan})))
    text = json.dumps(to_json(results, policy_file="p", base_label=None), allow_nan=False)
    assert '"value": "nan"' in text
    assert results[0].detail == "metric 'acc' in reports/metrics.json is not finite (nan)"


def test_json_output() -> None:
    data = to_json(_sample_results(), policy_file="p.yaml", base_label=None)
    assert data["passed"] is False
    assert data["counts"] == {"pass": 1, "fail": 2, "skip": 0, "total": 3}
    regression = data["results"][2]
    assert regression["rule"] == "metric.regression"
    assert regression["numbers"]["worse_by"] == pytest.approx(0.15)
    assert regression["findings"] == [
        {
            "message": "acc regressed by 0.15 (allowed 0.02): 0.95 → 0.8",
            "file": "policy.yaml",
            "line": 6,
            "key": "metrics.acc.max_regression",
        }
    ]


# GitHub's workflow command grammar: ::level [k=v(,k=v)*]::message, with %, CR, LF escaped
# in the message and additionally : and , in property values; one line.
WORKFLOW_COMMAND = re.compile(
    r"^::(error|warning|notice)"
    r"(?: (?:file|line|endLine|col|endColumn|title)=[^,:\r\n]*(?:,(?:file|line|endLine|col|endColumn|title)=[^,:\r\n]*)*)?"
    r"::[^\r\n]*$"
)


def test_annotations_follow_the_workflow_command_syntax() -> None:
    hostile = RuleResult(
        "data.license",
        "x",
        Status.FAIL,
        "d",
        findings=(Finding("50% bad,\nvery: bad", Location("data/a,b:c.dvc", 3)),),
    )
    found = failure_annotations([*_sample_results(), hostile])
    lines = [
        format_annotation(
            "error", m, file=loc.file if loc else None, line=loc.line if loc else None, title=t
        )
        for m, loc, t in found
    ]
    assert len(lines) == 3  # metric.min, metric.regression (no params changed), the hostile one
    for line in lines:
        assert WORKFLOW_COMMAND.match(line), line
    assert lines[-1] == (
        "::error file=data/a%2Cb%3Ac.dvc,line=3,title=governance data.license::50%25 bad,%0Avery: bad"
    )


def test_several_models_prefix_subjects_with_the_model_name() -> None:
    facts = GovernanceFacts(
        metrics=metrics({"acc": 0.95}),
        model="a",
        more_models=(ModelFacts("b", metrics({"acc": 0.5})),),
    )
    statuses = status_of(policy(ACC), facts)
    assert statuses == {
        ("metric.present", "a: acc"): "pass",
        ("metric.min", "a: acc"): "pass",
        ("metric.regression", "a: acc"): "skip",
        ("metric.present", "b: acc"): "pass",
        ("metric.min", "b: acc"): "fail",
        ("metric.regression", "b: acc"): "skip",
    }
    single = status_of(policy(ACC), GovernanceFacts(metrics=metrics({"acc": 0.95}), model="a"))
    assert ("metric.min", "acc") in single


def test_a_policy_built_in_code_needs_no_yaml() -> None:
    """The core takes dataclasses: the same verdict without a policy file."""
    built = Policy(
        version=1,
        metrics={
            "acc": MetricRule(
                "acc", higher_is_better=True, min=0.9, max_regression=MaxRegression("absolute", 0.1)
            )
        },
    )
    found = results_of(built, GovernanceFacts(metrics=metrics({"acc": 0.8}, {"acc": 0.95})))
    assert found[("metric.min", "acc")].status is Status.FAIL
    assert found[("metric.regression", "acc")].status is Status.FAIL
    (finding,) = found[("metric.min", "acc")].findings
    assert finding.location == Location("governance/policy.yaml", None, "metrics.acc.min")
    parsed = policy(ACC)
    assert [r.status for r in evaluate(built, GovernanceFacts(metrics=metrics({"acc": 0.8})))] == [
        r.status for r in evaluate(parsed, GovernanceFacts(metrics=metrics({"acc": 0.8})))
    ]
