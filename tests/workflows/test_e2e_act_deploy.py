"""End to end with act: the generated ML deploy workflow assigns staging by hand.

A copy of the trained default repository with a bare `origin` and its own local DVC
remote; v0.1.0 is promoted with the CLI. act runs the baked `.github/workflows/ml-deploy.yml`
for a `workflow_dispatch` (stage staging, version v0.1.0). It calls the reusable
ml-deploy.yml of the template release it pins, which checks the template out at the
commit that pin resolves to and runs the deploy-model action from there (a newer
release, mapped too, has other code, which must not run). The stage tag and the deploy
branch must reach `origin`, the published copy the DVC remote, and the deploy pull
request the local GitHub-like server.

The version is signed as the promote step signs it with MLGITOPS_SIGNING_KEY (key-based),
and this repository's policy gates staging too, so the deploy job must verify it before
it is served: with the public key of the repository variable MLGITOPS_VERIFY_KEY (act's
`--var`). First with the public key of another pair: exit 1, no stage tag, no deploy
branch, no pull request; then with the right one. The gate's latency objective is relaxed
for this shared runner: the gate itself (MLServer on 127.0.0.1) runs for real, and
tests/integration/test_deploy_baked.py holds it to the generated policy. The keyless
path needs Sigstore and GitHub's OIDC token, neither of which exists here:
tests/workflows/test_deploy_verification.py checks the identity it expects. What act
replaces and skips is listed in act_harness's docstring.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from act_harness import (
    ACT_MARKS,
    BOT_LOGIN,
    BOT_TOKEN,
    MODEL,
    NEWER_MARKER,
    NEWER_REF,
    REPOSITORY,
    TEMPLATE_REPO,
    ActWorld,
    HubProcess,
    TemplateRepo,
    git,
    make_stand_ins,
    third_party_actions,
)
from helpers.baking import trained_copy
from workflow_files import TEMPLATE_CHECKOUT, TEMPLATE_REF

from mlgitops import __version__, proc
from mlgitops.deploy.crds import manifest_problems

pytestmark = ACT_MARKS
# The generated policy gates production only; the gate's objective is the runner's, and
# this machine is shared: a gated staging with a bound only a stuck server misses.
GATE_STAGING = {
    "gate_stages: [production]": "gate_stages: [staging, production]",
    "latency_p99_ms: 500": "latency_p99_ms: 20000",
    "load_test: {requests: 200, concurrency: 2,": "load_test: {requests: 20, concurrency: 1,",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActWorld]:
    base = tmp_path_factory.mktemp("act-deploy")
    repo = trained_copy(base)
    (repo / ".dvc" / "config.local").unlink()
    remote_name = proc.dvc("remote", "default", cwd=repo).strip()
    proc.dvc(
        "remote", "modify", remote_name, "url", str(base / f"{repo.name}-dvc-remote"), cwd=repo
    )
    git(repo, "commit", "-q", "-m", "Use this test's DVC remote", "--", ".dvc/config")
    policy = repo / "governance" / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    for old, new in GATE_STAGING.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    policy.write_text(text, encoding="utf-8")
    git(repo, "commit", "-q", "-m", "Gate staging too", "--", "governance/policy.yaml")
    origin = base / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "fetch", "-q", "origin")
    git(repo, "branch", "-q", "--set-upstream-to=origin/main", "main")
    keys = base / "keys"
    keys.mkdir()
    for pair in ("signing", "other"):
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{pair}.key",
                cwd=keys)  # fmt: skip
        openssl("ec", "-in", f"{pair}.key", "-pubout", "-out", f"{pair}.pub", cwd=keys)
    # What the Promote step does with the MLGITOPS_SIGNING_KEY secret: sign with the file.
    proc.run(
        ["mlgitops", "promote", "--bump", "minor"],
        repo,
        env={"MLGITOPS_SIGNING_KEY": str(keys / "signing.key")},
    )
    work = base / "work"
    template = TemplateRepo.create(work / "template", TEMPLATE_REF)
    template_copy = template.folders[TEMPLATE_REF]
    hub = HubProcess(work / "hub.json")
    try:
        hub.admin("POST", "users", {"login": BOT_LOGIN, "token": BOT_TOKEN, "type": "Bot"})
        hub.admin("POST", "repos", {"full_name": REPOSITORY})
        yield ActWorld(
            repo=repo,
            origin=origin,
            template_copy=template_copy,
            template_ref=TEMPLATE_REF,
            repository=REPOSITORY,
            hub=hub,
            work=work,
            stand_ins=make_stand_ins(third_party_actions(template_copy), work / "stand-ins"),
            template=template,
        )
    finally:
        hub.stop()


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def public_key(world: ActWorld, pair: str) -> str:
    return (world.work.parent / "keys" / f"{pair}.pub").read_text(encoding="utf-8")


DISPATCH = {
    "inputs": {"stage": "staging", "version": "v0.1.0", "rollback": False, "traffic": ""},
    "ref": "refs/heads/main",
    "repository": {"full_name": REPOSITORY, "default_branch": "main"},
}


def test_a_version_that_does_not_verify_is_not_deployed(world: ActWorld) -> None:
    """Signed, but not by the pair of the public key the repository names: exit 1 (a
    gate failed), before anything is served, tagged, pushed or opened."""
    run = world.act(
        "workflow_dispatch",
        "ml-deploy.yml",
        DISPATCH,
        variables={"MLGITOPS_VERIFY_KEY": public_key(world, "other")},
    )
    assert run.returncode != 0, run.output[-15000:]
    assert "verifies with the public key (verify-key)" in run.output
    assert f"{MODEL}@v0.1.0 does not verify: signature" in run.output
    assert "exit status 1" in run.output and "exit status 2" not in run.output
    assert "gate: serving" not in run.output
    assert not [t for t in git(world.origin, "tag", "--list").splitlines() if "#staging" in t]
    assert git(world.origin, "branch", "--list", "mlgitops/deploy/*") == ""
    assert world.hub.get(f"/repos/{REPOSITORY}/pulls?state=all") == []


def test_dispatch_verifies_assigns_staging_and_opens_the_deploy_pr(world: ActWorld) -> None:
    run = world.act(
        "workflow_dispatch",
        "ml-deploy.yml",
        DISPATCH,
        variables={"MLGITOPS_VERIFY_KEY": public_key(world, "signing")},
    )
    assert run.returncode == 0, run.output[-15000:]
    # Verified with the variable's public key, then served for the gate.
    assert "verifies with the public key (verify-key)" in run.output
    checks = "signature, provenance-tag, provenance-lock, model-digest"
    assert f"gate: {MODEL}@v0.1.0 verified ({checks})" in run.output
    assert f"gate: serving {MODEL} v0.1.0 on 127.0.0.1" in run.output
    # The keyless identity it would expect without a key: the pinned promote workflow.
    signer = f"https://github.com/{TEMPLATE_REPO}/.github/workflows/ml-promote.yml"
    assert f"promote workflow name {signer}@refs/tags/{TEMPLATE_REF}" in run.output
    assert "Main Set up Python" not in run.output
    assert "must not run under act" not in run.output
    # The pinned release's code ran, checked out at its commit; the newer one's did not.
    assert world.template is not None
    pinned = world.template.shas[TEMPLATE_REF]
    assert pinned != world.template.shas[NEWER_REF]
    assert f"checkout stand-in: {TEMPLATE_REPO}@{pinned} into {TEMPLATE_CHECKOUT}" in run.output
    assert f"mlgitops {__version__} installed" in run.output
    # The serve profile's hashed lock (MLServer, model-signing); nothing else installed.
    assert "(profile serve, actions-serve.txt)" in run.output
    assert NEWER_MARKER not in run.output
    assert f"mlgitops {NEWER_REF.removeprefix('v')} installed" not in run.output

    assert f"{MODEL}#staging#1" in git(world.origin, "tag", "--list").splitlines()
    branch = f"mlgitops/deploy/{MODEL}-staging"
    isvc = yaml.safe_load(git(world.origin, "show", f"{branch}:deploy/staging/{MODEL}.yaml"))
    assert list(manifest_problems(isvc)) == []
    uri = isvc["spec"]["predictor"]["model"]["storageUri"]
    assert uri.endswith(f"/models/{MODEL}/v0.1.0/")
    assert (Path(uri.removeprefix("file://")) / "model.joblib").is_file()
    app = yaml.safe_load(git(world.origin, "show", f"{branch}:deploy/argocd/production.yaml"))
    assert app["spec"]["source"]["repoURL"] == f"https://github.com/{REPOSITORY}.git"

    pulls = world.hub.get(f"/repos/{REPOSITORY}/pulls?state=open")
    assert [(p["head"]["ref"], p["user"]["login"]) for p in pulls] == [(branch, BOT_LOGIN)]
    assert f"`{MODEL}@v0.1.0`" in pulls[0]["body"]
