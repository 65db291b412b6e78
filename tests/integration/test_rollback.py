"""Stages and rollback: GTO stage tags in policy order, read back by us and by `gto show`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_promotion_support import Sandbox, mlgitops, sh

pytestmark = pytest.mark.slow  # dvc add / dvc push to a local remote, then promotes

Capsys = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """Two versions, v0.1.0 and v0.2.0, promoted on two commits; no stages yet."""
    sandbox = Sandbox(tmp_path_factory.mktemp("released")).create()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(sandbox.work)
        from mlgitops import cli

        assert cli.main(["promote", "--bump", "minor"]) == 0
        sandbox.change(2)
        assert cli.main(["promote", "--bump", "minor"]) == 0
    return sandbox


@pytest.fixture
def sandbox(released: Sandbox, tmp_path: Path) -> Sandbox:
    return released.copy(tmp_path)


def _gto_show(cwd: Path) -> dict[str, object]:
    gto = Path(sys.executable).with_name("gto")
    if not gto.exists():
        pytest.skip("gto is not installed")
    return json.loads(sh(str(gto), "show", "--json", cwd=cwd))["demo-model"]


def _history(capsys: Capsys, monkeypatch: MP, cwd: Path) -> dict[str, object]:
    code, out = mlgitops(capsys, monkeypatch, cwd, "history", "--format", "json")
    assert code == 0, out
    return json.loads(out)["models"][0]


def test_stage_order_is_enforced(sandbox: Sandbox, capsys: Capsys, monkeypatch: MP) -> None:
    code, out = mlgitops(
        capsys, monkeypatch, sandbox.work, "promote", "--stage", "production", "--version", "v0.1.0"
    )
    assert code == 2
    assert "cannot go to 'production' before 'staging'" in out
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--stage", "qa")
    assert code == 2 and "unknown stage 'qa'" in out
    code, out = mlgitops(
        capsys, monkeypatch, sandbox.work, "promote", "--stage", "staging", "--version", "v9.0.0"
    )
    assert code == 2 and "v9.0.0 is not a registered version" in out
    assert not [t for t in sandbox.origin_tags() if "#" in t]


def test_promote_through_stages_then_roll_back(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    work = sandbox.work
    steps = [
        ("staging", "v0.1.0"),
        ("production", "v0.1.0"),
        ("staging", "v0.2.0"),
        ("production", "v0.2.0"),
    ]
    for stage, version in steps:
        code, out = mlgitops(
            capsys, monkeypatch, work, "promote", "--stage", stage, "--version", version
        )
        assert code == 0, out
        assert f"{stage} is now {version}" in out
    code, out = mlgitops(
        capsys, monkeypatch, work, "promote", "--stage", "production", "--version", "v0.2.0"
    )
    assert code == 0 and "already in 'production'" in out
    tags = sandbox.origin_tags()
    assert [t for t in sorted(tags) if "#" in t] == [
        "demo-model#production#2",
        "demo-model#production#4",
        "demo-model#staging#1",
        "demo-model#staging#3",
    ]
    shown = _gto_show(work)
    assert shown["version"] == "v0.2.0"  # gto reads our version tags too
    assert shown["stage"] == {"staging": "v0.2.0", "production": "v0.2.0"}
    gto = str(Path(sys.executable).with_name("gto"))
    versions = json.loads(sh(gto, "show", "demo-model", "--json", cwd=work))
    assert sorted(v["version"] for v in versions) == ["v0.1.0", "v0.2.0"]

    code, out = mlgitops(
        capsys, monkeypatch, work, "rollback", "--stage", "production", "--dry-run"
    )
    assert code == 0 and "would write" in out
    assert sandbox.origin_tags() == tags

    code, out = mlgitops(capsys, monkeypatch, work, "rollback", "--stage", "production")
    assert code == 0, out
    assert "production is now v0.1.0" in out
    new = sorted(set(sandbox.origin_tags()) - set(tags))
    assert new == ["demo-model#production!#5", "demo-model#production#6"]
    first, second = tags["demo-model@v0.1.0"], tags["demo-model@v0.2.0"]
    assert sandbox.origin_tags()["demo-model#production!#5"] == second  # unassign v0.2.0
    assert sandbox.origin_tags()["demo-model#production#6"] == first  # assign v0.1.0
    assert _gto_show(work)["stage"] == {"staging": "v0.2.0", "production": "v0.1.0"}
    history = _history(capsys, monkeypatch, work)
    assert history["stages"]["production"] == {"version": "v0.1.0", "commit": first}
    # Nothing was moved or deleted: every earlier tag is still where it was.
    assert all(sandbox.origin_tags()[name] == sha for name, sha in tags.items())

    # Rolling back again re-points to the version that held the stage before: v0.2.0.
    code, out = mlgitops(capsys, monkeypatch, work, "rollback", "--stage", "production")
    assert code == 0 and "production is now v0.2.0" in out
    assert _gto_show(work)["stage"]["production"] == "v0.2.0"


def test_rollback_needs_a_previous_version(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "rollback", "--stage", "staging")
    # Refusals of a request that cannot apply are usage errors: exit 2, as README says.
    assert code == 2 and "no version in 'staging'" in out
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--stage", "staging")[0] == 0
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "rollback", "--stage", "staging")
    assert code == 2 and "nothing to roll back to" in out


def test_stage_of_head_version_by_default(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--stage", "staging")
    assert code == 0 and "already promoted" in out and "staging is now v0.2.0" in out


def test_stage_without_version_promotes_head_first(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    third = sandbox.change(3)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--stage", "production")
    assert code == 2 and "cannot go to 'production' before 'staging'" in out
    assert "demo-model@v0.3.0" not in sandbox.origin_tags()  # checked before tagging
    code, out = mlgitops(
        capsys, monkeypatch, sandbox.work, "promote", "--stage", "staging", "--bump", "minor"
    )
    assert code == 0, out
    assert "staging is now v0.3.0" in out
    assert sandbox.origin_tags()["demo-model@v0.3.0"] == third
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--stage", "production")
    assert code == 0 and "already promoted" in out and "production is now v0.3.0" in out
