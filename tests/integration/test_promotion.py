"""`mlgitops promote` on real git + DVC repositories, with the local GitHub-like server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_promotion_support import (
    REPOSITORY,
    Sandbox,
    merged_pull,
    mlgitops,
    sh,
    use_hub,
)

from localhub.server import LocalHub

pytestmark = pytest.mark.slow  # dvc add / dvc push to a local remote, then verifies it

Capsys = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch


def test_first_release_without_github(sandbox: Sandbox, capsys: Capsys, monkeypatch: MP) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert "data verified" in out
    assert "tagged" in out and "demo-model@v0.1.0" in out
    assert "policy default (minor)" in out
    assert "no GitHub release" in out
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": head}
    # Annotated, with the model, version and metrics in its message.
    assert sh("git", "cat-file", "-t", "demo-model@v0.1.0", cwd=sandbox.origin) == "tag"
    message = sh("git", "tag", "-l", "--format=%(contents)", "demo-model@v0.1.0", cwd=sandbox.work)
    assert "model: demo-model" in message
    assert "version: v0.1.0" in message
    assert "metrics: accuracy=0.901" in message


def test_labels_drive_the_bump_and_release_notes(
    sandbox: Sandbox, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    use_hub(monkeypatch, localhub)
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    merged_pull(localhub, 1, first, ["release:major"])
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert "label release:major on PR #1" in out
    second = sandbox.change(2)
    merged_pull(localhub, 2, second, ["enhancement", "release:patch"])
    outputs = sandbox.root / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    written = outputs.read_text(encoding="utf-8")
    assert "tag<<" in written and "\ndemo-model@v1.0.1\n" in written
    assert "status<<" in written and "\npromoted\n" in written
    assert sandbox.origin_tags() == {"demo-model@v1.0.0": first, "demo-model@v1.0.1": second}

    releases = {r["tag_name"]: r for r in localhub.releases(REPOSITORY)}
    assert set(releases) == {"demo-model@v1.0.0", "demo-model@v1.0.1"}
    body = releases["demo-model@v1.0.1"]["body"]
    assert releases["demo-model@v1.0.1"]["name"] == "demo-model v1.0.1"
    assert "#2 Change 2" in body
    assert "| accuracy | 0.902 |" in body
    assert "| train.seed | 2 |" in body
    assert "models/demo-model" in body and ".dir`" in body  # data hash from the .dvc file
    assert second[:12] in body
    assert "## Model Details" in body
    assert "`demo-model@v1.0.0`" in body  # previous version


def test_coalesced_run_takes_the_largest_bump_of_the_merged_prs(
    sandbox: Sandbox, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    """Two merges land before a promotion run: one run releases both, with the larger bump."""
    use_hub(monkeypatch, localhub)
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    merged_pull(localhub, 1, first, ["release:patch"])
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert sandbox.origin_tags() == {"demo-model@v0.0.1": first}
    second = sandbox.change(2)
    merged_pull(localhub, 2, second, ["release:minor"])
    third = sandbox.change(3)
    merged_pull(localhub, 3, third, ["release:patch"])
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert "label release:minor on PR #2 (largest of 2 merged PRs)" in out
    assert sandbox.origin_tags() == {"demo-model@v0.0.1": first, "demo-model@v0.1.0": third}
    # The release notes name the newest merged PR.
    body = {r["tag_name"]: r for r in localhub.releases(REPOSITORY)}["demo-model@v0.1.0"]["body"]
    assert "#3 Change 3" in body


def test_skip_label_releases_nothing(
    sandbox: Sandbox, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    use_hub(monkeypatch, localhub)
    merged_pull(localhub, 3, sh("git", "rev-parse", "HEAD", cwd=sandbox.work), ["release:skip"])
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert "no release (label release:skip on PR #3)" in out
    assert sandbox.origin_tags() == {}
    assert localhub.releases(REPOSITORY) == []


def test_rerun_is_idempotent(
    sandbox: Sandbox, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    use_hub(monkeypatch, localhub)
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 0
    tags = sandbox.origin_tags()
    localhub.clear_requests()
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert "already promoted" in out
    assert "data verified" not in out  # nothing re-done
    assert sandbox.origin_tags() == tags
    assert len(localhub.releases(REPOSITORY)) == 1
    assert not [r for r in localhub.requests if r.method != "GET"]
    assert len(localhub.requests) == 1  # one look-up of the release, nothing else


def test_partial_failure_is_resumed(
    sandbox: Sandbox, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    use_hub(monkeypatch, localhub)
    refused = {"message": "Resource not accessible by integration"}
    localhub.inject_fault("POST", r"/repos/.*/releases$", 403, body=refused, times=1)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 2
    assert "is pushed but its GitHub release failed" in out
    assert "re-run 'mlgitops promote'" in out
    assert list(sandbox.origin_tags()) == ["demo-model@v0.1.0"]
    assert localhub.releases(REPOSITORY) == []

    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert "already promoted" in out and "release created" in out
    assert [r["tag_name"] for r in localhub.releases(REPOSITORY)] == ["demo-model@v0.1.0"]
    # The resumed release tells the same story as a first-time one.
    assert "policy default (minor); no merged PR" in localhub.releases(REPOSITORY)[0]["body"]
    assert list(sandbox.origin_tags()) == ["demo-model@v0.1.0"]


def test_explicit_version_taken_elsewhere_names_both_commits(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 0
    second = sandbox.change(2)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--version", "v0.1.0")
    assert code == 2
    assert "demo-model@v0.1.0 already exists" in out
    assert first in out and second in out
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": first}


def test_stale_local_tag_is_a_conflict_not_an_overwrite(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    other = sandbox.clone("other")
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 0
    # A tag of the same name, made by hand in another clone on another commit.
    sh("git", "commit", "--quiet", "--allow-empty", "-m", "local only", cwd=other)
    sh("git", "tag", "-a", "-m", "x", "demo-model@v0.1.0", cwd=other)
    local = sh("git", "rev-parse", "HEAD", cwd=other)
    code, out = mlgitops(capsys, monkeypatch, other, "promote")
    assert code == 2
    assert f"'demo-model@v0.1.0': local {local}, origin {first}" in out
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": first}


def _dir_manifest(sandbox: Sandbox) -> list[dict[str, str]]:
    dvcfile = (sandbox.work / "models" / "demo-model.dvc").read_text(encoding="utf-8")
    md5 = dvcfile.split("md5: ")[1].split()[0]
    return json.loads(sandbox.remote_object(md5).read_text(encoding="utf-8"))


def test_remote_missing_one_file_in_a_directory_blocks_the_tag(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    sh("dvc", "push", "--quiet", cwd=sandbox.work)
    entry = _dir_manifest(sandbox)[1]
    sandbox.remote_object(entry["md5"]).unlink()
    # What `dvc status -c` says is why it is not enough: it trusts the .dir manifest.
    status = sh("dvc", "status", "--cloud", cwd=sandbox.work)
    assert "in sync" in status
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 1, out
    assert "does not hold all data" in out
    assert f"models/demo-model/{entry['relpath']}" in out
    assert "no tag was created" in out
    assert sandbox.origin_tags() == {}
    assert sh("git", "tag", "-l", cwd=sandbox.work) == ""


def test_corrupted_remote_object_blocks_the_tag(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    sh("dvc", "push", "--quiet", cwd=sandbox.work)
    entry = _dir_manifest(sandbox)[0]
    obj = sandbox.remote_object(entry["md5"])
    obj.chmod(0o644)
    obj.write_text("tampered\n", encoding="utf-8")
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 1, out
    assert "corrupted" in out and f"models/demo-model/{entry['relpath']}" in out
    assert sandbox.origin_tags() == {}


def test_dry_run_changes_nothing(sandbox: Sandbox, capsys: Capsys, monkeypatch: MP) -> None:
    code, out = mlgitops(
        capsys, monkeypatch, sandbox.work, "promote", "--dry-run", "--bump", "major"
    )
    assert code == 0, out
    assert "would tag" in out and "demo-model@v1.0.0" in out
    assert sandbox.origin_tags() == {}
    assert not any(sandbox.dvc_remote.rglob("*.dir"))


def test_policy_default_bump_and_several_models(
    tmp_path: Path, capsys: Capsys, monkeypatch: MP
) -> None:
    sandbox = Sandbox(tmp_path, models=("alpha", "beta")).create()
    policy = sandbox.work / "governance" / "policy.yaml"
    policy.parent.mkdir()
    policy.write_text(
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n"
        "release:\n  default_bump: patch\n  stages: [staging, production]\n",
        encoding="utf-8",
    )
    sh("git", "add", "-A", cwd=sandbox.work)
    sh("git", "commit", "-q", "-m", "policy", cwd=sandbox.work)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert out.count("data verified") == 1  # one verification for the commit
    code, out = mlgitops(
        capsys, monkeypatch, sandbox.work, "promote", "--model", "beta", "--bump", "minor"
    )
    assert "already promoted" in out
    sandbox.change(2)
    code, out = mlgitops(
        capsys, monkeypatch, sandbox.work, "promote", "--model", "beta", "--bump", "minor"
    )
    assert code == 0, out
    assert set(sandbox.origin_tags()) == {"alpha@v0.0.1", "beta@v0.0.1", "beta@v0.1.0"}
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--model", "gamma")
    assert code == 2 and "unknown model 'gamma'" in out


def _promote_process(cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.Popen(
        [sys.executable, "-m", "mlgitops", "promote", "--bump", "minor"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_concurrent_promotions_from_two_clones(sandbox: Sandbox) -> None:
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    other = sandbox.clone("other")
    second = sandbox.change(2, cwd=other)
    # Same commit twice and two different commits, all racing for the next version.
    third_clone = sandbox.clone("third")
    sh("git", "checkout", "--quiet", "--detach", first, cwd=third_clone)
    processes = [_promote_process(p) for p in (sandbox.work, other, third_clone)]
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    codes = [p.returncode for p in processes]
    tags = sandbox.origin_tags()
    if tags == {"demo-model@v0.1.0": second}:
        # The newer commit won: its ancestor never gets a (higher) version.
        assert codes == [2, 0, 2], outputs
    else:
        assert codes == [0, 0, 0], outputs
        assert tags == {"demo-model@v0.1.0": first, "demo-model@v0.2.0": second}, outputs
    # Every clone agrees with origin: nothing was moved or overwritten.
    for clone in (sandbox.work, other, third_clone):
        sh("git", "fetch", "--quiet", "origin", "refs/tags/*:refs/tags/*", cwd=clone)
        assert sh("git", "tag", "-l", cwd=clone).split() == sorted(tags)


def test_remote_configured_only_in_config_local(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    """Credentials and private remotes live in .dvc/config.local; verification uses them."""
    sh("dvc", "remote", "remove", "store", cwd=sandbox.work)
    sh("dvc", "remote", "add", "--local", "--default", "private", "../dvc-remote", cwd=sandbox.work)
    sh("git", "commit", "--quiet", "-am", "remote moved to config.local", cwd=sandbox.work)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 0, out
    assert "fetched from 'private'" in out
    assert any(sandbox.dvc_remote.rglob("*.dir"))


def test_bad_version_argument_is_a_usage_error(capsys: Capsys) -> None:
    from mlgitops import cli

    assert cli.main(["promote", "--stage", "staging", "--version", "1.2"]) == 2
    assert "invalid version '1.2'" in capsys.readouterr().err
