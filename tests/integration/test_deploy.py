"""`mlgitops deploy` on real git + DVC repositories, with the local GitHub-like server.

The model is one `dvc add`ed file (as a scikit-learn pickle is); the DVC remote is a
local folder, so `storageUri` is a file:// URI here. The gate is switched off by the
policy in these tests (gate_stages: []), or required on a model it cannot serve, to show
that a gate that cannot run assigns nothing and that it verifies a version's signature
before serving it; tests/integration/test_deploy_baked.py runs it on a baked repository
with MLServer.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from helpers.signing_keys import make_key_pair
from test_promotion_support import REPOSITORY, mlgitops, sh, use_hub

from localhub.server import LocalHub
from mlgitops.deploy.crds import manifest_problems

pytestmark = pytest.mark.slow  # real git + DVC repositories (tests/README.md)

Capsys = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch
MODEL = "demo-model"
ISVC = f"deploy/{{stage}}/{MODEL}.yaml"

POLICY = """\
version: 1
metrics:
  accuracy: {higher_is_better: true}
release:
  stages: [staging, production]
deploy:
  namespace: ml
  canary_traffic_percent: 10
  canary_stages: [production]
  gate_stages: [GATED]
  resources:
    requests: {cpu: 500m, memory: 1Gi}
    limits: {cpu: "1", memory: 1Gi}
"""


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.origin = root / "origin.git"
        self.work = root / "work"
        self.remote = root / "dvc-remote"

    def create(self, gated: str) -> Repo:
        sh(
            "git",
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            str(self.origin),
            cwd=self.root,
        )
        sh("git", "clone", "--quiet", str(self.origin), "work", cwd=self.root)
        self.remote.mkdir()
        sh("dvc", "init", "--quiet", cwd=self.work)
        sh("dvc", "remote", "add", "--default", "store", "../dvc-remote", cwd=self.work)
        (self.work / "dvc.yaml").write_text(
            f"artifacts:\n  {MODEL}:\n    path: models/model.pkl\n    type: model\n",
            encoding="utf-8",
        )
        (self.work / "governance").mkdir()
        (self.work / "governance" / "policy.yaml").write_text(
            POLICY.replace("GATED", gated), encoding="utf-8"
        )
        (self.work / ".gitignore").write_text("", encoding="utf-8")
        return self

    def train(self, n: int) -> str:
        """Commit model bytes that depend on `n`, push them, promote; returns the md5."""
        (self.work / "models").mkdir(exist_ok=True)
        content = f"pickled model {n}\n".encode()
        (self.work / "models" / "model.pkl").write_bytes(content)
        sh("dvc", "add", "--quiet", "models/model.pkl", cwd=self.work)
        sh("git", "add", "-A", cwd=self.work)
        sh("git", "commit", "--quiet", "-m", f"model {n}", cwd=self.work)
        sh("git", "push", "--quiet", "origin", "HEAD:main", cwd=self.work)
        sh("mlgitops", "promote", "--bump", "minor", cwd=self.work)
        return hashlib.md5(content).hexdigest()

    def origin_file(self, ref: str, path: str) -> str:
        return sh("git", "show", f"{ref}:{path}", cwd=self.origin)

    def stage_tags(self) -> list[str]:
        return sorted(t for t in sh("git", "tag", cwd=self.origin).split() if "#" in t)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two promoted versions (v0.1.0, v0.2.0), per policy variant (gate on/off)."""
    made = {}
    for gated in ("production", ""):
        root = tmp_path_factory.mktemp(f"deploy-{gated or 'ungated'}")
        repo = Repo(root).create(gated)
        repo.train(1)
        repo.train(2)
        made[gated] = root
    return made


def _copy(released: dict[str, Path], gated: str, tmp_path: Path) -> Repo:
    for name in ("origin.git", "work", "dvc-remote"):
        shutil.copytree(released[gated] / name, tmp_path / name, symlinks=True)
    repo = Repo(tmp_path)
    sh("git", "remote", "set-url", "origin", str(repo.origin), cwd=repo.work)
    return repo


@pytest.fixture
def ungated(released: dict[str, Path], tmp_path: Path, monkeypatch: MP) -> Repo:
    # Without a token there is no GitHub API, but Argo CD and Flux need a clone URL.
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    return _copy(released, "", tmp_path)


@pytest.fixture
def gated(released: dict[str, Path], tmp_path: Path, monkeypatch: MP) -> Repo:
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    return _copy(released, "production", tmp_path)


def _isvc(text: str) -> dict:
    document = yaml.safe_load(text)
    assert list(manifest_problems(document)) == []
    return document


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_staging_deploy_publishes_renders_tags_and_opens_the_pr(
    ungated: Repo, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    use_hub(monkeypatch, localhub)
    code, out = mlgitops(
        capsys, monkeypatch, ungated.work, "deploy", "--stage", "staging", "--version", "v0.1.0"
    )
    assert code == 0, out
    assert ungated.stage_tags() == [f"{MODEL}#staging#1"]

    # The published copy: the exact object v0.1.0 pins, and MLServer's settings.
    folder = ungated.remote / "models" / MODEL / "v0.1.0"
    lock = yaml.safe_load(
        sh("git", "show", f"{MODEL}@v0.1.0:models/model.pkl.dvc", cwd=ungated.work)
    )
    assert _md5(folder / "model.joblib") == lock["outs"][0]["md5"]
    settings = json.loads((folder / "model-settings.json").read_text(encoding="utf-8"))
    assert settings["implementation"] == "mlserver_sklearn.SKLearnModel"
    assert settings["parameters"] == {
        "uri": "./model.joblib", "version": "v0.1.0", "content_type": "pd",
    }  # fmt: skip

    # The manifests, on the deploy branch (and in the working tree), schema-valid.
    branch = f"mlgitops/deploy/{MODEL}-staging"
    isvc = _isvc(ungated.origin_file(branch, ISVC.format(stage="staging")))
    assert isvc["metadata"]["name"] == f"{MODEL}-staging"
    assert isvc["metadata"]["namespace"] == "ml"
    predictor = isvc["spec"]["predictor"]
    assert "canaryTrafficPercent" not in predictor
    assert (
        predictor["model"]["storageUri"]
        == f"file://{ungated.remote.resolve()}/models/{MODEL}/v0.1.0/"
    )
    assert predictor["model"]["modelFormat"]["name"] == "sklearn"
    assert predictor["model"]["protocolVersion"] == "v2"
    assert predictor["model"]["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert isvc["metadata"]["annotations"]["mlgitops/md5"] == lock["outs"][0]["md5"]
    assert not (ungated.work / "deploy").exists()  # the PR carries the change
    for path in ("deploy/argocd/staging.yaml", "deploy/argocd/production.yaml",
                 "deploy/flux/source.yaml", "deploy/flux/production.yaml"):  # fmt: skip
        document = yaml.safe_load(ungated.origin_file(branch, path))
        assert list(manifest_problems(document)) == [], path
    app = yaml.safe_load(ungated.origin_file(branch, "deploy/argocd/production.yaml"))
    assert app["spec"]["source"]["repoURL"] == f"{localhub.server_url}/{REPOSITORY}.git"
    assert app["spec"]["source"]["path"] == "deploy/production"
    # The branch is one commit on main; main itself is untouched.
    assert sh("git", "rev-parse", f"{branch}~1", cwd=ungated.origin) == sh(
        "git", "rev-parse", "main", cwd=ungated.origin
    )

    pulls = localhub.pulls(REPOSITORY)
    assert len(pulls) == 1
    assert pulls[0]["head"]["ref"] == branch and pulls[0]["base"]["ref"] == "main"
    assert pulls[0]["title"] == f"Deploy {MODEL} staging: v0.1.0"
    assert f"`{MODEL}@v0.1.0`" in pulls[0]["body"]
    assert "not required for this stage" in pulls[0]["body"]

    # Again: nothing new is tagged or published, and the same PR is updated, not a second.
    code, out = mlgitops(
        capsys, monkeypatch, ungated.work, "deploy", "--stage", "staging", "--version", "v0.1.0"
    )
    assert code == 0, out
    assert "already published" in out
    assert ungated.stage_tags() == [f"{MODEL}#staging#1"]
    assert len(localhub.pulls(REPOSITORY)) == 1


def test_canary_full_rollout_and_rollback(
    ungated: Repo, localhub: LocalHub, capsys: Capsys, monkeypatch: MP
) -> None:
    use_hub(monkeypatch, localhub)
    work, path = ungated.work, ISVC.format(stage="production")

    def deploy(*args: str) -> dict:
        code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--stage", "production", *args)
        assert code == 0, out
        # What the next deploy compares with is what main holds: merge the PR.
        branch = f"mlgitops/deploy/{MODEL}-production"
        sh("git", "fetch", "--quiet", "origin", branch, cwd=work)
        sh("git", "merge", "--quiet", "--ff-only", "FETCH_HEAD", cwd=work)
        sh("git", "push", "--quiet", "origin", "HEAD:main", cwd=work)
        return _isvc((work / path).read_text(encoding="utf-8"))

    for version in ("v0.1.0", "v0.2.0"):
        code, out = mlgitops(
            capsys, monkeypatch, work, "promote", "--stage", "staging", "--version", version
        )
        assert code == 0, out
    first = deploy("--version", "v0.1.0")
    assert "canaryTrafficPercent" not in first["spec"]["predictor"]  # nothing to share with
    second = deploy("--version", "v0.2.0")
    assert second["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert second["metadata"]["labels"]["mlgitops/version"] == "v0.2.0"
    again = deploy()  # a re-render keeps the split
    assert again["spec"]["predictor"]["canaryTrafficPercent"] == 10
    full = deploy("--traffic", "100")
    assert "canaryTrafficPercent" not in full["spec"]["predictor"]
    assert full["metadata"]["labels"]["mlgitops/version"] == "v0.2.0"

    back = deploy("--rollback")
    assert back["metadata"]["labels"]["mlgitops/version"] == "v0.1.0"
    assert "canaryTrafficPercent" not in back["spec"]["predictor"]
    assert back["spec"]["predictor"]["model"]["storageUri"].endswith(f"/{MODEL}/v0.1.0/")
    # v0.1.0 assigned (#3), v0.2.0 assigned (#4), rolled back: v0.2.0 unassigned (!#5)
    # and v0.1.0 assigned again (#6).
    production = [t.removeprefix(f"{MODEL}#") for t in ungated.stage_tags() if "production" in t]
    assert production == ["production!#5", "production#3", "production#4", "production#6"]
    pull = localhub.pulls(REPOSITORY)[0]
    assert pull["title"] == f"Roll back {MODEL} production: v0.1.0"
    assert f"`{MODEL}@v0.2.0`" in pull["body"]  # what it was before


def test_gate_that_cannot_run_assigns_nothing(gated: Repo, capsys: Capsys, monkeypatch: MP) -> None:
    work = gated.work
    code, out = mlgitops(
        capsys, monkeypatch, work, "promote", "--stage", "staging", "--version", "v0.2.0"
    )
    assert code == 0, out
    before = gated.stage_tags()
    code, out = mlgitops(
        capsys, monkeypatch, work, "deploy", "--stage", "production", "--version", "v0.2.0",
        "--allow-unverified",
    )  # fmt: skip
    assert code == 2
    assert "demo-model@v0.2.0 is used WITHOUT verification (--allow-unverified)" in out
    assert "cannot read the test split" in out  # the gate's smoke rows: this toy has none
    assert gated.stage_tags() == before
    assert not (gated.remote / "models").exists()
    assert not (work / "deploy").exists()


def test_gate_refuses_a_version_that_does_not_verify(
    gated: Repo, tmp_path: Path, capsys: Capsys, monkeypatch: MP
) -> None:
    work = gated.work
    private, public = make_key_pair(tmp_path, "release")
    _, stranger = make_key_pair(tmp_path, "stranger")
    for version in ("v0.1.0", "v0.2.0"):
        code, out = mlgitops(
            capsys, monkeypatch, work, "promote", "--stage", "staging", "--version", version
        )
        assert code == 0, out
    # HEAD is the commit of v0.2.0: promoting it again signs the version it already is.
    code, out = mlgitops(capsys, monkeypatch, work, "promote", "--signing-key", str(private))
    assert code == 0 and f"{MODEL}@v0.2.0: signed with" in out, out
    before = gated.stage_tags()

    def deploy(version: str, *flags: str) -> tuple[int, str]:
        return mlgitops(
            capsys, monkeypatch, work, "deploy", "--stage", "production", "--version", version,
            *flags,
        )  # fmt: skip

    refusals = [
        # no key or identity to verify with, and no override
        (deploy("v0.2.0"), 2, f"{MODEL}@v0.2.0 must be verified before it is used"),
        # never signed
        (deploy("v0.1.0", "--key", str(public)), 2, f"{MODEL}@v0.1.0 has no model.sig"),
        # signed, but by another key
        (deploy("v0.2.0", "--key", str(stranger)), 1, "v0.2.0 does not verify: signature: "),
    ]
    for (code, out), expected_code, expected in refusals:
        assert code == expected_code and expected in out, out
        assert "gate: serving" not in out  # refused before it is served, even locally
    assert gated.stage_tags() == before
    assert not (gated.remote / "models").exists() and not (work / "deploy").exists()

    # Signed by the key given: verified, then on to the serving gate (this toy has no
    # test split to smoke-test with; tests/integration/test_deploy_baked.py passes it).
    code, out = deploy("v0.2.0", "--key", str(public))
    assert f"gate: {MODEL}@v0.2.0 verified (signature, " in out, out
    assert code == 2 and "cannot read the test split" in out
    assert gated.stage_tags() == before


def test_published_copy_is_never_overwritten(
    ungated: Repo, capsys: Capsys, monkeypatch: MP
) -> None:
    folder = ungated.remote / "models" / MODEL / "v0.1.0"
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"someone else's model\n")
    code, out = mlgitops(
        capsys, monkeypatch, ungated.work, "deploy", "--stage", "staging", "--version", "v0.1.0"
    )
    assert code == 1, out
    assert "exists with other content" in out
    assert ungated.stage_tags() == []
    assert (folder / "model.joblib").read_bytes() == b"someone else's model\n"


def test_dry_run_and_check(ungated: Repo, capsys: Capsys, monkeypatch: MP) -> None:
    work = ungated.work
    code, out = mlgitops(
        capsys, monkeypatch, work, "deploy", "--stage", "staging", "--version", "v0.2.0",
        "--dry-run",
    )  # fmt: skip
    assert code == 0, out
    assert "## Deploy `demo-model` in `staging`: `demo-model@v0.2.0`" in out
    assert ungated.stage_tags() == [] and not (work / "deploy").exists()
    assert not (ungated.remote / "models").exists()

    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--check")
    assert code == 2 and "no manifests under deploy/" in out
    code, out = mlgitops(
        capsys, monkeypatch, work, "deploy", "--stage", "staging", "--version", "v0.2.0"
    )
    assert code == 0, out
    assert "no GitHub API" in out
    assert sh("git", "branch", "-r", cwd=work) == "origin/main"  # no branch without a PR
    assert yaml.safe_load((work / ISVC.format(stage="staging")).read_text(encoding="utf-8"))
    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--check")
    assert code == 0, out
    isvc_path = work / ISVC.format(stage="staging")
    broken = yaml.safe_load(isvc_path.read_text(encoding="utf-8"))
    broken["spec"]["predictor"]["canaryTrafficPrecent"] = 10
    broken["spec"]["predictor"]["minReplicas"] = "one"
    isvc_path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--check")
    assert code == 1
    assert "'canaryTrafficPrecent' was unexpected" in out
    assert "spec.predictor.minReplicas: 'one' is not of type 'integer'" in out


def test_usage_errors(ungated: Repo, capsys: Capsys, monkeypatch: MP) -> None:
    work = ungated.work
    code, out = mlgitops(
        capsys, monkeypatch, work, "deploy", "--stage", "qa", "--version", "v0.1.0"
    )
    assert code == 2 and "unknown stage 'qa'" in out
    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--stage", "staging")
    assert code == 2 and "has no version in 'staging'" in out
    code, out = mlgitops(
        capsys, monkeypatch, work, "deploy", "--stage", "staging", "--version", "v9.0.0"
    )
    assert code == 2 and "v9.0.0 is not a registered version" in out
    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--stage", "staging", "--rollback")
    assert code == 1 and "no earlier version" in out
    code, out = mlgitops(
        capsys, monkeypatch, work, "deploy", "--stage", "staging", "--traffic", "0"
    )
    assert code == 2 and "1 to 100" in out


def test_auto_deploys_the_latest_version_where_the_policy_asks(
    ungated: Repo, capsys: Capsys, monkeypatch: MP
) -> None:
    work = ungated.work
    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--auto")
    assert code == 0, out
    assert "deploy.auto_stage is not set" in out and ungated.stage_tags() == []

    policy = work / "governance" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "  auto_stage: staging\n", "utf-8")
    sh("git", "commit", "--quiet", "-am", "auto staging", cwd=work)
    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--auto")
    assert code == 0, out
    assert ungated.stage_tags() == [f"{MODEL}#staging#1"]
    isvc = _isvc((work / ISVC.format(stage="staging")).read_text(encoding="utf-8"))
    assert isvc["metadata"]["labels"]["mlgitops/version"] == "v0.2.0"  # the latest
    code, out = mlgitops(capsys, monkeypatch, work, "deploy", "--auto", "--stage", "production")
    assert code == 2 and "--auto takes its stage from the policy" in out
