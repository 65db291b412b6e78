"""A baked repository's version signs, verifies, and rebuilds byte for byte.

The template's pipeline is deterministic by construction (seeded splits and models,
`n_jobs=1`, joblib pickles of the same objects), so `verify --rebuild` must give the same
md5 for every output: the model, the metrics, the plots and the model card.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers.baking import trained_copy
from helpers.signing_keys import make_key_pair

from mlgitops import cli
from mlgitops.attest.service import attest_release
from mlgitops.attest.signing import KeySigning


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.slow
def test_baked_version_signs_verifies_and_rebuilds_identically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = trained_copy(tmp_path)
    model = next(iter(yaml.safe_load((repo / "dvc.yaml").read_text())["artifacts"]))
    tag = f"{model}@v1.0.0"
    git(repo, "tag", "-a", tag, "-m", "register v1.0.0")
    private, public = make_key_pair(tmp_path, "release")
    result = attest_release(repo, tag=tag, signing=KeySigning(private), log=lambda _: None)
    assert result is not None
    monkeypatch.chdir(repo)
    capsys.readouterr()
    code = cli.main(["verify", tag, "--key", str(public), "--rebuild", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    outcome = json.loads(out)
    assert outcome["passed"] == [
        "signature", "provenance-tag", "provenance-lock", "model-digest", "rebuild"
    ]  # fmt: skip
    statement = json.loads(
        (tmp_path / f"{repo.name}-dvc-remote" / "attestations" / model / "v1.0.0"
         / "provenance.intoto.json").read_text()
    )  # fmt: skip
    dependencies = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    names = {d.get("name") for d in dependencies}
    assert {"dvc.lock", "params.yaml", "requirements.txt", "data/raw/data.csv"} <= names
    assert "scikit-learn" in names  # each locked requirement
    stages = statement["predicate"]["buildDefinition"]["externalParameters"]["pipeline"]["stages"]
    assert set(stages) == {"prepare", "train", "evaluate", "model_card"}
