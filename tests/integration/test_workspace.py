"""The workspace: paths confined to the repository, one YAML reading everywhere, and the
version look-up other commands build on (`<model>@vX.Y.Z`, `<model>#<stage>`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_govern import POLICY
from test_promotion_support import REPOSITORY, Sandbox, merged_pull, mlgitops, sh, use_hub

from localhub.server import LocalHub
from mlgitops.errors import InputError, Location
from mlgitops.io.workspace import Workspace, confine

pytestmark = pytest.mark.slow  # real git + DVC repositories (tests/README.md)

Capsys = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch
HERE = Location("governance/policy.yaml", 7, "fairness.report")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/etc/passwd", "is an absolute path"),
        ("C:/Windows/win.ini", "is an absolute path"),
        ("../outside.json", "leaves its folder"),
        ("reports/../../outside.json", "leaves its folder"),
        ("reports/a\0b.json", "NUL"),
        ("", "expected a path"),
        (42, "expected a path"),
        ("link/secret.json", "leads outside the repository"),
    ],
)
def test_hostile_paths_are_refused_naming_the_key(
    tmp_path: Path, value: object, message: str
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError) as raised:
        confine(root, value, location=HERE)
    assert message in raised.value.message
    assert raised.value.location == HERE


def test_paths_inside_are_kept(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "inner").symlink_to(tmp_path / "reports")
    assert confine(tmp_path, "./reports/m.json", location=HERE) == "reports/m.json"
    assert confine(tmp_path, "inner/m.json", location=HERE) == "inner/m.json"


def test_govern_refuses_a_policy_path_outside_the_repository(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    policy = sandbox.work / "governance" / "policy.yaml"
    policy.parent.mkdir()
    policy.write_text(POLICY.replace("reports/fairness.json", "/etc/passwd"), encoding="utf-8")
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "govern", "--no-dvc-status")
    assert code == 2, out
    assert "governance/policy.yaml:" in out and "(key 'fairness.report')" in out
    assert "absolute path" in out
    assert "root:" not in out  # /etc/passwd was never opened


def test_artifact_path_leading_out_is_refused(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    dvc_yaml = sandbox.work / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text(encoding="utf-8").replace("card: MODEL_CARD.md", "card: ../../x.md"),
        encoding="utf-8",
    )
    sh("git", "commit", "-qam", "card outside", cwd=sandbox.work)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--dry-run")
    assert code == 2, out
    assert "(key 'artifacts.demo-model.meta.card')" in out and "leaves its folder" in out


def test_release_notes_read_params_as_dvc_does(
    sandbox: Sandbox, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    """`1e-3` is a number for DVC (YAML 1.2); the release notes agree with `report`."""
    use_hub(monkeypatch, localhub)
    (sandbox.work / "params.yaml").write_text("train:\n  seed: 1\n  lr: 1e-3\n", encoding="utf-8")
    sh("git", "commit", "-qam", "learning rate", cwd=sandbox.work)
    head = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    merged_pull(localhub, 4, head, ["release:minor"])
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    body = localhub.releases(REPOSITORY)[0]["body"]
    assert "| train.lr | 0.001 |" in body


def test_resolve_version_by_tag_and_by_stage(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--stage", "staging")[0] == 0
    second = sandbox.change(2)
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 0
    clone = sandbox.root / "reader"
    shutil.copytree(sandbox.work, clone, symlinks=True)
    ws = Workspace.open(clone)
    ws.tags(fetch_from="origin")
    by_tag = ws.resolve_version("demo-model@v0.2.0")
    assert (by_tag.tag, by_tag.commit, by_tag.stage) == ("demo-model@v0.2.0", second, None)
    by_stage = ws.resolve_version("demo-model#staging")
    assert (by_stage.tag, by_stage.commit, by_stage.stage) == (
        "demo-model@v0.1.0", first, "staging"
    )
    for wrong in ("demo-model@v9.0.0", "demo-model#production", "demo-model", "x@1.0"):
        with pytest.raises(InputError):
            ws.resolve_version(wrong)
