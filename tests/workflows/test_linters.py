"""zizmor (offline, zero findings) and the GitHub JSON Schemas, on this repo and baked repos.

Ignores are allowed only in zizmor's config files (.github/zizmor.yml here and in the
template), each with a written reason; this test refuses inline `zizmor: ignore` comments.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.baking import bake
from workflow_files import ACTIONS, ROOT, WORKFLOWS

BIN = Path(sys.executable).parent
TEMPLATE_GITHUB = ROOT / "template" / "{{cookiecutter.project_slug}}" / ".github"
# Every workflow-shaping answer appears at least once; remotes change the secrets passed.
BAKED_VARIANTS = {
    "github-hosted-local": {"training_runner": "github-hosted", "dvc_remote": "local"},
    "self-hosted-s3": {
        "training_runner": "self-hosted",
        "dvc_remote": "s3",
        "dvc_remote_url": "s3://bucket/models",
    },
    "cml-cloud-gcs": {
        "training_runner": "cml-cloud",
        "dvc_remote": "gcs",
        "dvc_remote_url": "gs://bucket/models",
    },
    "github-hosted-azure": {
        "training_runner": "github-hosted",
        "dvc_remote": "azure",
        "dvc_remote_url": "azure://container/models",
    },
    "self-hosted-ssh": {
        "training_runner": "self-hosted",
        "dvc_remote": "ssh",
        "dvc_remote_url": "ssh://dvc@example.com/srv/dvc",
    },
}


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def zizmor(folder: Path) -> subprocess.CompletedProcess[str]:
    # --strict-collection: a file zizmor cannot parse is an error, not a skipped warning.
    return run(
        str(BIN / "zizmor"),
        "--offline",
        "--strict-collection",
        "--persona",
        "pedantic",
        "--format",
        "plain",
        ".",
        cwd=folder,
    )


def check_schema(schema: str, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        schema,
        *(str(f) for f in files),
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("baked-workflows")
    return {name: bake(base / name, **answers) for name, answers in BAKED_VARIANTS.items()}


def test_zizmor_finds_nothing_in_this_repository() -> None:
    result = zizmor(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("variant", BAKED_VARIANTS)
def test_zizmor_finds_nothing_in_a_baked_repository(baked: dict[str, Path], variant: str) -> None:
    result = zizmor(baked[variant])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_ignores_live_in_config_with_reasons() -> None:
    for path in [*WORKFLOWS, *ACTIONS, *TEMPLATE_GITHUB.rglob("*.yml")]:
        assert "zizmor: ignore" not in path.read_text(encoding="utf-8"), path
    for config in [ROOT / ".github" / "zizmor.yml", TEMPLATE_GITHUB / "zizmor.yml"]:
        lines = config.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if line.strip() in ("ignore:", "config:"):
                # The reason is the comment block right above (or below, for `ignore:`).
                around = lines[max(0, index - 6) : index + 2]
                assert any(item.strip().startswith("#") for item in around), (config, line)


def test_workflow_and_action_schemas_in_this_repository() -> None:
    workflows = check_schema("vendor.github-workflows", WORKFLOWS, ROOT)
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    actions = check_schema("vendor.github-actions", ACTIONS, ROOT)
    assert actions.returncode == 0, actions.stdout + actions.stderr
    dependabot = check_schema("vendor.dependabot", [ROOT / ".github" / "dependabot.yml"], ROOT)
    assert dependabot.returncode == 0, dependabot.stdout + dependabot.stderr


@pytest.mark.slow
@pytest.mark.parametrize("variant", BAKED_VARIANTS)
def test_workflow_schemas_in_a_baked_repository(baked: dict[str, Path], variant: str) -> None:
    repo = baked[variant]
    workflows = sorted((repo / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = check_schema("vendor.github-workflows", workflows, repo)
    assert result.returncode == 0, result.stdout + result.stderr
    result = check_schema("vendor.dependabot", [repo / ".github" / "dependabot.yml"], repo)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_cml_launch_job_only_for_cml_cloud(baked: dict[str, Path]) -> None:
    for variant, repo in baked.items():
        text = (repo / ".github" / "workflows" / "ml-pr.yml").read_text(encoding="utf-8")
        assert ("cml runner launch" in text or "runner launch" in text) == variant.startswith(
            "cml-cloud"
        ), variant
        if variant.startswith("self-hosted"):
            assert '"self-hosted"' in text
