"""`mlgitops drift` over prediction logs, on a real git + DVC repository and the local hub.

The repository: `data/raw/data.csv` tracked by DVC with a local remote, and the
pipeline's git-tracked `reports/metrics.json` and `reports/predictions.csv`; the commit
is tagged `churn-model@v1.0.0`; `origin` is a bare clone. Logs are written by the real
`PredictionLogWriter`; labels arrive as a CSV for some of the logged requests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from localhub.server import LocalHub
from mlgitops.cli import main
from mlgitops.core.monitoring import LogPolicy
from mlgitops.errors import EXIT_BAD_INPUT, EXIT_GATE_FAILED, EXIT_OK
from mlgitops.serving.predlog import PredictionLogWriter, frame

pytestmark = pytest.mark.slow  # git + DVC repositories (seconds each)

TAG = "churn-model@v1.0.0"
DATA = "data/raw/data.csv"
REPO_NAME = "acme/churn"
TOKEN = "monitor-token"
BRANCH = "retrain/churn-model"
POLICY = """\
version: 1
metrics:
  accuracy:
    higher_is_better: true
drift:
  exclude: [churned]
monitoring:
  log:
    exclude: [email]
  min_samples: 100
  decay:
    accuracy: {absolute: 0.05}
  latency:
    p99_ms: 200
"""


def sh(*command: str, cwd: Path) -> str:
    if command[0] == "dvc":
        command = (sys.executable, "-m", "dvc", *command[1:])
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout


def sample(seed: int, shift: float, rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift * 10, 10, rows).round(1),
            "plan": rng.choice(["basic", "pro"], rows),
            "email": [f"user{i}@example.com" for i in range(rows)],
            "churned": rng.integers(0, 2, rows),
        }
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository, its DVC remote and its bare origin, built once per module."""
    base = tmp_path_factory.mktemp("monitored")
    repo, remote = base / "repo", base / "dvc-remote"
    repo.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    sh("dvc", "remote", "add", "-d", "local", str(remote), cwd=repo)
    (repo / "data/raw").mkdir(parents=True)
    sample(1, 0.0).to_csv(repo / DATA, index=False)
    (repo / "governance").mkdir()
    (repo / "governance/policy.yaml").write_text(POLICY, encoding="utf-8")
    (repo / "reports").mkdir()
    (repo / "reports/metrics.json").write_text(json.dumps({"accuracy": 0.9, "f1": 0.88}))
    rng = np.random.default_rng(2)
    pd.DataFrame({"prediction": rng.integers(0, 2, 100)}).to_csv(
        repo / "reports/predictions.csv", index=False
    )
    sh("dvc", "add", "-q", DATA, cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "data v1", cwd=repo)
    sh("git", "tag", "-a", TAG, "-m", "Registered churn-model v1.0.0", cwd=repo)
    sh("dvc", "push", "-q", cwd=repo)
    sh("git", "clone", "-q", "--bare", str(repo), str(base / "origin.git"), cwd=base)
    return base


@pytest.fixture
def repo(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy, with its own origin and DVC remote (set outside tracked files)."""
    for name in ("repo", "dvc-remote", "origin.git"):
        shutil.copytree(built / name, tmp_path / name, symlinks=True)
    repo = tmp_path / "repo"
    sh("git", "remote", "add", "origin", str(tmp_path / "origin.git"), cwd=repo)
    sh("dvc", "remote", "modify", "--local", "local", "url", str(tmp_path / "dvc-remote"), cwd=repo)
    monkeypatch.chdir(repo)
    return repo


def write_logs(
    folder: Path, data: pd.DataFrame, *, prefix: str, log: LogPolicy | None = None
) -> None:
    log = log or LogPolicy(exclude=("email",))
    logger = PredictionLogWriter(folder, model="churn-model", version="v1.0.0", policy=log)
    features = data.drop(columns=["churned"])
    for i, row in enumerate(features.to_dict(orient="records")):
        logger.log(
            request_id=f"{prefix}-{i}",
            inputs=[row],
            outputs=[int(data["churned"].iloc[i])],
            probabilities=[{"0": 0.5, "1": 0.5}],
            latency_ms=5.0,
        )
    logger.close()


def drift(*args: str) -> int:
    return main(["drift", "--reference", TAG, *args])


def test_logs_like_the_training_data_pass(repo: Path, tmp_path: Path) -> None:
    write_logs(tmp_path / "logs", sample(3, 0.0), prefix="a")
    report = tmp_path / "r.json"
    code = drift("--current", str(tmp_path / "logs"), "--format", "json", "--output", str(report))
    data = json.loads(report.read_text())
    assert code == EXIT_OK, data
    assert data["verdict"] == "ok"
    assert data["log"] == {"segments": 1, "records": 400, "truncated": 0, "corrupt": 0}
    assert [c["column"] for c in data["columns"]] == ["age", "plan"]  # email is not logged
    assert data["prediction"]["kind"] == "categorical"
    assert data["latency"]["p50_ms"] == pytest.approx(5.0, rel=0.01)


@pytest.mark.parametrize("rows", [0, 99])
def test_a_window_below_min_samples_gets_no_verdict(
    repo: Path, tmp_path: Path, rows: int, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    if rows:
        write_logs(folder, sample(4, 3.0, rows), prefix="b")
    assert drift("--current", str(folder)) == EXIT_OK
    captured = capsys.readouterr()
    assert "no verdict" in captured.out
    assert f"{rows} rows in the window, fewer than min_samples (100)" in captured.err


def test_a_cut_off_segment_is_counted_and_skipped(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    write_logs(folder, sample(5, 0.0), prefix="c")
    (segment,) = folder.glob("*.jsonl")
    with segment.open("ab") as stream:
        stream.write(frame({"request_id": "torn", "row": 0, "output": 1})[:-5])
    report = tmp_path / "r.json"
    drift("--current", str(folder), "--format", "json", "--output", str(report))
    assert json.loads(report.read_text())["log"]["truncated"] == 1
    assert json.loads(report.read_text())["current_rows"] == 400


def test_logs_in_a_dvc_tracked_folder_are_read_through_dvc(repo: Path, tmp_path: Path) -> None:
    write_logs(repo / "logs", sample(6, 2.0), prefix="d")
    sh("dvc", "add", "-q", "logs", cwd=repo)
    sh("git", "add", "logs.dvc", ".gitignore", cwd=repo)
    sh("git", "commit", "-q", "-m", "Logs of the week", cwd=repo)
    sh("dvc", "push", "-q", cwd=repo)
    shutil.rmtree(repo / "logs")
    sh("dvc", "cache", "dir", str(tmp_path / "empty-cache"), cwd=repo)  # remote only
    report = tmp_path / "r.json"
    code = drift("--current", "logs", "--format", "json", "--output", str(report))
    data = json.loads(report.read_text())
    assert code == EXIT_GATE_FAILED
    assert data["current_rows"] == 400 and "age" in data["drifted_columns"]


def test_labels_csv_must_name_request_ids(repo: Path, tmp_path: Path) -> None:
    write_logs(tmp_path / "logs", sample(7, 0.0), prefix="e")
    (tmp_path / "labels.csv").write_text("id,churned\n1,0\n")
    code = drift("--current", str(tmp_path / "logs"), "--labels", str(tmp_path / "labels.csv"))
    assert code == EXIT_BAD_INPUT


# --------------------------------------------------------------------------- the loop


@pytest.fixture
def hub(localhub: LocalHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalHub:
    localhub.add_user("github-actions[bot]", TOKEN, type="Bot")
    localhub.add_repo(REPO_NAME)
    monkeypatch.setenv("GITHUB_API_URL", localhub.api_url)
    monkeypatch.setenv("GITHUB_SERVER_URL", localhub.server_url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO_NAME)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    return localhub


def _labels(path: Path, data: pd.DataFrame, prefix: str, flip: bool) -> None:
    """Labels for every other logged request (plus one unknown id); flipped: all wrong."""
    truth = data["churned"].to_numpy()
    if flip:
        truth = 1 - truth
    rows = [f"{prefix}-{i},{truth[i]}" for i in range(0, len(data), 2)]
    path.write_text("request_id,churned\n" + "\n".join([*rows, "nobody,1"]) + "\n")


def _run_monitor(repo: Path, tmp_path: Path, seed: int) -> int:
    data = sample(seed, 2.0)
    folder = tmp_path / f"logs-{seed}"
    # Retraining rows need every input of the training data: this service logs them all.
    write_logs(folder, data, prefix=f"s{seed}", log=LogPolicy())
    _labels(tmp_path / f"labels-{seed}.csv", data, f"s{seed}", flip=True)
    sh("git", "switch", "-q", "main", cwd=repo)
    subprocess.run(["git", "branch", "-q", "-D", BRANCH], cwd=repo, capture_output=True)
    return drift(
        "--current", str(folder),
        "--labels", str(tmp_path / f"labels-{seed}.csv"),
        "--open-issue",
        "--retrain-branch", BRANCH,
        "--open-pull-request",
    )  # fmt: skip


def test_drifted_logs_open_one_issue_and_one_pull_request_then_update_them(
    repo: Path, hub: LocalHub, tmp_path: Path
) -> None:
    assert _run_monitor(repo, tmp_path, seed=8) == EXIT_GATE_FAILED
    (issue,) = hub.issues(REPO_NAME)
    (pull,) = hub.pulls(REPO_NAME)
    assert pull["head"]["ref"] == BRANCH and pull["base"]["ref"] == "main"
    assert [label["name"] for label in pull["labels"]] == ["retrain"]
    assert pull["user"]["login"] == "github-actions[bot]"
    assert f"Refs #{issue['number']}" in pull["body"]
    assert "200 labelled logged rows" in pull["body"]
    assert f"Retraining pull request: #{pull['number']}" in hub.issues(REPO_NAME)[0]["body"]
    issue_body = hub.issues(REPO_NAME)[0]["body"]
    assert "performance `accuracy`" in issue_body.lower() and "**decay**" in issue_body
    assert "1 label(s) matched no logged request" in issue_body
    # The branch reached origin; its data is the reference plus the labelled rows.
    origin = tmp_path / "origin.git"
    first_tip = sh("git", "rev-parse", f"refs/heads/{BRANCH}", cwd=origin).strip()
    data_dvc = sh("git", "show", f"{first_tip}:{DATA}.dvc", cwd=origin)
    md5 = next(line.split()[-1] for line in data_dvc.splitlines() if "md5:" in line)
    assert (tmp_path / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    committed = pd.read_csv(repo / DATA)
    assert len(committed) == 400 + 200
    assert list(committed.columns) == ["age", "plan", "email", "churned"]

    # A second run with new logs: the same issue and pull request, updated; branch replaced.
    hub.clear_requests()
    assert _run_monitor(repo, tmp_path, seed=9) == EXIT_GATE_FAILED
    (again,) = hub.issues(REPO_NAME)
    (same_pull,) = hub.pulls(REPO_NAME)
    assert (again["number"], same_pull["number"]) == (issue["number"], pull["number"])
    assert f"Retraining pull request: #{pull['number']}" in again["body"]
    second_tip = sh("git", "rev-parse", f"refs/heads/{BRANCH}", cwd=origin).strip()
    assert second_tip != first_tip
    posts = [r.path for r in hub.requests if r.method == "POST"]
    assert posts == [], posts


def test_logs_without_labels_cannot_make_a_retraining_branch(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(tmp_path / "logs", sample(10, 2.0), prefix="f")
    assert drift("--current", str(tmp_path / "logs"), "--retrain-branch", BRANCH) == EXIT_BAD_INPUT
    assert "needs --labels" in capsys.readouterr().err
