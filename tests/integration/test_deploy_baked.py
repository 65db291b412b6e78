"""End to end on a baked repository: the deployment gate with a real MLServer process.

Staging is deployed without the gate (the generated policy gates production only);
production is refused when the load test misses the latency objective, with nothing
assigned, then deployed when it meets it, and the gate's figures reach the deploy PR.
The rendered manifests are validated by our check and by the upstream check-jsonschema
against the vendored CRD schemas.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.baking import trained_copy
from test_promotion_support import REPOSITORY, mlgitops, sh, use_hub

from localhub.server import LocalHub
from mlgitops.deploy.crds import crd_index

pytest.importorskip("mlserver")
CRDS = Path(__file__).resolve().parents[2] / "scripts" / "mlgitops" / "schemas" / "crds"


def _set_gate(repo: Path, objective_ms: float) -> None:
    policy = repo / "governance" / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    text = re.sub(r"latency_p99_ms: .*", f"latency_p99_ms: {objective_ms}", text)
    text = re.sub(
        r"load_test: .*", "load_test: {requests: 40, concurrency: 2, max_seconds: 60}", text
    )
    policy.write_text(text, encoding="utf-8")
    sh("git", "commit", "--quiet", "-am", f"gate objective {objective_ms} ms", cwd=repo)
    sh("git", "push", "--quiet", "origin", "HEAD:main", cwd=repo)


@pytest.mark.slow
def test_gate_decides_production_on_a_served_model(
    tmp_path: Path,
    localhub: LocalHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = trained_copy(tmp_path)
    origin = tmp_path / "origin.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(origin), cwd=repo)
    sh("git", "push", "--quiet", "origin", "HEAD:main", cwd=repo)
    model = next(iter(yaml.safe_load((repo / "dvc.yaml").read_text())["artifacts"]))
    use_hub(monkeypatch, localhub)
    code, out = mlgitops(capsys, monkeypatch, repo, "promote", "--bump", "minor")
    assert code == 0, out

    code, out = mlgitops(
        capsys, monkeypatch, repo, "deploy", "--stage", "staging", "--version", "v0.1.0"
    )
    assert code == 0, out
    assert "gate:" not in out

    _set_gate(repo, 0.001)  # no real server answers in a microsecond
    code, out = mlgitops(
        capsys, monkeypatch, repo, "deploy", "--stage", "production", "--version", "v0.1.0"
    )
    assert code == 1, out
    assert "deployment gate failed" in out and "over the objective of 0.001 ms" in out
    assert not [t for t in sh("git", "tag", cwd=origin).split() if "#production" in t]
    assert [p["head"]["ref"] for p in localhub.pulls(REPOSITORY)] == [
        f"mlgitops/deploy/{model}-staging"
    ]

    _set_gate(repo, 5000)
    code, out = mlgitops(
        capsys, monkeypatch, repo, "deploy", "--stage", "production", "--version", "v0.1.0"
    )
    assert code == 0, out
    assert "gate: passed" in out
    assert f"{model}#production#2" in sh("git", "tag", cwd=origin).split()
    pull = next(p for p in localhub.pulls(REPOSITORY) if p["head"]["ref"].endswith("production"))
    body = pull["body"]
    assert "**passed** (MLServer on 127.0.0.1)" in body
    assert "answered by v0.1.0" in body
    assert "40/40 one-row requests, 2 concurrent" in body
    found = re.search(r"\| ([\d.]+) ms / ([\d.]+) ms", body)
    assert found is not None
    p50, p99 = float(found[1]), float(found[2])
    assert 0 < p50 <= p99 <= 5000
    # The release notes of the version say it too, once per stage.
    (release,) = localhub.releases(REPOSITORY)
    assert release["body"].count("### Deployment gate: `production`") == 1
    assert found[0] in release["body"] and pull["html_url"] in release["body"]

    # The manifests of the deploy branch, checked by us and by check-jsonschema.
    branch = f"mlgitops/deploy/{model}-production"
    sh("git", "fetch", "--quiet", "origin", branch, cwd=repo)
    sh("git", "checkout", "--quiet", "FETCH_HEAD", cwd=repo)
    code, out = mlgitops(capsys, monkeypatch, repo, "deploy", "--check")
    assert code == 0, out
    schema_of = {kind: entry["schema"] for (_, kind), entry in crd_index().items()}
    checker = Path(sys.executable).with_name("check-jsonschema")
    for path in sorted((repo / "deploy").rglob("*.yaml")):
        kind = yaml.safe_load(path.read_text(encoding="utf-8"))["kind"]
        result = subprocess.run(
            [str(checker), "--schemafile", str(CRDS / schema_of[kind]), str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"
    isvc = yaml.safe_load((repo / "deploy" / "production" / f"{model}.yaml").read_text())
    uri = isvc["spec"]["predictor"]["model"]["storageUri"]
    published = Path(uri.removeprefix("file://")) / "model-settings.json"
    assert json.loads(published.read_text())["parameters"]["version"] == "v0.1.0"
    assert isvc["spec"]["predictor"].get("canaryTrafficPercent") is None  # first version
