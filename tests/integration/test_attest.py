"""Signed, attested versions on a small real repository: promote signs, verify proves.

Key-based signing throughout (offline). One attested repository is built per module and
copied per test; its DVC remote is a relative path, so each copy has its own.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from attest_sandbox import MODEL, Sandbox, make_key_pair, sh
from test_promotion_support import REPOSITORY, mlgitops, use_hub

from localhub.server import LocalHub
from mlgitops.attest.service import attest_release, verify_version
from mlgitops.attest.signing import KeySigning, KeyVerification
from mlgitops.attest.statement import PROVENANCE_FILE, SIGNATURE_FILE
from mlgitops.errors import GateFailed

pytestmark = pytest.mark.slow  # real git + DVC repositories (tests/README.md)

TAG = f"{MODEL}@v1.0.0"


def quiet(message: str) -> None:
    return None


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attested")
    box = Sandbox(root / "box").create()
    box.tag("v1.0.0")
    make_key_pair(root / "box", "other")
    private, _ = make_key_pair(root / "box", "release")
    attest_release(box.work, tag=TAG, signing=KeySigning(private), log=quiet)
    return root / "box"


@pytest.fixture
def box(attested: Path, tmp_path: Path) -> Sandbox:
    shutil.copytree(attested, tmp_path / "box", symlinks=True)
    return Sandbox(tmp_path / "box")


def stored(box: Sandbox, name: str, version: str = "v1.0.0") -> Path:
    return box.remote / "attestations" / MODEL / version / name


def verify(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, box: Sandbox,
           *args: str, key: str = "release") -> tuple[int, str]:  # fmt: skip
    return mlgitops(
        capsys, monkeypatch, box.work, "verify", *args, "--key", str(box.root / f"{key}.pub")
    )


def test_a_promoted_version_verifies(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = verify(capsys, monkeypatch, box, TAG)
    assert code == 0, out
    for check in ("signature", "provenance-tag", "provenance-lock", "model-digest"):
        assert f"ok      {check}" in out
    assert "FAILED" not in out and f"{TAG} (" in out and "verified" in out
    statement = json.loads(stored(box, PROVENANCE_FILE).read_text())
    model_sha = hashlib.sha256((box.work / "models" / "model.bin").read_bytes()).hexdigest()
    assert statement["subject"] == [{"name": "models/model.bin", "digest": {"sha256": model_sha}}]
    assert statement["predicate"]["runDetails"]["builder"]["id"] == "local"


def test_json_outcome(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = verify(capsys, monkeypatch, box, TAG, "--json")
    assert code == 0, out
    outcome = json.loads(out[: out.rindex("}") + 1])
    assert outcome["verified"] is True and outcome["failed"] == []
    assert outcome["commit"] == box.head()


def test_a_flipped_byte_in_the_model_fails_signature_and_digest(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = (box.work / "dvc.lock").read_text()
    md5 = lock.split("path: models/model.bin")[1].split("md5: ")[1].split()[0]
    obj = box.remote / "files" / "md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    data = bytearray(obj.read_bytes())
    data[10] ^= 0x01
    obj.write_bytes(bytes(data))
    code, out = verify(capsys, monkeypatch, box, TAG)
    assert code == 1, out
    assert "FAILED  signature" in out and "models/model.bin" in out
    assert "FAILED  model-digest: sha256 differs from the provenance subject" in out
    assert "failed signature, model-digest" in out


def test_an_edited_provenance_fails_the_signature(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = stored(box, PROVENANCE_FILE)
    statement = json.loads(path.read_text())
    statement["predicate"]["runDetails"]["builder"]["id"] = "https://trusted.example/ci"
    path.write_text(json.dumps(statement))
    code, out = verify(capsys, monkeypatch, box, TAG)
    assert code == 1, out
    assert "FAILED  signature" in out and PROVENANCE_FILE in out
    assert "ok      provenance-tag" in out  # the edit kept the facts: only the signature knows


def test_a_signature_from_another_key_fails(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (SIGNATURE_FILE, PROVENANCE_FILE):
        stored(box, name).unlink()
    attest_release(box.work, tag=TAG, signing=KeySigning(box.root / "other.key"), log=quiet)
    code, out = verify(capsys, monkeypatch, box, TAG)
    assert code == 1, out
    assert "FAILED  signature" in out and "Key mismatch" in out
    code, out = verify(capsys, monkeypatch, box, TAG, key="other")
    assert code == 0, out


def test_a_provenance_from_another_tag_fails_although_its_signature_holds(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (box.work / "README.md").write_text("docs only: same model, same dvc.lock\n")
    sh("git", "add", "README.md", cwd=box.work)
    sh("git", "commit", "--quiet", "-m", "docs", cwd=box.work)
    box.tag("v1.1.0")
    target = stored(box, SIGNATURE_FILE, "v1.1.0").parent
    target.mkdir(parents=True)
    for name in (SIGNATURE_FILE, PROVENANCE_FILE):
        shutil.copy(stored(box, name), target / name)
    code, out = verify(capsys, monkeypatch, box, f"{MODEL}@v1.1.0")
    assert code == 1, out
    assert "ok      signature" in out
    assert f"FAILED  provenance-tag: the provenance is of {TAG}" in out
    assert f"not of {MODEL}@v1.1.0" in out


def test_a_dvc_lock_edited_after_the_tag_fails(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = box.work / "dvc.lock"
    original = lock.read_text()
    md5 = original.split("path: data/raw.csv")[1].split("md5: ")[1].split()[0]
    lock.write_text(original.replace(md5, "f" * 32))
    sh("git", "commit", "--quiet", "-am", "edit the lock", cwd=box.work)
    sh("git", "tag", "--force", "-a", TAG, "-m", "moved", cwd=box.work)  # a moved tag
    code, out = verify(capsys, monkeypatch, box, TAG)
    assert code == 1, out
    assert (
        "FAILED  provenance-lock: provenance vs dvc.lock of demo@v1.0.0: hash differs for "
        "data/raw.csv (train dep)"
    ) in out
    assert "FAILED  signature" in out and "dvc.lock" in out


def test_a_stage_reference_verifies_the_version_in_that_stage(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sh("git", "tag", "-a", f"{MODEL}#staging#1", "-m", "assign", TAG + "^{}", cwd=box.work)
    code, out = verify(capsys, monkeypatch, box, f"{MODEL}#staging")
    assert code == 0, out
    assert f"{TAG} (" in out
    code, out = verify(capsys, monkeypatch, box, f"{MODEL}#production")
    assert code == 2 and "no version of 'demo' is in stage 'production'" in out


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        (f"{MODEL}@v9.9.9", "version v9.9.9 of 'demo' is not registered"),
        ("not a ref", "not a model version reference"),
    ],
)
def test_cannot_verify_is_exit_2(
    box: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ref: str,
    words: str,
) -> None:
    code, out = verify(capsys, monkeypatch, box, ref)
    assert code == 2 and words in out


def test_an_unsigned_version_cannot_be_verified(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(stored(box, SIGNATURE_FILE).parent)
    code, out = verify(capsys, monkeypatch, box, TAG)
    assert code == 2 and f"{TAG} has no model.sig in DVC remote 'storage'" in out
    code, out = mlgitops(capsys, monkeypatch, box.work, "verify", TAG)
    assert code == 2 and "nothing to verify the signature with" in out


def test_published_attestations_are_never_replaced(box: Sandbox) -> None:
    result = attest_release(
        box.work, tag=TAG, signing=KeySigning(box.root / "other.key"), log=quiet
    )
    assert result is not None and result.signed_with == "(existing)"
    outcome = verify_version(box.work, TAG, KeyVerification(box.root / "release.pub"), log=quiet)
    assert outcome.verified, outcome.problems


def test_rebuild_of_a_deterministic_pipeline_is_identical(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = verify(capsys, monkeypatch, box, TAG, "--rebuild")
    assert code == 0, out
    assert "ok      rebuild" in out and "dvc repro --force" in out


def test_a_nondeterministic_stage_is_caught(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "noisy").create(noise=True)
    tag = box.tag("v1.0.0")
    private, public = make_key_pair(box.root, "k")
    with pytest.raises(GateFailed, match=r"NOT identical: models/model\.bin"):
        attest_release(
            box.work, tag=tag, signing=KeySigning(private), require_reproducible=True, log=quiet
        )
    # Signed all the same (the tag exists): verify names the rebuild as the failed check.
    outcome = verify_version(box.work, tag, KeyVerification(public), rebuild=True, log=quiet)
    assert outcome.failed_checks == ["rebuild"]
    assert "models/model.bin (train): md5" in outcome.problems[0].message
    provenance = json.loads(stored(box, PROVENANCE_FILE).read_text())
    (byproduct,) = provenance["predicate"]["runDetails"]["byproducts"]
    assert byproduct["name"] == "rebuild" and byproduct["annotations"]["identical"] is False


def test_promote_signs_and_attaches_to_the_release(
    tmp_path: Path,
    localhub: LocalHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = Sandbox(tmp_path / "promoted").create()
    origin = box.root / "origin.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=box.root)
    sh("git", "remote", "add", "origin", str(origin), cwd=box.work)
    sh("git", "push", "--quiet", "origin", "main", cwd=box.work)
    private, public = make_key_pair(box.root, "k")
    use_hub(monkeypatch, localhub)
    monkeypatch.setenv("MLGITOPS_SIGNING_KEY", str(private))
    code, out = mlgitops(capsys, monkeypatch, box.work, "promote", "--version", "v1.0.0")
    assert code == 0, out
    assert f"{TAG}: signed with key k.key" in out
    assets = localhub.release_assets(REPOSITORY, TAG)
    assert sorted(assets) == [SIGNATURE_FILE, PROVENANCE_FILE]
    assert assets[PROVENANCE_FILE] == stored(box, PROVENANCE_FILE).read_bytes()
    assert assets[SIGNATURE_FILE] == stored(box, SIGNATURE_FILE).read_bytes()
    code, out = mlgitops(capsys, monkeypatch, box.work, "verify", TAG, "--key", str(public))
    assert code == 0, out
    # A re-run (already promoted) neither signs again nor uploads twice.
    code, out = mlgitops(capsys, monkeypatch, box.work, "promote", "--version", "v1.0.0")
    assert code == 0 and "already attested" in out
    assert sorted(localhub.release_assets(REPOSITORY, TAG)) == [SIGNATURE_FILE, PROVENANCE_FILE]


def test_a_consumer_verifies_with_git_dvc_and_the_upstream_model_signing_cli(
    box: Sandbox,
) -> None:
    """The steps of docs/attestation.md, with no mlgitops code: clone at the tag, pull
    the model, lay out the release folder, `model_signing verify key`, sha256 vs subject."""
    import subprocess
    import sys

    consumer = box.root / "consumer"
    sh("git", "clone", "--quiet", str(box.work), str(consumer), cwd=box.root)
    sh("git", "-c", "advice.detachedHead=false", "checkout", "--quiet", TAG, cwd=consumer)
    sh("dvc", "pull", "--quiet", "models/model.bin", cwd=consumer)
    release = box.root / "release"
    for name in ("models/model.bin", "dvc.lock", "params.yaml", "requirements.txt"):
        (release / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(consumer / name, release / name)
    shutil.copy(stored(box, PROVENANCE_FILE), release / PROVENANCE_FILE)
    cli = str(Path(sys.executable).with_name("model_signing"))
    command = [cli, "verify", "key", "--signature", str(stored(box, SIGNATURE_FILE)),
               "--public_key", str(box.root / "release.pub"), str(release)]  # fmt: skip
    verified = subprocess.run(command, capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    statement = json.loads((release / PROVENANCE_FILE).read_text())
    digest = hashlib.sha256((release / "models" / "model.bin").read_bytes()).hexdigest()
    assert statement["subject"][0]["digest"]["sha256"] == digest
    (release / "params.yaml").write_text("train:\n  seed: 8\n")
    refused = subprocess.run(command, capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "params.yaml" in refused.stdout + refused.stderr


def test_the_gate_for_serving_refuses_what_does_not_verify(box: Sandbox) -> None:
    from mlgitops.attest.service import require_verified
    from mlgitops.errors import UsageError

    logged: list[str] = []
    public = KeyVerification(box.root / "release.pub")
    outcome = require_verified(box.work, TAG, public, log=logged.append)
    assert outcome is not None and outcome.verified
    with pytest.raises(UsageError, match="must be verified before it is used"):
        require_verified(box.work, TAG, None, log=logged.append)
    assert require_verified(box.work, TAG, None, allow_unverified=True, log=logged.append) is None
    assert f"warning: {TAG} is used WITHOUT verification (--allow-unverified)" in logged
    other = KeyVerification(box.root / "other.pub")
    with pytest.raises(GateFailed, match=f"{TAG} does not verify: signature: ") as raised:
        require_verified(box.work, TAG, other, log=logged.append)
    assert raised.value.exit_code == 1


def test_policy_requires_reproducible_releases_and_the_notes_say_so(
    tmp_path: Path,
    localhub: LocalHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = Sandbox(tmp_path / "governed").create()
    policy = box.work / "governance" / "policy.yaml"
    policy.parent.mkdir()
    policy.write_text(
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n"
        "release:\n  require_reproducible: true\n",
        encoding="utf-8",
    )
    box.commit("policy")
    origin = box.root / "origin.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=box.root)
    sh("git", "remote", "add", "origin", str(origin), cwd=box.work)
    sh("git", "push", "--quiet", "origin", "main", cwd=box.work)
    private, _ = make_key_pair(box.root, "k")
    use_hub(monkeypatch, localhub)
    code, out = mlgitops(
        capsys, monkeypatch, box.work, "promote", "--version", "v1.0.0", "--signing-key",
        str(private),
    )  # fmt: skip
    assert code == 0, out
    body = localhub.releases(REPOSITORY)[0]["body"]
    assert "## Reproducibility" in body
    assert "identical, byte for byte" in body and "Rebuilt from scratch in " in body
    provenance = json.loads(stored(box, PROVENANCE_FILE).read_text())
    (byproduct,) = provenance["predicate"]["runDetails"]["byproducts"]
    assert byproduct["annotations"]["identical"] is True


def test_a_half_published_attestation_is_not_overwritten(box: Sandbox) -> None:
    stored(box, PROVENANCE_FILE).unlink()
    before = stored(box, SIGNATURE_FILE).read_bytes()
    with pytest.raises(GateFailed, match=r"already holds a different model\.sig"):
        attest_release(box.work, tag=TAG, signing=KeySigning(box.root / "other.key"), log=quiet)
    assert stored(box, SIGNATURE_FILE).read_bytes() == before


def test_a_directory_model_is_signed_file_by_file(tmp_path: Path) -> None:
    """A `dvc add`ed model directory (no pipeline): every file is a provenance subject."""
    work, remote = tmp_path / "work", tmp_path / "remote"
    work.mkdir()
    remote.mkdir()
    sh("git", "init", "--quiet", "--initial-branch=main", cwd=work)
    sh("dvc", "init", "--quiet", cwd=work)
    sh("dvc", "remote", "add", "--default", "storage", str(remote), cwd=work)
    (work / "models" / "bundle" / "weights").mkdir(parents=True)
    (work / "models" / "bundle" / "config.json").write_text('{"layers": 2}\n')
    (work / "models" / "bundle" / "weights" / "w.bin").write_bytes(bytes(range(256)))
    sh("dvc", "add", "--quiet", "models/bundle", cwd=work)
    (work / "dvc.yaml").write_text("artifacts:\n  bundle:\n    path: models/bundle\n")
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "--quiet", "-m", "bundle", cwd=work)
    sh("dvc", "push", "--quiet", cwd=work)
    sh("git", "tag", "-a", "bundle@v1.0.0", "-m", "register", cwd=work)
    private, public = make_key_pair(tmp_path, "k")
    attest_release(work, tag="bundle@v1.0.0", signing=KeySigning(private), log=quiet)
    statement = json.loads(
        (remote / "attestations" / "bundle" / "v1.0.0" / PROVENANCE_FILE).read_text()
    )
    assert [s["name"] for s in statement["subject"]] == [
        "models/bundle/config.json",
        "models/bundle/weights/w.bin",
    ]
    outcome = verify_version(work, "bundle@v1.0.0", KeyVerification(public), log=quiet)
    assert outcome.verified, outcome.problems
