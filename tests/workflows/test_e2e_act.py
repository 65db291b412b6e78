"""End to end with act: a pull request, then its merge, on one baked repository.

1. A copy of the default answers baked, initialised, trained and pushed to a local DVC
   remote (shared with the template tests), with `main` pushed to a bare `origin`.
2. Pull request: on a branch, lower `n_estimators` (cheaper to retrain), retrain, commit,
   `dvc push`, push the branch. act runs the baked repository's `.github/workflows/ml-pr.yml` for a
   `pull_request` event; it calls the reusable ml-pr.yml and the composite actions of this
   checkout. The sticky comment must appear on the local GitHub-like server, once.
3. Merge: `main` merges the branch and is pushed; the server knows the merged pull request
   with a `release:minor` label. act runs `.github/workflows/ml-promote.yml` for the `push`
   event: the version tag must reach `origin` and its release the server. The promote
   job installs the `attest` profile and signs with the key the run gets as the
   MLGITOPS_SIGNING_KEY secret: the release carries the signature, and `mlgitops verify
   --key` passes on the result.
4. Monitor: prediction logs written by the real `PredictionLogWriter` for traffic whose
   distribution moved, and labels for some of the logged requests. act runs
   `.github/workflows/ml-monitor.yml` (`workflow_dispatch`): one drift issue and one
   retraining pull request must appear on the server, the branch on `origin` and its data
   in the DVC remote. A second run with new logs updates both, and duplicates neither.
   The retraining pull request then runs the baked `ml-pr.yml` for its `pull_request`
   event (what a RETRAIN_TOKEN makes GitHub do): it gets the usual sticky report.
5. Fork with a private remote: a pull request from a fork whose run cannot read the DVC
   remote (the remote folder is out of reach during the run). The run must end green
   with "not run" and upload its comment; act then runs `.github/workflows/ml-comment.yml`
   for the `workflow_run` event, which must verify the artifact and post it, inert.

What act replaces and skips is listed in act_harness's docstring; the tests assert it from
act's own log (the skipped `Set up Python` step, and no stand-in ever run but the checkout).

The template is a git repository with two releases of different code, both mapped for act:
the baked callers pin the older one (this checkout), and every run must take the reusable
workflow, the actions and mlgitops from exactly that commit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
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
    ActRun,
    ActWorld,
    HubProcess,
    TemplateRepo,
    artifact_stand_ins,
    git,
    make_stand_ins,
    third_party_actions,
)
from helpers.baking import DEFAULT_SLUG, trained_copy
from helpers.signing_keys import make_key_pair
from workflow_files import TEMPLATE_CHECKOUT, TEMPLATE_DEFAULTS, TEMPLATE_REF

from mlgitops import __version__, proc
from mlgitops.core.monitoring import LogPolicy
from mlgitops.serving.predlog import PredictionLogWriter

pytestmark = ACT_MARKS
PR_NUMBER = 1
BRANCH = "fewer-trees"
RETRAIN_BRANCH = f"retrain/{MODEL}"
FORK = "mallory/" + DEFAULT_SLUG
FORK_PR = 2


def _bump_trees(repo: Path) -> None:
    params = repo / "params.yaml"
    text = params.read_text(encoding="utf-8")
    changed = re.sub(r"(random_forest:\n\s+n_estimators:) 100", r"\1 60", text, count=1)
    assert changed != text, "params.yaml changed shape: update this test"
    params.write_text(changed, encoding="utf-8")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActWorld]:
    base = tmp_path_factory.mktemp("act")
    timings: dict[str, float] = {}
    started = time.monotonic()
    # A private copy of the session's trained default repository, pointed for good (in
    # git, as act copies only what git does not ignore) at its own copy of the DVC remote.
    repo = trained_copy(base)
    (repo / ".dvc" / "config.local").unlink()
    remote_name = proc.dvc("remote", "default", cwd=repo).strip()
    proc.dvc(
        "remote", "modify", remote_name, "url", str(base / f"{repo.name}-dvc-remote"), cwd=repo
    )
    git(repo, "commit", "-q", "-m", "Use this test's DVC remote", "--", ".dvc/config")
    origin = base / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "fetch", "-q", "origin")
    git(repo, "branch", "-q", "--set-upstream-to=origin/main", "main")
    timings["trained repository (bake, init, train, push; shared per session)"] = (
        time.monotonic() - started
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
            timings=timings,
            template=template,
        )
    finally:
        hub.stop()
        print("\nact end-to-end wall time per phase:")
        for phase, seconds in timings.items():
            print(f"  {phase}: {seconds:.1f} s")


def _assert_act_behaved(world: ActWorld, run: ActRun) -> None:
    assert run.returncode == 0, run.output[-15000:]
    # The one step skipped under act (it downloads Python from GitHub), and no stand-in ran.
    assert "must not run under act" not in run.output
    assert "Main Set up Python" not in run.output
    _assert_ran_the_pinned_release(world, run)


def _assert_ran_the_pinned_release(world: ActWorld, run: ActRun) -> None:
    """The caller pins TEMPLATE_REF; NEWER_REF, mapped too, has other code: none of it ran."""
    assert world.template is not None
    pinned = world.template.shas[TEMPLATE_REF]
    assert pinned != world.template.shas[NEWER_REF]
    newer = world.template.folders[NEWER_REF] / "scripts" / "mlgitops" / "__init__.py"
    assert NEWER_REF.removeprefix("v") in newer.read_text(encoding="utf-8")
    assert f"--local-repository {TEMPLATE_REPO}@{NEWER_REF}=" in " ".join(run.command)
    # The reusable workflow from the pinned release (act's mapping) ...
    mapped = (
        f"LocalRepositoryCache matched https://github.com/{TEMPLATE_REPO} with ref {TEMPLATE_REF}"
    )
    assert mapped in run.output
    # ... checked out its own commit, and its actions installed its own mlgitops.
    checkout = f"checkout stand-in: {TEMPLATE_REPO}@{pinned} into {TEMPLATE_CHECKOUT}"
    assert checkout in run.output
    assert f"mlgitops {__version__} installed" in run.output
    assert f"mlgitops {NEWER_REF.removeprefix('v')} installed" not in run.output
    assert NEWER_MARKER not in run.output


@pytest.fixture(scope="module")
def pr_run(world: ActWorld) -> ActRun:
    started = time.monotonic()
    repo = world.repo
    git(repo, "switch", "-q", "-c", BRANCH)
    _bump_trees(repo)
    proc.dvc("repro", "--quiet", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Fewer trees")
    proc.dvc("push", "--quiet", cwd=repo)
    git(repo, "push", "-q", "origin", BRANCH)
    head = git(repo, "rev-parse", "HEAD")
    world.hub.admin(
        "POST",
        "pulls",
        {"repo": REPOSITORY, "number": PR_NUMBER, "head_sha": head, "base_ref": "main",
         "head_ref": BRANCH, "title": "Fewer trees"},
    )  # fmt: skip
    world.timings["pull request: branch, retrain, push"] = time.monotonic() - started
    same_repo = {"full_name": REPOSITORY}
    payload = {
        "action": "opened",
        "number": PR_NUMBER,
        "pull_request": {
            "number": PR_NUMBER,
            "title": "Fewer trees",
            "head": {"sha": head, "ref": BRANCH, "repo": same_repo},
            "base": {"ref": "main", "repo": same_repo},
            "labels": [],
        },
        "repository": same_repo,
    }
    run = world.act("pull_request", "ml-pr.yml", payload)
    world.timings["act: ML pull request workflow"] = run.seconds
    return run


def test_pull_request_run_posts_one_sticky_comment(world: ActWorld, pr_run: ActRun) -> None:
    _assert_act_behaved(world, pr_run)
    comments = world.hub.comments(REPOSITORY, PR_NUMBER)
    assert len(comments) == 1, comments
    (comment,) = comments
    assert comment["user"]["login"] == BOT_LOGIN
    body = comment["body"]
    assert "<!-- mlgitops:sticky:ml-report -->" in body
    assert "n_estimators" in body  # the changed param is reported
    assert "Governance passed" in body
    assert "comes from a fork" not in body
    assert "subpath '.github/workflows/ml-pr.yml'" in pr_run.output
    assert "Governance: every rule passed." in pr_run.output


@pytest.fixture(scope="module")
def signing_key(world: ActWorld) -> tuple[Path, Path]:
    """The key pair of the promote run: (private, public)."""
    folder = world.work / "keys"
    folder.mkdir()
    return make_key_pair(folder, "release-signing")


def _pass_the_signing_key_secret(repo: Path) -> None:
    """The caller passes MLGITOPS_SIGNING_KEY: act has no environment secrets (see
    act_harness); on GitHub the ml-promote environment's secret reaches the job as is."""
    caller = repo / ".github" / "workflows" / "ml-promote.yml"
    text = caller.read_text(encoding="utf-8")
    assert "secrets:" not in text, "the generated caller passes secrets now: update this test"
    text = text.rstrip("\n") + (
        "\n    secrets:\n      MLGITOPS_SIGNING_KEY: ${{ secrets.MLGITOPS_SIGNING_KEY }}\n"
    )
    caller.write_text(text, encoding="utf-8")
    jobs = yaml.safe_load(text)["jobs"]
    assert set(jobs["promote"]["secrets"]) == {"MLGITOPS_SIGNING_KEY"}
    git(repo, "commit", "-q", "-m", "Pass the release signing key", "--", str(caller))


@pytest.fixture(scope="module")
def promote_run(world: ActWorld, pr_run: ActRun, signing_key: tuple[Path, Path]) -> ActRun:
    assert pr_run.returncode == 0, "the pull request run failed; see its test"
    started = time.monotonic()
    repo = world.repo
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "switch", "-q", "main")
    _pass_the_signing_key_secret(repo)
    git(repo, "merge", "-q", "--no-ff", BRANCH, "-m", f"Merge pull request #{PR_NUMBER}")
    git(repo, "push", "-q", "origin", "main")
    merge = git(repo, "rev-parse", "HEAD")
    world.hub.admin(
        "POST",
        "pulls",
        {"repo": REPOSITORY, "number": PR_NUMBER, "head_sha": head, "base_ref": "main",
         "head_ref": BRANCH, "title": "Fewer trees", "labels": ["release:minor"],
         "merged": True, "merge_commit_sha": merge},
    )  # fmt: skip
    world.timings["merge and push main"] = time.monotonic() - started
    payload = {
        "ref": "refs/heads/main",
        "before": git(repo, "rev-parse", "HEAD^1"),
        "after": merge,
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "head_commit": {"id": merge, "message": f"Merge pull request #{PR_NUMBER}"},
    }
    private, _ = signing_key
    run = world.act(
        "push",
        "ml-promote.yml",
        payload,
        secrets={"MLGITOPS_SIGNING_KEY": private.read_text(encoding="utf-8")},
    )
    world.timings["act: ML promote workflow"] = run.seconds
    return run


def test_push_to_main_tags_and_releases(world: ActWorld, promote_run: ActRun) -> None:
    _assert_act_behaved(world, promote_run)
    tags = git(world.origin, "tag", "--list", f"{MODEL}@v*").splitlines()
    assert len(tags) == 1, tags
    (tag,) = tags
    assert re.fullmatch(rf"{MODEL}@v\d+\.\d+\.\d+", tag)
    assert git(world.origin, "cat-file", "-t", tag) == "tag"  # annotated
    assert git(world.origin, "rev-parse", f"{tag}^{{commit}}") == git(
        world.repo, "rev-parse", "main"
    )
    releases = world.hub.releases(REPOSITORY)
    assert [release["tag_name"] for release in releases] == [tag]
    assert "accuracy" in releases[0]["body"]


def test_the_promote_job_signs_the_release_with_the_key_secret(
    world: ActWorld, promote_run: ActRun, signing_key: tuple[Path, Path]
) -> None:
    """The attest profile is installed, the key of the secret signs, and the signature
    and provenance land on the release and in the DVC remote: the version verifies."""
    _assert_act_behaved(world, promote_run)
    output = promote_run.output
    assert "(profile attest, actions-attest.txt)" in output
    assert "(profile train, actions.txt)" not in output
    (tag,) = git(world.origin, "tag", "--list", f"{MODEL}@v*").splitlines()
    assert re.search(rf"{re.escape(tag)}: signed with key mlgitops-signing-\w+ in ", output)
    assert "not signed" not in output and "Unsigned release" not in output
    (release,) = world.hub.releases(REPOSITORY)
    assets = {asset["name"] for asset in release["assets"]}
    assert {"model.sig", "provenance.intoto.json"} <= assets, assets
    # The key reached the Promote step as a file; its text never reached act's command
    # line or the log.
    assert "PRIVATE KEY" not in output and "PRIVATE KEY" not in " ".join(promote_run.command)
    _, public = signing_key
    git(world.repo, "fetch", "-q", "--tags", "origin")
    verified = _verify(world.repo, tag, public)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    _, other = make_key_pair(world.work / "keys", "another")
    refused = _verify(world.repo, tag, other)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "signature" in refused.stdout + refused.stderr


def _verify(repo: Path, tag: str, public: Path) -> subprocess.CompletedProcess[str]:
    """`mlgitops verify` as a consumer runs it: the clone, its DVC remote, the public key."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "mlgitops", "verify", tag, "--key", str(public)],
        cwd=repo, env=environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _drifted_logs(source: Path, folder: Path, labels: Path, *, prefix: str, every: int) -> int:
    """Logs of the training data with every numeric feature scaled up by half (clear
    drift), and the true label of every `every`-th request; returns the label count."""
    data = pd.read_csv(source)
    target = data.pop("malignant")
    features = data * 1.5
    logger = PredictionLogWriter(folder, model=MODEL, version="v1", policy=LogPolicy())
    for i, row in enumerate(features.to_dict(orient="records")):
        logger.log(request_id=f"{prefix}-{i}", inputs=[row], outputs=[1], latency_ms=4.0)
    logger.close()
    chosen = range(0, len(target), every)
    labels.write_text(
        "request_id,malignant\n" + "".join(f"{prefix}-{i},{target[i]}\n" for i in chosen),
        encoding="utf-8",
    )
    return len(chosen)


def _monitor(world: ActWorld, prefix: str, every: int) -> tuple[ActRun, int]:
    repo = world.repo
    shutil.rmtree(repo / "logs", ignore_errors=True)
    count = _drifted_logs(
        repo / "data" / "raw" / "data.csv",
        repo / "logs" / "predictions",
        repo / "labels.csv",
        prefix=prefix,
        every=every,
    )
    payload = {
        "inputs": {"current": "logs/predictions", "labels": "labels.csv"},
        "ref": "refs/heads/main",
        "repository": {"full_name": REPOSITORY, "default_branch": "main", "fork": False},
    }
    return world.act("workflow_dispatch", "ml-monitor.yml", payload), count


@pytest.fixture(scope="module")
def monitor_run(world: ActWorld, promote_run: ActRun) -> tuple[ActRun, int]:
    assert promote_run.returncode == 0, "the promote run failed; see its test"
    git(world.repo, "fetch", "-q", "--tags", "origin")  # the version tag the promote run pushed
    run, count = _monitor(world, "week1", every=2)
    world.timings["act: ML monitor workflow (drifted logs)"] = run.seconds
    return run, count


def _drift_issue(world: ActWorld) -> dict:
    drift = [issue for issue in world.hub.issues(REPOSITORY) if "pull_request" not in issue]
    assert len(drift) == 1, drift
    return drift[0]


def _retrain_pull(world: ActWorld) -> dict:
    pulls = [
        p
        for p in world.hub.get(f"/repos/{REPOSITORY}/pulls?state=all")
        if p["number"] not in (PR_NUMBER, FORK_PR)
    ]
    assert len(pulls) == 1, pulls
    return pulls[0]


def test_monitor_opens_one_drift_issue_and_one_retraining_pull_request(
    world: ActWorld, monitor_run: tuple[ActRun, int]
) -> None:
    run, labelled = monitor_run
    _assert_act_behaved(world, run)
    issue = _drift_issue(world)
    assert issue["user"]["login"] == BOT_LOGIN
    assert [label["name"] for label in issue["labels"]] == ["drift"]
    assert f"{MODEL}@v" in issue["body"]
    assert "**drift**" in issue["body"]
    pull = _retrain_pull(world)
    assert f"Retraining pull request: #{pull['number']}" in issue["body"]
    assert pull["head"]["ref"] == RETRAIN_BRANCH and pull["base"]["ref"] == "main"
    assert [label["name"] for label in pull["labels"]] == ["retrain"]
    assert f"Refs #{issue['number']}" in pull["body"]
    assert f"{labelled} labelled logged rows" in pull["body"]
    # The branch reached origin with the new data version and the reproduced pipeline.
    changed = git(world.origin, "diff", "--name-only", "main", RETRAIN_BRANCH).split()
    assert {"data/raw/data.csv.dvc", "dvc.lock", "reports/metrics.json"} <= set(changed)
    dvc_text = git(world.origin, "show", f"{RETRAIN_BRANCH}:data/raw/data.csv.dvc")
    md5 = re.search(r"md5: ([0-9a-f]{32})", dvc_text)
    assert md5 is not None
    remote = world.repo.parent / f"{world.repo.name}-dvc-remote"
    assert (remote / "files" / "md5" / md5[1][:2] / md5[1][2:]).is_file()


@dataclass
class SecondRun:
    run: ActRun
    labelled: int
    issue_before: dict
    pull_before: dict
    tip_before: str


@pytest.fixture(scope="module")
def second_monitor_run(world: ActWorld, monitor_run: tuple[ActRun, int]) -> SecondRun:
    assert monitor_run[0].returncode == 0, "the first monitor run failed; see its test"
    issue, pull = _drift_issue(world), _retrain_pull(world)
    tip = git(world.origin, "rev-parse", RETRAIN_BRANCH)
    run, count = _monitor(world, "week2", every=3)
    world.timings["act: ML monitor workflow (second run)"] = run.seconds
    return SecondRun(run, count, issue, pull, tip)


def test_a_second_monitor_run_updates_the_issue_and_the_pull_request(
    world: ActWorld, second_monitor_run: SecondRun
) -> None:
    second = second_monitor_run
    _assert_act_behaved(world, second.run)
    issue, pull = _drift_issue(world), _retrain_pull(world)
    assert issue["number"] == second.issue_before["number"]
    assert pull["number"] == second.pull_before["number"]
    assert f"{second.labelled} labelled logged rows" in pull["body"]
    assert pull["body"] != second.pull_before["body"]
    assert f"Retraining pull request: #{pull['number']}" in issue["body"]
    assert git(world.origin, "rev-parse", RETRAIN_BRANCH) != second.tip_before


@pytest.fixture(scope="module")
def retrain_pr_run(world: ActWorld, second_monitor_run: SecondRun) -> tuple[ActRun, dict]:
    """The retraining pull request's own checks: ml-pr.yml on its `pull_request` event."""
    assert second_monitor_run.run.returncode == 0, "the second monitor run failed"
    pull = _retrain_pull(world)
    repo = world.repo
    git(repo, "fetch", "-q", "origin", f"{RETRAIN_BRANCH}:{RETRAIN_BRANCH}")
    git(repo, "switch", "-q", RETRAIN_BRANCH)
    shutil.rmtree(repo / "logs", ignore_errors=True)
    (repo / "labels.csv").unlink(missing_ok=True)
    same_repo = {"full_name": REPOSITORY}
    payload = {
        "action": "opened",
        "number": pull["number"],
        "pull_request": {
            "number": pull["number"],
            "title": pull["title"],
            "head": {"sha": git(repo, "rev-parse", "HEAD"), "ref": RETRAIN_BRANCH,
                     "repo": same_repo},
            "base": {"ref": "main", "repo": same_repo},
            "labels": [{"name": "retrain"}],
        },
        "repository": same_repo,
    }  # fmt: skip
    try:
        run = world.act("pull_request", "ml-pr.yml", payload)
    finally:
        git(repo, "switch", "-q", "main")
    world.timings["act: ML pull request workflow on the retraining pull request"] = run.seconds
    return run, pull


def test_the_monitors_retraining_pull_request_gets_the_usual_report(
    world: ActWorld, retrain_pr_run: tuple[ActRun, dict]
) -> None:
    run, pull = retrain_pr_run
    assert "must not run under act" not in run.output
    _assert_ran_the_pinned_release(world, run)
    comments = world.hub.comments(REPOSITORY, pull["number"])
    assert len(comments) == 1, run.output[-5000:]
    body = comments[0]["body"]
    assert "<!-- mlgitops:sticky:ml-report -->" in body
    assert "accuracy" in body  # the retrained model's metrics against main
    assert "Governance" in body


@pytest.fixture(scope="module")
def fork_runs(world: ActWorld, monitor_run: tuple[ActRun, int]) -> tuple[ActRun, ActRun]:
    """The fork's `pull_request` run without the remote, then the trusted comment run."""
    assert monitor_run[0].returncode == 0, "the monitor run failed; see its test"
    repo = world.repo
    # The monitor's logs and labels are untracked files act would copy into the run.
    shutil.rmtree(repo / "logs", ignore_errors=True)
    (repo / "labels.csv").unlink(missing_ok=True)
    git(repo, "switch", "-q", "-c", "fork-change", "main")
    params = repo / "params.yaml"
    params.write_text(params.read_text(encoding="utf-8") + "# from a fork\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "A change from a fork")
    head = git(repo, "rev-parse", "HEAD")
    world.hub.admin(
        "POST",
        "pulls",
        {"repo": REPOSITORY, "number": FORK_PR, "head_sha": head, "base_ref": "main",
         "head_ref": "fork-change", "head_repo": FORK, "title": "A change from a fork"},
    )  # fmt: skip
    assert world.template is not None
    artifacts = world.work / "artifacts"
    stand_ins = artifact_stand_ins(
        third_party_actions(world.template_copy), world.work / "artifact-stand-ins"
    )
    env = {"MLGITOPS_ACT_ARTIFACTS": str(artifacts)}
    fork_repo = {"full_name": FORK}
    payload = {
        "action": "opened",
        "number": FORK_PR,
        "pull_request": {
            "number": FORK_PR,
            "title": "A change from a fork",
            "head": {"sha": head, "ref": "fork-change", "repo": fork_repo},
            "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
            "labels": [],
        },
        "repository": {"full_name": REPOSITORY},
    }
    remote = next(world.work.parent.glob("*-dvc-remote"))
    hidden = remote.with_name(remote.name + ".private")
    remote.rename(hidden)  # what a fork's run sees of a private remote: nothing
    try:
        pr = world.act("pull_request", "ml-pr.yml", payload, stand_ins=stand_ins, env=env)
    finally:
        hidden.rename(remote)
    world.timings["act: ML pull request workflow, fork, private remote"] = pr.seconds
    comment = world.act(
        "workflow_run", "ml-comment.yml", _fork_run_event(head), stand_ins=stand_ins, env=env
    )
    world.timings["act: ML fork comment workflow"] = comment.seconds
    return pr, comment


def _fork_run_event(head: str) -> dict[str, object]:
    """The `workflow_run` event GitHub sends when the fork's pull request run completes."""
    return {
        "action": "completed",
        "workflow_run": {
            "id": 4242,
            "name": "ML pull request",
            "event": "pull_request",
            "conclusion": "success",
            "head_sha": head,
            "head_branch": "fork-change",
            "head_repository": {"full_name": FORK},
            "repository": {"full_name": REPOSITORY},
        },
        "repository": {"full_name": REPOSITORY},
    }


def test_fork_without_the_private_remote_gets_a_neutral_not_run_comment(
    world: ActWorld, fork_runs: tuple[ActRun, ActRun]
) -> None:
    pr, comment = fork_runs
    _assert_act_behaved(world, pr)  # green: not a governance failure
    assert "Governance not evaluated" in pr.output
    assert "DVC-tracked input data/raw/data.csv is missing" in pr.output
    assert "missing data" not in pr.output  # dvc repro never ran
    assert "artifact stand-in: uploaded mlgitops-pr-comment" in pr.output
    _assert_act_behaved(world, comment)
    assert "Artifact accepted for pull request #2" in comment.output
    comments = world.hub.comments(REPOSITORY, FORK_PR)
    assert len(comments) == 1, comments
    body = comments[0]["body"]
    assert comments[0]["user"]["login"] == BOT_LOGIN
    assert "Model metrics and governance: not run" in body
    assert "`data/raw/data.csv`" in body
    assert "Governance was **not evaluated**" in body
    assert "Produced by the checks of a pull request from a fork" in body
    # Nothing of the fork's text is HTML; the one tag is the bot's own sticky marker.
    assert body.count("<") == 1 and "<!-- mlgitops:sticky:ml-report -->" in body


def test_a_caller_pinned_to_the_newer_release_runs_the_newer_code(
    world: ActWorld, fork_runs: tuple[ActRun, ActRun]
) -> None:
    """The counter-proof of the runs above: the pin, not the mapping, decides the code."""
    assert world.template is not None
    caller = world.repo / ".github" / "workflows" / "ml-comment.yml"
    original = caller.read_text(encoding="utf-8")
    assert f"@{TEMPLATE_REF}\n" in original
    caller.write_text(original.replace(f"@{TEMPLATE_REF}\n", f"@{NEWER_REF}\n"), "utf-8")
    stand_ins = artifact_stand_ins(
        third_party_actions(world.template_copy), world.work / "artifact-stand-ins"
    )
    try:
        run = world.act(
            "workflow_run",
            "ml-comment.yml",
            _fork_run_event(git(world.repo, "rev-parse", "fork-change")),
            stand_ins=stand_ins,
            env={"MLGITOPS_ACT_ARTIFACTS": str(world.work / "artifacts")},
        )
    finally:
        caller.write_text(original, encoding="utf-8")
    assert run.returncode == 0, run.output[-15000:]
    newer = world.template.shas[NEWER_REF]
    assert f"matched https://github.com/{TEMPLATE_REPO} with ref {NEWER_REF}" in run.output
    assert f"checkout stand-in: {TEMPLATE_REPO}@{newer} into {TEMPLATE_CHECKOUT}" in run.output
    assert f"mlgitops {NEWER_REF.removeprefix('v')} installed" in run.output
    assert NEWER_MARKER in run.output
    assert f"mlgitops {__version__} installed" not in run.output


def test_generated_workflows_call_the_template_at_its_ref() -> None:
    """The act mapping above stands for this `uses:` line of the baked callers."""
    caller = (
        Path(__file__).resolve().parents[2]
        / "template"
        / "{{cookiecutter.project_slug}}"
        / ".github"
        / "workflows"
        / "ml-pr.yml"
    ).read_text(encoding="utf-8")
    assert (
        "uses: {{ cookiecutter.template_repo }}/.github/workflows/ml-pr.yml"
        "@{{ cookiecutter.__template_ref }}" in caller
    )
    assert TEMPLATE_DEFAULTS["template_repo"] == TEMPLATE_REPO
