"""Promotions you can trust: nothing corrupted reaches the remote, a damaged remote can
be repaired, versions follow the commit history, and conflicts name what they saw.

Real git and DVC repositories (tests/integration/test_promotion_support.py); the races
are made deterministic with a git `pre-push` hook that lets another clone promote in
the window between a run's decision and its push.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_promotion_support import Sandbox, mlgitops, sh

pytestmark = pytest.mark.slow  # real git + DVC repositories (tests/README.md)

Capsys = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch


def _manifest(sandbox: Sandbox, work: Path | None = None) -> tuple[str, list[dict[str, str]]]:
    work = work or sandbox.work
    dvcfile = (work / "models" / "demo-model.dvc").read_text(encoding="utf-8")
    md5 = dvcfile.split("md5: ")[1].split()[0]
    cache = work / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    return md5, json.loads(cache.read_text(encoding="utf-8"))


def _flip_byte(path: Path) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


def _remote_objects(sandbox: Sandbox) -> list[Path]:
    return sorted(p for p in sandbox.dvc_remote.rglob("*") if p.is_file())


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


# --- 3. nothing corrupted reaches the remote ---------------------------------------------


def test_corrupted_local_cache_object_blocks_before_any_push(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    _, entries = _manifest(sandbox)
    md5 = entries[1]["md5"]
    _flip_byte(sandbox.work / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:])
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 1, out
    assert "local DVC cache holds corrupted data" in out
    assert f"models/demo-model/{entries[1]['relpath']}" in out
    assert "nothing was pushed" in out
    assert _remote_objects(sandbox) == []  # not one object reached the remote
    assert sandbox.origin_tags() == {}


def test_remote_names_missing_and_corrupted_objects_apart(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    sh("dvc", "push", "--quiet", cwd=sandbox.work)
    _, entries = _manifest(sandbox)
    sandbox.remote_object(entries[0]["md5"]).unlink()
    _flip_byte(sandbox.remote_object(entries[2]["md5"]))
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--no-push")
    assert code == 1, out
    missing, corrupted = (f"models/demo-model/{entries[i]['relpath']}" for i in (0, 2))
    assert f"missing: {missing}" in out
    assert f"corrupted (bytes do not match the hash): {corrupted}" in out
    assert "--repair-remote" in out
    assert sandbox.origin_tags() == {}


def test_repair_remote_reuploads_verified_objects_then_tags(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    sh("dvc", "push", "--quiet", cwd=sandbox.work)
    _, entries = _manifest(sandbox)
    lost, damaged = (sandbox.remote_object(entries[i]["md5"]) for i in (0, 2))
    lost.unlink()
    _flip_byte(damaged)
    # The documented fix of old, `dvc push` from a good cache, does not repair a
    # corrupted object: DVC skips objects the remote already has.
    sh("dvc", "push", "--quiet", cwd=sandbox.work)
    assert _md5(damaged) != entries[2]["md5"]
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 1

    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--repair-remote")
    assert code == 0, out
    assert "re-uploaded 2 verified objects" in out
    assert "data verified" in out and "demo-model@v0.1.0" in out
    assert _md5(lost) == entries[0]["md5"] and _md5(damaged) == entries[2]["md5"]
    assert list(sandbox.origin_tags()) == ["demo-model@v0.1.0"]


def test_repair_refuses_objects_without_a_verified_local_copy(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    sh("dvc", "push", "--quiet", cwd=sandbox.work)
    _, entries = _manifest(sandbox)
    sandbox.remote_object(entries[1]["md5"]).unlink()
    local = sandbox.work / ".dvc" / "cache" / "files" / "md5"
    (local / entries[1]["md5"][:2] / entries[1]["md5"][2:]).unlink()
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--repair-remote")
    assert code == 1, out
    assert "no verified local copy" in out and entries[1]["relpath"] in out
    assert sandbox.origin_tags() == {}


# --- 4. versions follow the commit history ----------------------------------------------


def test_an_older_commit_never_gets_a_newer_version(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    second = sandbox.change(2)
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 0
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": second}
    sh("git", "checkout", "--quiet", "--detach", first, cwd=sandbox.work)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--bump", "major")
    assert code == 2, out
    assert f"{first}: it is an ancestor of {second}" in out
    assert "demo-model@v0.1.0" in out
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": second}


def test_an_unrelated_commit_never_gets_a_version(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    first = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 0
    sh("git", "checkout", "--quiet", "--orphan", "elsewhere", cwd=sandbox.work)
    sh("git", "commit", "--quiet", "-m", "unrelated history", cwd=sandbox.work)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--version", "v5.0.0")
    assert code == 2, out
    assert f"unrelated to) {first}" in out
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": first}


def _install_pre_push_hook(clone: Path, script: str) -> None:
    """A pre-push hook that runs `script` once, before the clone's first push."""
    hook = clone / ".git" / "hooks" / "pre-push"
    marker = clone / ".git" / "raced"
    hook.write_text(
        # Hooks run with GIT_DIR and friends set for THIS clone: clear them for the other.
        f"#!/bin/sh\n[ -e '{marker}' ] && exit 0\ntouch '{marker}'\n"
        "unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX GIT_OBJECT_DIRECTORY\n"
        f"{script}\nexit 0\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)


def _promote_cmd(cwd: Path, *args: str) -> str:
    return f"cd '{cwd}' && '{sys.executable}' -m mlgitops promote {' '.join(args)} >/dev/null 2>&1"


def test_race_lost_to_a_newer_commit_is_refused_after_the_rejected_push(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    """Runner A (older commit) decides v1.0.0; before its push, runner B releases the
    newer commit as v0.1.0. The names differ, so only the remote's fast-forward check
    can stop A; A re-reads the tags and refuses."""
    older = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    newer_clone = sandbox.clone("newer")
    newer = sandbox.change(2, cwd=newer_clone)
    _install_pre_push_hook(sandbox.work, _promote_cmd(newer_clone, "--bump", "minor"))
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--bump", "major")
    assert code == 2, out
    assert "written concurrently" in out
    assert f"it is an ancestor of {newer}" in out
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": newer}
    assert older not in sandbox.origin_tags().values()


def test_race_lost_to_an_older_commit_takes_the_next_version(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    """The other way round: the older commit wins v0.1.0, the newer one then gets v0.2.0."""
    older = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    sh("dvc", "push", "--quiet", cwd=sandbox.work)  # the older clone has no DVC cache
    older_clone = sandbox.clone("older")
    newer = sandbox.change(2)
    _install_pre_push_hook(sandbox.work, _promote_cmd(older_clone, "--bump", "minor"))
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--bump", "minor")
    assert code == 0, out
    assert sandbox.origin_tags() == {"demo-model@v0.1.0": older, "demo-model@v0.2.0": newer}


def _promote_process(cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.Popen(
        [sys.executable, "-m", "mlgitops", "promote", "--bump", "minor"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_two_clones_racing_never_give_an_older_commit_a_higher_version(
    sandbox: Sandbox,
) -> None:
    older = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    newer_clone = sandbox.clone("newer")
    newer = sandbox.change(2, cwd=newer_clone)
    processes = [_promote_process(p) for p in (sandbox.work, newer_clone)]
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    tags = sandbox.origin_tags()
    codes = [p.returncode for p in processes]
    if tags == {"demo-model@v0.1.0": newer}:  # the newer commit won: the older is refused
        assert codes == [2, 0], outputs
        assert "it is an ancestor of" in outputs[0]
    else:  # the older commit won: the newer one took the next version
        assert codes == [0, 0], outputs
        assert tags == {"demo-model@v0.1.0": older, "demo-model@v0.2.0": newer}, outputs


# --- 6. clear errors ---------------------------------------------------------------------


def test_lightweight_tag_of_the_same_name_is_named_with_both_commits(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    other = sandbox.clone("other")
    elsewhere = sandbox.change(2, cwd=other)
    sh("git", "tag", "demo-model@v0.1.0", elsewhere, cwd=other)  # lightweight
    sh("git", "push", "--quiet", "origin", "demo-model@v0.1.0", cwd=other)
    sh("git", "checkout", "--quiet", "--detach", head, cwd=sandbox.work)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote", "--version", "v0.1.0")
    assert code == 2, out
    assert "lightweight" in out
    assert elsewhere in out and head in out
    assert "?" not in out.split("hint:")[0]


def test_latest_version_ref_moved_elsewhere_is_named(
    sandbox: Sandbox, capsys: Capsys, monkeypatch: MP
) -> None:
    """The remote's ref disagrees with the tags (moved by hand): refused, naming it."""
    assert mlgitops(capsys, monkeypatch, sandbox.work, "promote")[0] == 0
    sh("git", "checkout", "--quiet", "--orphan", "stray", cwd=sandbox.work)
    sh("git", "commit", "--quiet", "-m", "stray", cwd=sandbox.work)
    stray = sh("git", "rev-parse", "HEAD", cwd=sandbox.work)
    ref = "refs/mlgitops/latest/demo-model"
    sh("git", "push", "--quiet", "--force", "origin", f"{stray}:{ref}", cwd=sandbox.work)
    sh("git", "checkout", "--quiet", "main", cwd=sandbox.work)
    newer = sandbox.change(2)
    code, out = mlgitops(capsys, monkeypatch, sandbox.work, "promote")
    assert code == 2, out
    assert f"origin's {ref} points at {stray}" in out and newer in out
    assert sorted(sandbox.origin_tags()) == ["demo-model@v0.1.0"]
