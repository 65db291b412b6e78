"""End to end on a baked repository: train, push, promote, release, stage, gto show."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from helpers.baking import bake_and_init
from test_promotion_support import REPOSITORY, merged_pull, mlgitops, sh, use_hub

from localhub.server import LocalHub
from mlgitops.core.markdown.escape import cell


@pytest.mark.slow
def test_baked_repository_promotion(
    tmp_path: Path,
    localhub: LocalHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = bake_and_init(tmp_path)
    origin = tmp_path / "origin.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(origin), cwd=repo)
    sh("git", "push", "--quiet", "origin", "main", cwd=repo)
    head = sh("git", "rev-parse", "HEAD", cwd=repo)
    model = next(iter(yaml.safe_load((repo / "dvc.yaml").read_text())["artifacts"]))
    use_hub(monkeypatch, localhub)
    merged_pull(localhub, 1, head, ["release:major"])

    code, out = mlgitops(capsys, monkeypatch, repo, "promote")
    assert code == 0, out
    tag = f"{model}@v1.0.0"
    assert tag in out and "data verified" in out
    assert sh("git", "rev-parse", f"{tag}^{{commit}}", cwd=origin) == head

    release = localhub.releases(REPOSITORY)[0]
    body = release["body"]
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    for name in metrics:
        assert f"| {cell(name)} |" in body
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    model_md5 = next(
        out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if out["path"] == "models/model.pkl"
    )
    assert f"`{model_md5}`" in body
    assert "## Model Details" in body and "#1 Change 1" in body

    for stage in ("staging", "production"):
        code, out = mlgitops(capsys, monkeypatch, repo, "promote", "--stage", stage)
        assert code == 0, out
    gto = Path(sys.executable).with_name("gto")
    if gto.exists():
        shown = json.loads(sh(str(gto), "show", "--json", cwd=repo))
        assert shown[model]["version"] == "v1.0.0"
        assert shown[model]["stage"] == {"staging": "v1.0.0", "production": "v1.0.0"}
