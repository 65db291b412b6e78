"""The security and wiring rules of the workflows and composite actions, checked as data."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest
from workflow_files import (
    ACTIONS,
    EXPRESSION_RE,
    REUSABLE,
    ROOT,
    SHA_RE,
    TEMPLATE_REF,
    TEMPLATE_REPO,
    VERSION_COMMENT_RE,
    WORKFLOWS,
    load,
    steps_of,
    uses_lines,
)

from mlgitops.cli import build_parser

TEMPLATE_WORKFLOWS = sorted(
    (ROOT / "template" / "{{cookiecutter.project_slug}}" / ".github" / "workflows").glob("*.yml")
)
ALL_FILES = [*WORKFLOWS, *ACTIONS]

# The mlgitops command each CLI action runs.
ACTION_COMMANDS = {
    "report-metrics": "report",
    "check-governance": "govern",
    "post-comment": "comment",
    "promote-model": "promote",
    "monitor-drift": "drift",
}
# Inputs of CLI actions that are not CLI options, and where they go instead.
NOT_OPTIONS = {
    "working-directory": "the step's working-directory",
    "github-token": "GITHUB_TOKEN in the step's environment",
    "fail-on-violation": "whether the step fails on exit code 1",
    "open-issue": "--open-issue, a switch (checked below)",
    "dry-run": "--dry-run, a switch (checked below)",
}
# `--flag "$VAR"` and `if [ "$VAR" = "true" ]; then args+=(--flag)`
VALUE_OPTION_RE = re.compile(r'(--[a-z][a-z-]*)\s+"\$(\w+)"')
SWITCH_RE = re.compile(r'if \[ "\$(\w+)" = "true" \]; then args\+=\((--[a-z][a-z-]*)\)')
COMMAND_RE = re.compile(r"args=\((\w+)\b")
INPUT_EXPR_RE = re.compile(r"^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def cli_options(command: str) -> set[str]:
    parser = build_parser()
    subparsers = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    return set(subparsers.choices[command]._option_string_actions)


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_every_action_input_reaches_the_cli_through_env(path: Path) -> None:
    """Each input is used via `env:`; CLI actions forward each to a real option of their command."""
    action = load(path)
    inputs = set(action.get("inputs", {}))
    env_to_input: dict[str, str] = {}
    used: set[str] = set()
    scripts: list[str] = []
    for _where, step in steps_of(action):
        for name, value in (step.get("env") or {}).items():
            match = INPUT_EXPR_RE.match(str(value))
            if match:
                env_to_input[name] = match[1]
                used.add(match[1])
        for value in [
            *(step.get("with") or {}).values(),
            step.get("if", ""),
            step.get("working-directory", ""),
        ]:
            used |= set(re.findall(r"inputs\.([\w-]+)", str(value)))
        if "run" in step:
            scripts.append(step["run"])
    assert used == inputs, f"inputs never used: {inputs - used}; unknown inputs: {used - inputs}"

    command = ACTION_COMMANDS.get(path.parent.name)
    if command is None:
        return
    script = "\n".join(scripts)
    assert set(COMMAND_RE.findall(script)) == {command}
    options = cli_options(command)
    forwarded: dict[str, str] = {}
    for option, variable in VALUE_OPTION_RE.findall(script):
        assert option in options, f"mlgitops {command} has no {option}"
        if variable in env_to_input:
            forwarded[env_to_input[variable]] = option
    for variable, option in SWITCH_RE.findall(script):
        assert option in options, f"mlgitops {command} has no {option}"
        forwarded[env_to_input[variable]] = option
    missing = inputs - set(forwarded) - set(NOT_OPTIONS)
    assert not missing, f"inputs not forwarded to mlgitops {command}: {missing}"


@pytest.mark.parametrize("path", [*ALL_FILES, *TEMPLATE_WORKFLOWS], ids=rel)
def test_no_expression_inside_run(path: Path) -> None:
    """Data reaches scripts through `env:` only: no `${{ }}` in any `run:`, template included."""
    text = path.read_text(encoding="utf-8")
    if "{{cookiecutter" in str(path) or "{%" in text:
        # The template's workflows: look at the raw text of each run block.
        blocks = re.findall(r"^(\s*)run: \|\n((?:\1\s+.*\n|\n)*)|^\s*run: (.*)$", text, re.M)
        for _indent, block, line in blocks:
            assert not EXPRESSION_RE.search(block + line), f"{rel(path)}: expression in run"
        return
    for where, step in steps_of(load(path)):
        assert not EXPRESSION_RE.search(step.get("run", "")), f"{rel(path)} {where}"


@pytest.mark.parametrize("path", [*ALL_FILES, *TEMPLATE_WORKFLOWS], ids=rel)
def test_actions_are_pinned(path: Path) -> None:
    """Third-party actions by full SHA with a `# vX.Y.Z` comment; ours at the template ref."""
    for target, ref, rest in uses_lines(path):
        if target.startswith("./"):
            assert path.name == "ci.yml", f"{rel(path)}: local action outside the self-test"
        elif target.startswith(f"{TEMPLATE_REPO}/") or "{{ cookiecutter.template_repo }}" in target:
            assert ref in (TEMPLATE_REF, "{{ cookiecutter.template_ref }}"), f"{rel(path)}: {ref}"
        else:
            assert SHA_RE.fullmatch(ref), f"{rel(path)}: {target}@{ref} is not pinned by SHA"
            assert VERSION_COMMENT_RE.match(rest), f"{rel(path)}: {target} lacks '# vX.Y.Z'"


def test_each_third_party_action_has_one_pin() -> None:
    """A given action is pinned to the same SHA and version everywhere."""
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in [*ALL_FILES, *TEMPLATE_WORKFLOWS]:
        for target, ref, rest in uses_lines(path):
            if SHA_RE.fullmatch(ref):
                pins.setdefault(target, set()).add((ref, rest.strip()))
    assert pins
    assert {target: len(found) for target, found in pins.items()} == dict.fromkeys(pins, 1)


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_workflow_permissions_and_triggers(path: Path) -> None:
    """Top-level permissions empty, write scopes per job only; no dangerous shortcuts."""
    workflow = load(path)
    text = path.read_text(encoding="utf-8")
    assert workflow["permissions"] == {}
    assert "pull_request_target" not in text
    assert "secrets: inherit" not in text
    assert "toJSON(secrets)" not in text
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {job_id} must state its permissions"


@pytest.mark.parametrize("path", WORKFLOWS, ids=rel)
def test_checkouts_drop_credentials_except_to_push_tags(path: Path) -> None:
    for where, step in steps_of(load(path)):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            keep = step.get("with", {}).get("persist-credentials")
            if path.name == "ml-promote.yml":
                assert keep is True, "the promote job pushes the version tag"
            else:
                assert keep is False, f"{rel(path)} {where}"


@pytest.mark.parametrize("name", REUSABLE)
def test_reusable_workflows_are_called_only(name: str) -> None:
    workflow = load(ROOT / ".github" / "workflows" / name)
    assert set(workflow["on"]) == {"workflow_call"}


def test_pr_workflow_checks_out_history_and_gates_on_governance() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "ml-pr.yml")
    (job,) = workflow["jobs"].values()
    assert job["name"] == "governance"  # the required status check: "<caller job> / governance"
    checkout = job["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0
    last = job["steps"][-1]
    assert "GOVERNANCE_RESULT" in last["env"] and "exit 1" in last["run"]
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Post the sticky comment") < names.index("Governance verdict")


def test_promote_never_cancels_a_running_or_queued_promotion() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "ml-promote.yml")
    (job,) = workflow["jobs"].values()
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "github.ref" in job["concurrency"]["group"]
    move = next(
        s for s in job["steps"] if s.get("name") == "Move to the current head of the branch"
    )
    assert 'git fetch --tags origin "refs/heads/$BRANCH"' in move["run"]


def test_fork_comment_never_checks_out_code() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "ml-comment.yml")
    (job,) = workflow["jobs"].values()
    uses = [str(step.get("uses", "")) for step in job["steps"]]
    assert not any(target.startswith("actions/checkout@") for target in uses)
    assert "head_repository.full_name != github.repository" in job["if"]
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Verify the artifact") < names.index("Post the sticky comment")


def test_fork_prs_get_no_secrets_and_are_told_so() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "ml-pr.yml")
    (job,) = workflow["jobs"].values()
    with_secrets = [s for s in job["steps"] if "secrets." in str(s.get("env", {}))]
    assert [s["name"] for s in with_secrets] == ["Pull data and models from the DVC remote"]
    body = next(s for s in job["steps"] if s.get("name") == "Assemble the comment")
    assert "comes from a fork" in body["run"]
    upload = next(s for s in job["steps"] if "upload-artifact" in str(s.get("uses")))
    assert upload["if"] == "${{ env.FORK == 'true' }}"


def test_dependabot_covers_actions_and_pip() -> None:
    for path in [
        ROOT / ".github" / "dependabot.yml",
        ROOT / "template" / "{{cookiecutter.project_slug}}" / ".github" / "dependabot.yml",
    ]:
        config: Any = load(path)
        kinds = {update["package-ecosystem"] for update in config["updates"]}
        assert kinds == {"github-actions", "pip"}, rel(path)


def test_fork_comment_listens_to_the_pull_request_workflow() -> None:
    """The generated ml-comment.yml follows the generated ml-pr.yml by its exact name."""
    folder = ROOT / "template" / "{{cookiecutter.project_slug}}" / ".github" / "workflows"
    pr_name = re.search(r"^name: (.+)$", (folder / "ml-pr.yml").read_text("utf-8"), re.M)
    comment = (folder / "ml-comment.yml").read_text(encoding="utf-8")
    assert pr_name is not None
    assert f'workflows: ["{pr_name[1]}"]' in comment
    assert "types: [completed]" in comment
