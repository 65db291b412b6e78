"""How `mlgitops promote` decides to sign: a key, else keyless with the Actions OIDC
credential, else unsigned, said in the log and, in Actions, as a warning annotation.

A key that cannot be used (no model-signing library to use it with) is refused before
anything is tagged. "Not installed" is the import system's own answer for a module
entry of None in sys.modules, what the `train` profile of the actions gives.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from attest_sandbox import MODEL, Sandbox, make_key_pair, sh
from test_promotion_support import REPOSITORY, mlgitops, use_hub

from localhub.server import LocalHub
from mlgitops.attest.signing import choose_signing, unsigned_reason
from mlgitops.errors import InputError, UsageError

TAG = f"{MODEL}@v1.0.0"
OIDC = {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}  # fmt: skip


def pushed_sandbox(root: Path) -> Sandbox:
    box = Sandbox(root).create()
    origin = box.root / "origin.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=box.root)
    sh("git", "remote", "add", "origin", str(origin), cwd=box.work)
    sh("git", "push", "--quiet", "origin", "main", cwd=box.work)
    return box


def without_model_signing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "model_signing", None)


@pytest.mark.slow
def test_in_actions_without_key_or_oidc_the_release_is_unsigned_with_a_warning(
    tmp_path: Path,
    localhub: LocalHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = pushed_sandbox(tmp_path / "box")
    use_hub(monkeypatch, localhub)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for name in (*OIDC, "MLGITOPS_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, out = mlgitops(capsys, monkeypatch, box.work, "promote", "--version", "v1.0.0")
    assert code == 0, out  # the documented policy: released, unsigned, and said so
    reason = "no signing key (--signing-key or MLGITOPS_SIGNING_KEY) and no Actions OIDC"
    assert f"{TAG}: not signed: {reason}" in out
    assert f"::warning title=Unsigned release::released unsigned: {reason}" in out
    assert localhub.release_assets(REPOSITORY, TAG) == {}
    assert not (box.remote / "attestations").exists()


@pytest.mark.slow
def test_outside_actions_no_annotation_is_printed(
    tmp_path: Path,
    localhub: LocalHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = pushed_sandbox(tmp_path / "box")
    use_hub(monkeypatch, localhub)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("MLGITOPS_SIGNING_KEY", raising=False)
    code, out = mlgitops(capsys, monkeypatch, box.work, "promote", "--version", "v1.0.0")
    assert code == 0, out
    assert f"{TAG}: not signed" in out and "::warning" not in out


@pytest.mark.slow
def test_a_key_without_the_signing_library_is_refused_before_tagging(
    tmp_path: Path,
    localhub: LocalHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = pushed_sandbox(tmp_path / "box")
    private, _ = make_key_pair(box.root, "k")
    use_hub(monkeypatch, localhub)
    without_model_signing(monkeypatch)
    code, out = mlgitops(
        capsys, monkeypatch, box.work, "promote", "--version", "v1.0.0",
        "--signing-key", str(private),
    )  # fmt: skip
    assert code == 2, out
    assert "a signing key is given but the model-signing library is not installed" in out
    assert "`profile: attest`" in out
    assert sh("git", "tag", "--list", cwd=box.work) == ""


def test_oidc_without_the_signing_library_names_the_missing_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_model_signing(monkeypatch)
    assert choose_signing(None, OIDC) is None
    assert "actions/setup with `profile: attest`" in unsigned_reason(OIDC)
    assert "id-token: write" in unsigned_reason({})


def test_a_missing_key_file_is_named_before_the_library_is_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_model_signing(monkeypatch)
    absent = tmp_path / "absent.key"
    with pytest.raises(InputError, match="signing key file not found") as raised:
        choose_signing(str(absent), {})
    assert str(absent) in str(raised.value)
    (present, _) = make_key_pair(tmp_path, "k")
    with pytest.raises(UsageError, match="model-signing library is not installed"):
        choose_signing(None, {"MLGITOPS_SIGNING_KEY": str(present)})
