"""The security and wiring rules of the workflows and composite actions, checked as data."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from typing import Any

import jinja2
import pytest
from workflow_files import (
    ACTIONS,
    EXPRESSION_RE,
    REUSABLE,
    ROOT,
    SHA_RE,
    TEMPLATE_CHECKOUT,
    TEMPLATE_DEFAULTS,
    TEMPLATE_REF,
    TEMPLATE_REPO,
    VERSION_COMMENT_RE,
    WORKFLOWS,
    load,
    parse,
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
    "deploy-model": "deploy",
}
# Inputs of CLI actions that are not CLI options, and where they go instead.
NOT_OPTIONS = {
    "working-directory": "the step's working-directory",
    "github-token": "GITHUB_TOKEN in the step's environment",
    "fail-on-violation": "whether the step fails on exit code 1",
    "open-issue": "--open-issue, a switch (checked below)",
    "dry-run": "--dry-run, a switch (checked below)",
    "signing-key": "a private key file for the step, as MLGITOPS_SIGNING_KEY",
    "verify-key": "a public key file for the step, as --key",
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
    """Third-party actions by full SHA with a `# vX.Y.Z` comment; ours by path, never by ref.

    Only the generated callers name this repository with a ref: the one the bake chose.
    """
    text = path.read_text(encoding="utf-8")
    for match in re.finditer(r"^\s*(?:-\s+)?uses:\s*(\./\S+)\s*$", text, re.M):
        local = match[1]
        if path.name == "ci.yml":
            assert local.startswith("./actions/"), f"{rel(path)}: {local}"
        else:
            assert path.name in REUSABLE, f"{rel(path)}: local action {local}"
            prefix = f"./{TEMPLATE_CHECKOUT}/actions/"
            assert local.startswith(prefix), f"{rel(path)}: {local}"
            assert (ROOT / "actions" / local.removeprefix(prefix) / "action.yml").is_file(), local
    for target, ref, rest in uses_lines(path):
        if "{{ cookiecutter.template_repo }}" in target:
            assert path in TEMPLATE_WORKFLOWS
            assert ref == "{{ cookiecutter.__template_ref }}", f"{rel(path)}: {ref}"
        else:
            assert not target.startswith(f"{TEMPLATE_REPO}/"), f"{rel(path)}: {target}@{ref}"
            assert SHA_RE.fullmatch(ref), f"{rel(path)}: {target}@{ref} is not pinned by SHA"
            assert VERSION_COMMENT_RE.match(rest), f"{rel(path)}: {target} lacks '# vX.Y.Z'"


def _template_steps(job: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(index, find step, checkout step) of the checkout of this repository in a job."""
    names = [step.get("name") for step in job["steps"]]
    index = names.index("Find the commit this workflow was called at")
    return index, job["steps"][index], job["steps"][index + 1]


@pytest.mark.parametrize("name", REUSABLE)
def test_reusable_workflows_run_the_code_of_the_commit_they_were_called_at(name: str) -> None:
    """No branch can reach a pinned caller: actions and mlgitops come from job.workflow_sha.

    Every job checks this repository out at the commit GitHub resolved the caller's
    `uses:` to, before any of its actions runs, and uses them by path from there.
    """
    workflow = load(ROOT / ".github" / "workflows" / name)
    for job_id, job in workflow["jobs"].items():
        index, find, checkout = _template_steps(job)
        assert find["id"] == "template"
        assert "job.workflow_repository" in find["env"]["WORKFLOW_REPOSITORY"]
        assert "job.workflow_sha" in find["env"]["WORKFLOW_SHA"]
        # The act stand-in values count only under act (env.ACT), never on GitHub.
        for value in find["env"].values():
            assert re.fullmatch(
                r"\$\{\{ job\.workflow_\w+ \|\| \(env\.ACT && env\.MLGITOPS_ACT_\w+\) \|\| '' \}\}",
                value,
            )
        assert "exit 2" in find["run"] and "^[0-9a-f]{40}$" in find["run"]
        assert str(checkout["uses"]).startswith("actions/checkout@")
        assert checkout["with"] == {
            "repository": "${{ steps.template.outputs.repository }}",
            "ref": "${{ steps.template.outputs.sha }}",
            "path": TEMPLATE_CHECKOUT,
            "persist-credentials": False,
        }
        for position, step in enumerate(job["steps"]):
            if str(step.get("uses", "")).startswith(f"./{TEMPLATE_CHECKOUT}/"):
                assert position > index + 1, f"{name} job {job_id}: {step.get('name')}"
        assert str(job["steps"][index + 2].get("uses")) == f"./{TEMPLATE_CHECKOUT}/actions/setup"


def test_the_find_step_is_the_same_everywhere() -> None:
    finds = [
        _template_steps(job)[1]
        for name in REUSABLE
        for job in load(ROOT / ".github" / "workflows" / name)["jobs"].values()
    ]
    assert len(finds) >= len(REUSABLE)
    assert all(find == finds[0] for find in finds)


def test_bakes_pin_a_release_tag_that_cruft_update_moves() -> None:
    """The default pin is this version's release tag, never a branch.

    `template_ref` is empty by default ("the release generated from"), so .cruft.json
    keeps an empty answer and each render takes `_release_ref` from the template version
    it renders: `cruft update` moves the pin (tests/workflows/test_cruft_update.py).
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert TEMPLATE_DEFAULTS["template_ref"] == ""
    assert TEMPLATE_REF == f"v{project['version']}"
    assert TEMPLATE_DEFAULTS["__template_ref"] == (
        "{{ cookiecutter.template_ref or cookiecutter._release_ref }}"
    )
    for path in TEMPLATE_WORKFLOWS:
        assert "cookiecutter.template_ref" not in path.read_text(encoding="utf-8"), rel(path)


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
            if path.name == "ml-promote.yml" and "repository" not in step["with"]:
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
    """The one checkout is this template's, at the called commit: no pull request code."""
    workflow = load(ROOT / ".github" / "workflows" / "ml-comment.yml")
    (job,) = workflow["jobs"].values()
    checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert [s["with"]["repository"] for s in checkouts] == [
        "${{ steps.template.outputs.repository }}"
    ]
    verify = next(s for s in job["steps"] if s.get("name") == "Verify the artifact")
    assert verify["with"]["run-head-repository"] == (
        "${{ github.event.workflow_run.head_repository.full_name }}"
    )
    assert "head_repository.full_name != github.repository" in job["if"]
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Verify the artifact") < names.index("Post the sticky comment")


def test_fork_prs_get_no_secrets_and_are_told_so() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "ml-pr.yml")
    (job,) = workflow["jobs"].values()
    with_secrets = [s for s in job["steps"] if "secrets." in str(s.get("env", {}))]
    assert [s["name"] for s in with_secrets] == ["Pull data and models from the DVC remote"]
    assert with_secrets[0]["uses"] == f"./{TEMPLATE_CHECKOUT}/actions/pull-data"
    oidc = next(s for s in job["steps"] if str(s.get("uses", "")).endswith("/cloud-auth"))
    assert oidc["if"] == "${{ env.FORK != 'true' }}"
    body = next(s for s in job["steps"] if s.get("name") == "Assemble the comment")
    assert "comes from a fork" in body["run"]
    upload = next(s for s in job["steps"] if "upload-artifact" in str(s.get("uses")))
    assert upload["if"] == "${{ env.FORK == 'true' }}"


def test_pr_stops_before_the_pipeline_when_tracked_inputs_are_missing() -> None:
    """A fork with a private remote gets a 'not run' comment and a neutral (green) job."""
    workflow = load(ROOT / ".github" / "workflows" / "ml-pr.yml")
    (job,) = workflow["jobs"].values()
    by_name = {step.get("name"): step for step in job["steps"]}
    for name in ("Reproduce the pipeline", "Report metrics", "Check governance"):
        assert by_name[name]["if"] == "${{ steps.pull.outputs.complete == 'true' }}", name
    assert "result=not-run" in by_name["Assemble the comment"]["run"]
    verdict = by_name["Governance verdict"]["run"]
    not_run = verdict[verdict.index("not-run)") : verdict.index(";;", verdict.index("not-run)"))]
    assert '"$FORK" = "true"' in not_run and "::notice" in not_run
    names = list(by_name)
    assert (
        names.index("Forget the OIDC token")
        == names.index("Pull data and models from the DVC remote") + 1
    )


READ_SECRETS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
    "DVC_SSH_PRIVATE_KEY",
}
SECRET_RE = re.compile(r"secrets\.(\w+)")


# The jobs that write to the DVC remote: promotion (dvc push), deployment (the
# published servable copy) and the monitor (the retraining branch's data). Each runs in
# a protected environment and reads its write credentials there; its caller passes none.
WRITERS = ["ml-promote.yml", "ml-deploy.yml", "ml-monitor.yml"]
# What a writer's caller may pass: deploy and monitor a GitHub token for the pull
# request they open; promote the optional release signing key.
WRITER_SECRETS = {
    "ml-promote.yml": {"MLGITOPS_SIGNING_KEY"},
    "ml-deploy.yml": {"MLGITOPS_DEPLOY_TOKEN"},
    "ml-monitor.yml": {"RETRAIN_TOKEN"},
}


def test_write_credentials_exist_only_in_the_protected_environment() -> None:
    """PR runs get read-only secrets by name; write secrets are the environment's only."""
    workflows = {path.name: path.read_text(encoding="utf-8") for path in WORKFLOWS}
    pr = load(ROOT / ".github" / "workflows" / "ml-pr.yml")
    assert set(pr["on"]["workflow_call"]["secrets"]) == READ_SECRETS
    for name in WRITERS:
        writer = load(ROOT / ".github" / "workflows" / name)
        # The caller passes no DVC secret (deploy, monitor: only the token for their PR).
        declared = set(writer["on"]["workflow_call"].get("secrets", {}))
        assert declared <= WRITER_SECRETS[name], (name, declared)
        (job,) = writer["jobs"].values()
        assert job["environment"] == {"name": "${{ inputs.environment }}"}, name
        assert writer["on"]["workflow_call"]["inputs"]["environment"]["default"] == "ml-promote"
        used = set(SECRET_RE.findall(workflows[name])) - declared
        assert used and all(n.startswith("DVC_WRITE_") for n in used), (name, used)
    for name, text in workflows.items():
        if name not in WRITERS:
            assert "DVC_WRITE_" not in text, name
    template = {path.name: path.read_text(encoding="utf-8") for path in TEMPLATE_WORKFLOWS}
    pr_caller = set(SECRET_RE.findall(template["ml-pr.yml"])) - {"CML_REPO_TOKEN"}
    assert pr_caller - {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} == {
        f"DVC_READ_{name.removeprefix('DVC_')}" for name in READ_SECRETS
    }  # (AWS_* is the CML runner's cloud account, a separate job)
    # RETRAIN_TOKEN: the monitor's GitHub token for the retraining pull request.
    assert set(SECRET_RE.findall(template["ml-monitor.yml"])) == {"RETRAIN_TOKEN"}
    assert not SECRET_RE.findall(template["ml-promote.yml"])
    assert set(SECRET_RE.findall(template["ml-deploy.yml"])) == {"MLGITOPS_DEPLOY_TOKEN"}


def test_the_signing_key_reaches_the_promote_step_only() -> None:
    """MLGITOPS_SIGNING_KEY: declared optional by the promote workflow, read by its one
    job (in the protected environment) for the Promote step alone; no other workflow,
    PR runs included, and no generated caller names it."""
    for path in [*WORKFLOWS, *TEMPLATE_WORKFLOWS]:
        text = path.read_text(encoding="utf-8")
        if path.parent == ROOT / ".github" / "workflows" and path.name == "ml-promote.yml":
            continue
        assert "MLGITOPS_SIGNING_KEY" not in text, rel(path)
    workflow = load(ROOT / ".github" / "workflows" / "ml-promote.yml")
    assert workflow["on"]["workflow_call"]["secrets"]["MLGITOPS_SIGNING_KEY"]["required"] is False
    (job,) = workflow["jobs"].values()
    assert job["environment"] == {"name": "${{ inputs.environment }}"}
    readers = [s for s in job["steps"] if "MLGITOPS_SIGNING_KEY" in str(s)]
    assert [s["name"] for s in readers] == ["Promote"]
    (promote,) = readers
    assert promote["uses"] == f"./{TEMPLATE_CHECKOUT}/actions/promote-model"
    assert promote["with"]["signing-key"] == "${{ secrets.MLGITOPS_SIGNING_KEY }}"
    setup = next(s for s in job["steps"] if str(s.get("uses", "")).endswith("/actions/setup"))
    assert setup["with"]["profile"] == "attest"  # model-signing is installed to sign with
    # The action writes the key to a private temporary file for its step and removes it.
    step = load(ROOT / "actions" / "promote-model" / "action.yml")["runs"]["steps"][0]
    assert step["env"]["SIGNING_KEY_PEM"] == "${{ inputs.signing-key }}"
    assert 'mktemp "$RUNNER_TEMP/mlgitops-signing-XXXXXX"' in step["run"]
    assert "trap 'rm -f \"$key\"' EXIT" in step["run"]
    assert "unset SIGNING_KEY_PEM" in step["run"]


@pytest.mark.parametrize("name", WRITERS)
def test_write_key_files_are_private_and_removed(name: str) -> None:
    """Stored keys become files of mode 600 and are removed at the end, whatever happens."""
    (job,) = load(ROOT / ".github" / "workflows" / name)["jobs"].values()
    by_name = {step.get("name"): step for step in job["steps"]}
    write = by_name["Write DVC remote credentials"]
    assert write["run"].count("(umask 077 && printf") == 2
    assert set(write["env"]) == {"GOOGLE_APPLICATION_CREDENTIALS_JSON", "DVC_SSH_PRIVATE_KEY"}
    remove = by_name["Remove DVC remote credentials"]
    assert job["steps"][-1] is remove and remove["if"] == "${{ always() }}"
    for path in ("gcp-credentials.json", "dvc-ssh-key", "mlgitops-cloud"):
        assert f'"$RUNNER_TEMP/{path}"' in remove["run"], path


@pytest.mark.parametrize("name", ["ml-pr.yml", *WRITERS])
def test_oidc_is_offered_for_every_cloud(name: str) -> None:
    workflow = load(ROOT / ".github" / "workflows" / name)
    (job,) = workflow["jobs"].values()
    assert job["permissions"]["id-token"] == "write"
    inputs = set(workflow["on"]["workflow_call"]["inputs"])
    oidc = set(load(ROOT / "actions" / "cloud-auth" / "action.yml")["inputs"])
    assert oidc <= inputs
    step = next(s for s in job["steps"] if str(s.get("uses", "")).endswith("/cloud-auth"))
    assert step["with"] == {key: f"${{{{ inputs.{key} }}}}" for key in oidc}


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


PERMISSION_LEVEL = {"none": 0, "read": 1, "write": 2}


def _render_caller(path: Path, **answers: str) -> dict[str, Any]:
    """A generated workflow rendered as a bake would, for the given answers."""
    context = {
        **{key: value for key, value in TEMPLATE_DEFAULTS.items() if isinstance(value, str)},
        "project_slug": "demo",
        "model_name": "demo-model",
        "__template_ref": TEMPLATE_REF,
        "python_version": "3.11",
        **answers,
    }
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    text = environment.from_string(path.read_text(encoding="utf-8")).render(cookiecutter=context)
    return parse(text, rel(path))


@pytest.mark.parametrize("runner", ["github-hosted", "self-hosted", "cml-cloud"])
@pytest.mark.parametrize("remote", ["local", "s3", "gcs", "azure", "ssh"])
def test_generated_callers_fit_the_reusable_workflows(remote: str, runner: str) -> None:
    """GitHub refuses a call that grants less than the called jobs ask for, or passes an
    input or secret the called workflow does not declare: every generated call fits."""
    calls = 0
    for path in TEMPLATE_WORKFLOWS:
        caller = _render_caller(path, dvc_remote=remote, training_runner=runner)
        for job_id, job in caller["jobs"].items():
            if "uses" not in job:
                continue
            target, ref = job["uses"].split("@")
            assert target.startswith(f"{TEMPLATE_REPO}/.github/workflows/") and ref == TEMPLATE_REF
            called = load(ROOT / target.removeprefix(f"{TEMPLATE_REPO}/"))
            contract = called["on"]["workflow_call"]
            where = f"{path.name} job {job_id}"
            assert set(job.get("with") or {}) <= set(contract.get("inputs") or {}), where
            assert set(job.get("secrets") or {}) <= set(contract.get("secrets") or {}), where
            granted = job.get("permissions") or {}
            for called_job in called["jobs"].values():
                for scope, level in (called_job.get("permissions") or {}).items():
                    have = PERMISSION_LEVEL[granted.get(scope, "none")]
                    assert have >= PERMISSION_LEVEL[level], f"{where}: {scope}: {level}"
            calls += 1
    assert calls == len(REUSABLE)
