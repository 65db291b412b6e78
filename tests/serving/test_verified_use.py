"""`mlgitops predict` and `mlgitops serve` use only a version that verifies.

The version is signed with the session's release key (tests/serving/conftest.py). Each
refusal is checked for what it must leave undone: no output file, no prediction log, no
MLServer settings, no MLServer process, nothing listening on the port.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
from helpers.promoted import MODEL

from mlgitops.cli import main
from mlgitops.errors import EXIT_BAD_INPUT, EXIT_GATE_FAILED, EXIT_OK
from mlgitops.serving.server import free_port

pytestmark = pytest.mark.slow

CHECKS = "signature, provenance-tag, provenance-lock, model-digest"
HINT = "pass --key PUBLIC.pem or --identity ID"


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLGITOPS_VERIFY_KEY", raising=False)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """The folder of a command's input and of everything it may write (a `promoted_copy`
    and its DVC remote are in tmp_path too)."""
    (tmp_path / "run").mkdir()
    return tmp_path / "run"


def rows_csv(repo: Path, path: Path, rows: int = 5) -> Path:
    schema = json.loads((repo / "models" / "schema.json").read_text(encoding="utf-8"))
    test = pd.read_csv(repo / "data" / "prepared" / "test.csv").drop(columns=[schema["target"]])
    test.head(rows).to_csv(path, index=False)
    return path


def predict(repo: Path, run: Path, *flags: str, ref: str = f"{MODEL}#production") -> int:
    """`mlgitops predict` in-process, in `repo`, from and into `run` (logs in run/logs)."""
    return main(
        [
            "predict", "--model", ref, *flags,
            "--input", str(rows_csv(repo, run / "in.csv")),
            "--output", str(run / "out" / "predictions.csv"),
            "--prediction-log", str(run / "logs"),
        ]
    )  # fmt: skip


def nothing_written(run: Path) -> bool:
    return sorted(p.name for p in run.iterdir()) == ["in.csv"]


def remote_object(repo: Path, relative: str) -> Path:
    """The DVC remote's object of the repository's `relative` file."""
    digest = hashlib.md5((repo / relative).read_bytes(), usedforsecurity=False).hexdigest()
    remote = repo.parent / f"{repo.name}-dvc-remote"
    return remote / "files" / "md5" / digest[:2] / digest[2:]


def test_predict_with_the_release_key_verifies_then_writes(
    promoted_repo: Path,
    release_key: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(promoted_repo)
    assert predict(promoted_repo, run, "--key", str(release_key)) == EXIT_OK
    err = capsys.readouterr().err
    assert f"mlgitops: {MODEL}@v1.0.0 (" in err and f"verified: {CHECKS}" in err
    assert err.index("verified:") < err.index("rows predicted by")
    written = pd.read_csv(run / "out" / "predictions.csv")
    assert len(written) == 5 and set(written["model_version"]) == {f"{MODEL}@v1.0.0"}
    assert "WITHOUT verification" not in err


def test_predict_refuses_a_model_with_a_flipped_byte_in_the_remote(
    promoted_copy: Path,
    release_key: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The local DVC cache still holds the right bytes (their md5 is dvc.lock's), so
    only the verification sees that the remote's model is not the signed one."""
    monkeypatch.chdir(promoted_copy)
    model = remote_object(promoted_copy, "models/model.pkl")
    model.chmod(0o644)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    assert predict(promoted_copy, run, "--key", str(release_key)) == EXIT_GATE_FAILED
    err = capsys.readouterr().err
    assert f"{MODEL}@v1.0.0 does not verify: signature: " in err
    assert "model-digest: sha256 differs from the provenance subject" in err
    assert nothing_written(run)  # no output, no prediction log


def test_predict_refuses_a_signature_another_key_does_not_verify(
    promoted_repo: Path,
    stranger_key: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(promoted_repo)
    code = predict(promoted_repo, run, "--key", str(stranger_key), ref=f"{MODEL}@v1.0.0")
    assert code == EXIT_GATE_FAILED
    err = capsys.readouterr().err
    assert f"{MODEL}@v1.0.0 does not verify: signature: " in err
    assert "provenance-tag" not in err.split("does not verify")[1]  # only the signature failed
    assert nothing_written(run)


def test_predict_without_a_key_or_the_flag_is_a_usage_error(
    promoted_repo: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(promoted_repo)
    assert predict(promoted_repo, run) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{MODEL}#production must be verified before it is used" in err
    assert HINT in err and "--allow-unverified" in err
    assert nothing_written(run)


def test_predict_with_a_key_file_that_is_not_there_names_it(
    promoted_repo: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(promoted_repo)
    missing = run / "nowhere.pub"
    assert predict(promoted_repo, run, "--key", str(missing)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(missing) in err and "public key file not found" in err
    assert nothing_written(run)


def test_an_unsigned_version_is_refused_unless_allowed_unverified(
    promoted_copy: Path,
    release_key: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(promoted_copy)
    remote = promoted_copy.parent / f"{promoted_copy.name}-dvc-remote"
    shutil.rmtree(remote / "attestations")  # as a version promoted without a signing key
    assert predict(promoted_copy, run, "--key", str(release_key)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{MODEL}@v1.0.0 has no model.sig in DVC remote 'storage'" in err
    assert nothing_written(run)

    assert predict(promoted_copy, run, "--allow-unverified") == EXIT_OK
    err = capsys.readouterr().err
    assert (
        f"mlgitops: warning: {MODEL}#production is used WITHOUT verification (--allow-unverified)"
    ) in err
    assert "verified:" not in err
    assert len(pd.read_csv(run / "out" / "predictions.csv")) == 5


def _children() -> set[int]:
    """The process ids of this process's children (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found |= {int(pid) for pid in (task / "children").read_text().split()}
    return found


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize(
    ("flags", "code", "words"),
    [
        (("--key", "stranger"), EXIT_GATE_FAILED, f"{MODEL}@v1.0.0 does not verify: signature: "),
        ((), EXIT_BAD_INPUT, f"{MODEL}#production must be verified before it is used"),
    ],
)
def test_serve_refuses_before_mlserver_starts(
    promoted_repo: Path,
    stranger_key: Path,
    run: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: tuple[str, ...],
    code: int,
    words: str,
) -> None:
    monkeypatch.chdir(promoted_repo)
    port = free_port()
    argv = [f if f != "stranger" else str(stranger_key) for f in flags]
    before = _children()
    result = main(
        [
            "serve", "--model", f"{MODEL}#production", *argv,
            "--port", str(port), "--workdir", str(run / "work"),
            "--prediction-log", str(run / "logs"),
        ]
    )  # fmt: skip
    assert result == code
    err = capsys.readouterr().err
    assert words in err and "mlgitops: serving" not in err
    assert _children() <= before  # no MLServer process was started
    assert not _listening(port)
    assert list(run.iterdir()) == []  # no settings, no model files, no log
