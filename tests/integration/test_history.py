"""`mlgitops history` from tags alone: several models, markdown and JSON, --fetch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_promotion_support import dvc_yaml, mlgitops, sh

Capsys = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch


def _tag(cwd: Path, name: str, rev: str = "HEAD") -> None:
    sh("git", "tag", "-a", "-m", name, name, rev, cwd=cwd)


def _commit(work: Path, n: int) -> str:
    (work / "params.yaml").write_text(f"seed: {n}\n", encoding="utf-8")
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "--quiet", "-m", f"change {n}", cwd=work)
    return sh("git", "rev-parse", "HEAD", cwd=work)


def _repo(tmp_path: Path, *models: str) -> tuple[Path, Path]:
    """History reads only git: a repository with dvc.yaml artifacts and no DVC data."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    sh("git", "clone", "--quiet", str(origin), str(work), cwd=tmp_path)
    (work / "dvc.yaml").write_text(dvc_yaml(models), encoding="utf-8")
    _commit(work, 1)
    sh("git", "push", "--quiet", "origin", "main", cwd=work)
    return origin, work


def test_history_of_several_models(tmp_path: Path, capsys: Capsys, monkeypatch: MP) -> None:
    _, work = _repo(tmp_path, "alpha", "beta")
    first = sh("git", "rev-parse", "HEAD", cwd=work)
    # Tags as any GTO-compatible tool would write them, plus unrelated ones.
    for name in ("alpha@v1.0.0", "beta@v0.1.0", "alpha#staging#1", "v1.0.0", "retired@v3.0.0"):
        _tag(work, name)
    sh("git", "tag", "alpha@v0.9.0", cwd=work)  # lightweight: ignored, as gto ignores it
    second = _commit(work, 2)
    for name in ("alpha@v1.1.0", "alpha#staging#2", "alpha#production#3"):
        _tag(work, name)

    code, out = mlgitops(capsys, monkeypatch, work, "history", "--format", "json")
    assert code == 0, out
    models = {m["model"]: m for m in json.loads(out)["models"]}
    assert list(models) == ["alpha", "beta", "retired"]  # dvc.yaml order, then tags
    alpha = models["alpha"]
    assert alpha["latest"] == "v1.1.0"
    assert [v["version"] for v in alpha["versions"]] == ["v1.1.0", "v1.0.0"]
    assert alpha["versions"][0]["commit"] == second
    assert alpha["versions"][0]["stages"] == ["staging", "production"]
    assert alpha["stages"] == {
        "staging": {"version": "v1.1.0", "commit": second},
        "production": {"version": "v1.1.0", "commit": second},
    }
    assert [e["tag"] for e in alpha["events"]] == [
        "alpha#production#3",
        "alpha#staging#2",
        "alpha#staging#1",
    ]
    assert models["beta"]["versions"][0]["commit"] == first

    code, out = mlgitops(capsys, monkeypatch, work, "history", "--model", "beta")
    assert code == 0
    assert out == mlgitops(capsys, monkeypatch, work, "history", "beta")[1]
    assert out.startswith("## beta\n")
    assert f"| v0.1.0 | `{first[:12]}` |" in out
    assert "alpha" not in out


def test_history_fetches_tags_from_origin(tmp_path: Path, capsys: Capsys, monkeypatch: MP) -> None:
    origin, work = _repo(tmp_path, "demo-model")
    sh("git", "clone", "--quiet", str(origin), "other", cwd=tmp_path)
    other = tmp_path / "other"
    _tag(other, "demo-model@v2.0.0")
    sh("git", "push", "--quiet", "origin", "demo-model@v2.0.0", cwd=other)
    code, out = mlgitops(capsys, monkeypatch, work, "history")
    assert "No versions yet." in out
    output = tmp_path / "history.md"
    code, out = mlgitops(capsys, monkeypatch, work, "history", "--fetch", "--output", str(output))
    assert code == 0 and out == ""
    assert "| v2.0.0 |" in output.read_text(encoding="utf-8")
