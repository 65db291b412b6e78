"""`mlgitops demo`: the README's main-job command, run for real on the bundled dataset."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.demo import demo_run

REPOSITORY = "acme/breast-cancer-classifier"
MODEL = "breast-cancer-classifier-model"
RETRAIN_BRANCH = "retrain/breast-cancer-classifier"


@pytest.mark.slow
def test_demo_runs_the_whole_lifecycle_offline() -> None:
    result = demo_run()  # also read by tests/render/test_bodies.py
    workdir = result.workdir
    assert result.returncode == 0, result.stdout + result.stderr

    # The bare "GitHub" repository received one annotated version tag per promotion.
    tags = subprocess.run(
        ["git", "for-each-ref", "--format=%(objecttype) %(refname:short)", "refs/tags"],
        cwd=workdir / "origin.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert [t for t in tags if "@v" in t] == [f"tag {MODEL}@v1.0.0", f"tag {MODEL}@v1.1.0"]
    # Stage tags (GTO): v1.0.0 then v1.1.0 to staging and production, then the rollback.
    assert f"tag {MODEL}#production!#5" in tags and f"tag {MODEL}#production#6" in tags

    state = json.loads((workdir / "github-state.json").read_text(encoding="utf-8"))
    repo = state["repos"][REPOSITORY]
    comments = {c["issue"]: c for c in repo["comments"].values()}
    pulls = {n: i for n, i in ((i["number"], i) for i in repo["issues"].values()) if "pull" in i}
    retraining = [i for i in pulls.values() if i["pull"]["head_ref"] == RETRAIN_BRANCH]
    # One sticky comment per PR that CI ran on, written by the bot (on #1 the comment
    # step ran twice): the two developer PRs and the retraining PR.
    assert len(repo["comments"]) == 3
    assert sorted(comments) == [1, 2, retraining[0]["number"]]
    improving, blocked = comments[1]["body"], comments[2]["body"]
    assert "`train.model` | `random_forest` | `logistic_regression`" in improving
    assert "🟢 4 better, 1 unchanged" in improving and "Governance passed" in improving
    assert "🔴" in blocked and "Governance failed" in blocked
    assert "| ❌ | `metric.regression` | recall |" in blocked
    # The required check as the reviewer sees it: green on #1, red on #2.
    developer_pulls = [pulls[1], pulls[2]]
    states = {
        i["number"]: [s["state"] for s in repo["statuses"][i["pull"]["head_sha"]]]
        for i in developer_pulls
    }
    assert states == {1: ["success"], 2: ["failure"]}
    assert {i["number"]: i["pull"]["merged"] for i in developer_pulls} == {1: True, 2: False}
    assert "❌ governance/policy.yaml:25" in result.stdout  # recall's max_regression line
    assert "PR #2 stays open" in result.stdout
    # Only the improving PR was released; a second promote run added nothing.
    releases = list(repo["releases"].values())
    assert sorted(r["tag_name"] for r in releases) == [f"{MODEL}@v1.0.0", f"{MODEL}@v1.1.0"]
    assert "already promoted" in result.stdout
    assert "Lifecycle finished" in result.stdout
    # Each version is signed at promotion (a demo key) and verified by key.
    for version in ("v1.0.0", "v1.1.0"):
        assert f"{MODEL}@{version}: signed with key signing.key" in result.stdout
    assert "ok      signature" in result.stdout and "FAILED" not in result.stdout
    for release in releases:
        names = sorted(asset["name"] for asset in release.get("assets", []))
        assert names == ["model.sig", "provenance.intoto.json"], release["tag_name"]

    # Deploy PRs, opened by the bot and merged in turn: staging and production for each
    # version, then the rollback of production; production passed the gate each time.
    deploys = [i for i in pulls.values() if i["pull"]["head_ref"].startswith("mlgitops/deploy/")]
    assert [(i["pull"]["head_ref"].rsplit("-", 1)[-1], i["title"].split(": ")[-1])
            for i in deploys] == [
        ("staging", "v1.0.0"), ("production", "v1.0.0"),
        ("staging", "v1.1.0"), ("production", "v1.1.0"), ("production", "v1.0.0"),
    ]  # fmt: skip
    assert all(i["pull"]["merged"] for i in deploys)
    # The gate's results went into each version's release notes; the tags stayed.
    assert all("<!-- mlgitops:gate:production -->" in r["body"] for r in releases)
    assert all(i["author"]["login"] == "github-actions[bot]" for i in deploys)
    assert "**passed** (MLServer on 127.0.0.1)" in deploys[3]["body"]
    assert "| previously | `" + MODEL + "@v1.0.0`" in deploys[3]["body"]
    assert deploys[4]["title"].startswith("Roll back") and "not run" in deploys[4]["body"]
    assert "| previously | `" + MODEL + "@v1.1.0`" in deploys[4]["body"]
    assert f"Deploy PR #{deploys[3]['number']}" in result.stdout  # shown as a reviewer sees it
    # The served production version answers, and another one after the rollback.
    answers = re.findall(r'"model_version": "(v[0-9.]+)"', result.stdout)
    assert answers == ["v1.1.0", "v1.0.0"]
    assert "production served v1.1.0, now v1.0.0" in result.stdout
    stopped = re.findall(r"stopped: mlgitops serve .* -> exit (\d+)", result.stdout)
    assert stopped == ["0", "0"]
    # Each server verified the version it serves with the demo's public key first.
    assert len(re.findall(r"\$ mlgitops serve .* --key \S+signing\.pub &", result.stdout)) == 2
    served = re.findall(
        rf"mlgitops: {re.escape(MODEL)}@(v[0-9.]+) \([0-9a-f]{{12}}\) verified: signature, ",
        result.stdout,
    )
    assert served == ["v1.1.0", "v1.0.0"]
    assert "WITHOUT verification" not in result.stdout
    # Drifted traffic was logged; the monitor opened one issue and one retraining PR,
    # which got its report and governance check like any other PR.
    assert any((workdir / "prediction-logs").rglob("*.jsonl"))
    drift_issues = [i for i in repo["issues"].values() if "pull" not in i]
    assert len(drift_issues) == 1 and len(retraining) == 1
    (issue,), (pull,) = drift_issues, retraining
    assert f"Retraining pull request: #{pull['number']}" in issue["body"]
    assert f"Refs #{issue['number']}" in pull["body"]
    assert [label["name"] for label in pull["labels"]] == ["retrain"]
    retrain_tip = subprocess.run(
        ["git", "rev-parse", f"refs/heads/{RETRAIN_BRANCH}"],
        cwd=workdir / "origin.git", capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert [s["context"] for s in repo["statuses"][retrain_tip]] == ["ml / governance"]
    assert "<!-- mlgitops:sticky:report -->" in comments[pull["number"]]["body"]
    assert "Governance" in comments[pull["number"]]["body"]
    assert f"CI on PR #{pull['number']}: report, governance" in result.stdout


def test_demo_refuses_a_non_empty_output_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", "demo", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{tmp_path}: the output folder is not empty" in result.stderr
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "user data"
