"""What the deploy workflow verifies a version with, checked on the workflow files and by
running their step scripts with bash.

The keyless path cannot run here (no Sigstore, no GitHub OIDC token): these tests pin the
identity the deploy job expects, computed from the `job` context, to the Fulcio SAN the
promote job's certificate carries (server URL + `job_workflow_ref`, the reusable
ml-promote.yml at the ref the caller pinned). The key-based path runs end to end in
tests/workflows/test_e2e_act_deploy.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from workflow_files import ROOT, TEMPLATE_REPO, WORKFLOWS, load

DEPLOY = ROOT / ".github" / "workflows" / "ml-deploy.yml"
PROMOTE = ROOT / ".github" / "workflows" / "ml-promote.yml"
ACTION = ROOT / "actions" / "deploy-model" / "action.yml"
SHA = "0123456789abcdef0123456789abcdef01234567"
CALLED = f"{TEMPLATE_REPO}/.github/workflows/ml-deploy.yml"
SIGNER = f"https://github.com/{TEMPLATE_REPO}/.github/workflows/ml-promote.yml"


def _job_steps(path: Path) -> dict[str, dict[str, Any]]:
    (job,) = load(path)["jobs"].values()
    return {step["name"]: step for step in job["steps"]}


def _run(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )


def _outputs(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return dict(line.split("=", 1) for line in text.splitlines() if line)


@pytest.mark.parametrize(
    ("workflow_ref", "identity"),
    [
        (f"{CALLED}@refs/tags/v1.4.0", f"{SIGNER}@refs/tags/v1.4.0"),
        (f"{CALLED}@refs/heads/main", f"{SIGNER}@refs/heads/main"),
        (f"{CALLED}@{SHA}", f"{SIGNER}@{SHA}"),
        (
            "Other-Org/fork.of-template/.github/workflows/ml-deploy.yml@refs/tags/v2",
            "https://github.com/Other-Org/fork.of-template/.github/workflows/ml-promote.yml@refs/tags/v2",
        ),
    ],
    ids=["tag", "branch", "sha", "fork"],
)
def test_the_keyless_identity_is_the_promote_workflow_at_the_called_ref(
    tmp_path: Path, workflow_ref: str, identity: str
) -> None:
    step = _job_steps(DEPLOY)["Find the identity that signs keyless"]
    output = tmp_path / "output"
    env = {"SERVER_URL": "https://github.com", "WORKFLOW_REF": workflow_ref}
    run = _run(step["run"], {**env, "GITHUB_OUTPUT": str(output)}, tmp_path)
    assert run.returncode == 0, run.stderr
    assert _outputs(output) == {"identity": identity}
    assert identity in run.stdout


@pytest.mark.parametrize("workflow_ref", ["", "no-at-sign", "owner/repo@refs/tags/v1"])
def test_no_identity_without_a_workflow_reference(tmp_path: Path, workflow_ref: str) -> None:
    """Not a failure by itself: ungated stages need no verification, and a gated one
    without a key or identity is refused by mlgitops (exit 2), which names the options."""
    step = _job_steps(DEPLOY)["Find the identity that signs keyless"]
    output = tmp_path / "output"
    env = {"SERVER_URL": "https://github.com", "WORKFLOW_REF": workflow_ref}
    run = _run(step["run"], {**env, "GITHUB_OUTPUT": str(output)}, tmp_path)
    assert run.returncode == 0, run.stderr
    assert _outputs(output) == {}
    assert "::notice title=No keyless identity::" in run.stdout


def test_the_identity_comes_from_the_job_context_of_the_called_workflow() -> None:
    """job.workflow_ref names the reusable workflow (the `github` context is the caller's);
    the act stand-in counts only under act; the promote workflow it names signs keyless."""
    step = _job_steps(DEPLOY)["Find the identity that signs keyless"]
    assert step["id"] == "identity"
    act_fallback = "(env.ACT && env.MLGITOPS_ACT_WORKFLOW_REF)"
    assert step["env"] == {
        "SERVER_URL": "${{ github.server_url }}",
        "WORKFLOW_REF": f"${{{{ job.workflow_ref || {act_fallback} || '' }}}}",
    }
    assert "ml-promote.yml@$ref" in step["run"]
    # The file the identity names is the promote workflow, which signs with its OIDC token.
    assert PROMOTE in WORKFLOWS
    (promote_job,) = load(PROMOTE)["jobs"].values()
    assert promote_job["permissions"]["id-token"] == "write"


def test_the_deploy_step_verifies_as_the_promote_step_signs() -> None:
    """Key first (an input, else the variable: a public key is no secret), else the
    keyless identity (an input, else the computed one); allow-unverified is explicit."""
    workflow = load(DEPLOY)
    inputs = workflow["on"]["workflow_call"]["inputs"]
    assert inputs["allow-unverified"]["type"] == "boolean"
    assert inputs["allow-unverified"]["default"] is False
    assert inputs["verify-key"]["default"] == inputs["verify-identity"]["default"] == ""
    assert "MLGITOPS_VERIFY_KEY" not in workflow["on"]["workflow_call"].get("secrets", {})
    steps = _job_steps(DEPLOY)
    names = list(steps)
    assert names.index("Find the identity that signs keyless") < names.index("Deploy")
    deploy = steps["Deploy"]["with"]
    assert deploy["verify-key"] == "${{ inputs.verify-key || vars.MLGITOPS_VERIFY_KEY }}"
    assert deploy["verify-identity"] == (
        "${{ inputs.verify-identity || steps.identity.outputs.identity }}"
    )
    assert deploy["allow-unverified"] == "${{ inputs.allow-unverified }}"
    action = load(ACTION)
    assert action["inputs"]["verify-issuer"]["default"] == (
        "https://token.actions.githubusercontent.com"
    )
    assert action["inputs"]["allow-unverified"]["default"] == "false"


FAKE_MLGITOPS = """#!/usr/bin/env bash
# Records what the step runs: each argument on a line, and the key file's text.
printf '%s\\n' "$@" > "$RECORD/args"
previous=""
for arg in "$@"; do
  if [ "$previous" = "--key" ]; then
    cat "$arg" > "$RECORD/key"
    stat -c %a "$arg" > "$RECORD/mode"
  fi
  previous="$arg"
done
"""


def _run_action(
    tmp_path: Path, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The deploy-model step's script with the given inputs, `mlgitops` a recorder."""
    (step,) = load(ACTION)["runs"]["steps"]
    defaults = {name: str(spec.get("default", "")) for name, spec in load(ACTION)["inputs"].items()}
    values = {**defaults, "github-token": "t0ken", "stage": "production", **inputs}
    env = {}
    for name, expression in step["env"].items():
        key = expression.removeprefix("${{ inputs.").removesuffix(" }}")
        env[name] = values[key]
    record = tmp_path / "record"
    record.mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "mlgitops"
    fake.write_text(FAKE_MLGITOPS, encoding="utf-8")
    fake.chmod(0o755)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env.update(
        RECORD=str(record),
        RUNNER_TEMP=str(runner_temp),
        GITHUB_SERVER_URL="https://github.com",
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )
    run = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert list(runner_temp.iterdir()) == [], "the public key file outlives its step"
    return run, (record / "args").read_text(encoding="utf-8").splitlines()


PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"


def test_the_action_passes_the_public_key_as_a_private_file(tmp_path: Path) -> None:
    run, args = _run_action(tmp_path, **{"verify-key": PEM, "verify-identity": SIGNER})
    assert args[:3] == ["deploy", "--stage", "production"]
    assert "--identity" not in args  # a key wins: the promote job signed with its pair
    assert args[args.index("--key") + 1].startswith(str(tmp_path / "runner-temp"))
    assert (tmp_path / "record" / "key").read_text(encoding="utf-8") == PEM + "\n"
    assert (tmp_path / "record" / "mode").read_text(encoding="utf-8").strip() == "600"
    assert "--allow-unverified" not in args and "::warning" not in run.stdout
    assert "verifies with the public key" in run.stdout


def test_the_action_passes_the_keyless_identity_and_issuer(tmp_path: Path) -> None:
    identity = f"{SIGNER}@refs/tags/v1"
    run, args = _run_action(tmp_path, **{"verify-identity": identity})
    assert "--key" not in args
    at = args.index("--identity")
    assert args[at : at + 4] == [
        "--identity", identity, "--issuer", "https://token.actions.githubusercontent.com",
    ]  # fmt: skip
    assert f"signed keyless by {identity}" in run.stdout


def test_the_action_passes_nothing_to_verify_with_when_given_nothing(tmp_path: Path) -> None:
    """mlgitops then deploys ungated stages and refuses a gated one (exit 2)."""
    _run, args = _run_action(tmp_path)
    assert not {"--key", "--identity", "--issuer", "--allow-unverified"} & set(args)


def test_allow_unverified_is_passed_and_annotated(tmp_path: Path) -> None:
    run, args = _run_action(tmp_path, **{"allow-unverified": "true"})
    assert "--allow-unverified" in args
    assert "::warning title=Deploying without verification::" in run.stdout
