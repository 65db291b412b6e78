"""fetch_model_version on a real baked repository: DVC cache, DVC remote, dvc.lock md5."""

from __future__ import annotations

import hashlib
import shutil
import stat
from pathlib import Path

import pytest
from helpers.promoted import MODEL

from mlgitops import proc
from mlgitops.errors import GateFailed, InputError, ToolError
from mlgitops.serving.fetch import fetch_model_version, resolve_reference

pytestmark = pytest.mark.slow


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_a_version_tag_fetches_the_model_and_schema_of_its_commit(
    promoted_repo: Path, tmp_path: Path
) -> None:
    fetched = fetch_model_version(promoted_repo, f"{MODEL}@v1.0.0", tmp_path / "out")
    head = proc.git("rev-parse", "HEAD", cwd=promoted_repo)
    assert (fetched.model, fetched.version, fetched.tag) == (MODEL, "v1.0.0", f"{MODEL}@v1.0.0")
    assert fetched.commit == head
    assert fetched.path == tmp_path / "out" / "model.pkl"
    assert fetched.md5 == md5(promoted_repo / "models" / "model.pkl") == md5(fetched.path)
    assert fetched.schema is not None and fetched.schema_path is not None
    assert fetched.schema_path.read_bytes() == (promoted_repo / "models/schema.json").read_bytes()
    assert fetched.schema.columns[0].name == "mean radius"
    assert len(fetched.schema.features) == 30
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.pkl", "schema.json"]


def test_a_stage_reference_is_the_version_the_stage_holds(promoted_repo: Path) -> None:
    resolved = resolve_reference(promoted_repo, f"{MODEL}#production")
    assert (resolved.version, resolved.tag) == ("v1.0.0", f"{MODEL}@v1.0.0")
    assert resolve_reference(promoted_repo, f"{MODEL}#production#1") == resolved


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (f"{MODEL}@v9.9.9", "is not registered"),
        (f"{MODEL}#staging", "no version of"),
        ("HEAD", "not a model version reference"),
        (f"{MODEL}#production!#2", "not a model version reference"),
    ],
)
def test_unknown_references_are_input_errors(
    promoted_repo: Path, tmp_path: Path, reference: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        fetch_model_version(promoted_repo, reference, tmp_path)
    assert list(tmp_path.iterdir()) == []


def _clear_cache(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")


def _remote_object(repo: Path, digest: str) -> Path:
    return repo.parent / f"{repo.name}-dvc-remote" / "files" / "md5" / digest[:2] / digest[2:]


def test_without_a_local_cache_the_model_comes_from_the_remote(
    promoted_copy: Path, tmp_path: Path
) -> None:
    expected = md5(promoted_copy / "models" / "model.pkl")
    _clear_cache(promoted_copy)
    fetched = fetch_model_version(promoted_copy, f"{MODEL}#production", tmp_path)
    assert md5(fetched.path) == expected == fetched.md5


def test_bytes_that_differ_from_dvc_lock_are_refused_and_not_left(
    promoted_copy: Path, tmp_path: Path
) -> None:
    digest = md5(promoted_copy / "models" / "model.pkl")
    _clear_cache(promoted_copy)
    tampered = _remote_object(promoted_copy, digest)
    tampered.chmod(tampered.stat().st_mode | stat.S_IWUSR)
    tampered.write_bytes(b"not the model")
    with pytest.raises(GateFailed, match=f"dvc.lock .* records {digest}"):
        fetch_model_version(promoted_copy, f"{MODEL}@v1.0.0", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_model_missing_from_cache_and_remote_is_a_tool_error(
    promoted_copy: Path, tmp_path: Path
) -> None:
    digest = md5(promoted_copy / "models" / "model.pkl")
    _clear_cache(promoted_copy)
    _remote_object(promoted_copy, digest).unlink()
    with pytest.raises(ToolError, match="neither the DVC cache nor the DVC remote"):
        fetch_model_version(promoted_copy, f"{MODEL}@v1.0.0", tmp_path)


def test_a_deregistered_version_is_refused(promoted_copy: Path, tmp_path: Path) -> None:
    proc.git("tag", "-a", f"{MODEL}@v1.0.0!", "-m", "Deregister", cwd=promoted_copy)
    with pytest.raises(InputError, match="is deregistered"):
        fetch_model_version(promoted_copy, f"{MODEL}@v1.0.0", tmp_path)


def test_bytes_in_the_local_cache_that_differ_from_dvc_lock_are_refused(
    promoted_copy: Path, tmp_path: Path
) -> None:
    digest = md5(promoted_copy / "models" / "model.pkl")
    cached = promoted_copy / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    cached.chmod(cached.stat().st_mode | stat.S_IWUSR)
    cached.write_bytes(b"not the model either")
    with pytest.raises(GateFailed, match=f"records {digest}"):
        fetch_model_version(promoted_copy, f"{MODEL}@v1.0.0", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
