"""The sticky comment against the local GitHub-like server, through PyGithub."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localhub.server import LocalHub
from mlgitops.cli import main
from mlgitops.core.diff import diff_metrics, diff_params
from mlgitops.core.markdown.report import ModelReport, Report, Revision, render_report
from mlgitops.github.actions import ActionsSettings
from mlgitops.github.client import GITHUB_ACTIONS_LOGIN, PyGithubHost, RetryPolicy, connect
from mlgitops.services.comment import COMMENT_LIMIT, marker, upsert_sticky_comment

REPO = "acme/model"
PR = 4


@pytest.fixture
def hub(localhub: LocalHub) -> LocalHub:
    localhub.add_user("ml-bot", "tok")
    localhub.add_user("alice", "alice-tok")
    localhub.add_pull(REPO, PR, head_sha="f" * 40)
    return localhub


@pytest.fixture
def host(hub: LocalHub) -> Iterator[PyGithubHost]:
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="tok")
    fast = RetryPolicy(backoff=0.01, secondary_rate_wait=0.01, sleep=lambda s: time.sleep(0.01))
    with connect(settings, retry=fast) as client:
        yield client


def bodies(hub: LocalHub) -> list[tuple[str, str]]:
    return [(c["user"]["login"], c["body"]) for c in hub.comments(REPO, PR)]


def test_first_comment_is_created_with_its_marker(hub: LocalHub, host: PyGithubHost) -> None:
    result = upsert_sticky_comment(host, PR, "## Report\n")
    assert result.action == "created" and not result.truncated
    assert bodies(hub) == [("ml-bot", f"{marker('report')}\n## Report\n")]
    assert result.comment.html_url.endswith(f"/pull/{PR}#issuecomment-{result.comment.id}")


def test_update_edits_in_place_in_three_calls(hub: LocalHub, host: PyGithubHost) -> None:
    first = upsert_sticky_comment(host, PR, "v1")
    hub.add_comment(REPO, PR, "LGTM", "alice")
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="tok")
    with connect(settings) as fresh:  # a new job: nothing cached
        hub.clear_requests()
        second = upsert_sticky_comment(fresh, PR, "v2")
    assert second.action == "updated" and second.comment.id == first.comment.id
    assert bodies(hub) == [("ml-bot", f"{marker('report')}\nv2"), ("alice", "LGTM")]
    calls = [(r.method, r.path) for r in hub.requests]
    assert calls == [
        ("GET", "/user"),
        ("GET", f"/repos/{REPO}/issues/{PR}/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{first.comment.id}"),
    ]


def test_same_body_is_not_patched(hub: LocalHub, host: PyGithubHost) -> None:
    upsert_sticky_comment(host, PR, "same")
    hub.clear_requests()
    assert upsert_sticky_comment(host, PR, "same").action == "unchanged"
    assert [r.method for r in hub.requests] == ["GET"]  # login is cached in the host


def test_another_users_comment_with_the_marker_is_left_alone(
    hub: LocalHub, host: PyGithubHost
) -> None:
    hub.add_comment(REPO, PR, f"{marker('report')}\nquoted by a human", "alice")
    result = upsert_sticky_comment(host, PR, "mine")
    assert result.action == "created"
    assert bodies(hub) == [
        ("alice", f"{marker('report')}\nquoted by a human"),
        ("ml-bot", f"{marker('report')}\nmine"),
    ]


def test_keys_are_independent(hub: LocalHub, host: PyGithubHost) -> None:
    upsert_sticky_comment(host, PR, "report v1", key="report")
    upsert_sticky_comment(host, PR, "govern v1", key="governance")
    upsert_sticky_comment(host, PR, "report v2", key="report")
    hub.add_comment(REPO, PR, "x", "alice")
    upsert_sticky_comment(host, PR, "other model", key="report-2")
    assert [body for _, body in bodies(hub)] == [
        f"{marker('report')}\nreport v2",
        f"{marker('governance')}\ngovern v1",
        "x",
        f"{marker('report-2')}\nother model",
    ]


def test_ours_on_page_three_of_250(hub: LocalHub, host: PyGithubHost) -> None:
    for i in range(205):
        hub.add_comment(REPO, PR, f"chatter {i}", "alice")
    ours = hub.add_comment(REPO, PR, f"{marker('report')}\nold", "ml-bot")
    for i in range(44):
        hub.add_comment(REPO, PR, f"more {i}", "alice")
    hub.clear_requests()
    result = upsert_sticky_comment(host, PR, "new")
    assert result.action == "updated" and result.comment.id == ours["id"]
    assert len(hub.comments(REPO, PR)) == 250
    assert [(r.method, r.query) for r in hub.requests] == [
        ("GET", ""),  # /user
        ("GET", "per_page=100"),
        ("GET", "page=2&per_page=100"),
        ("GET", "page=3&per_page=100"),
        ("PATCH", ""),
    ]


def test_502_after_save_leaves_exactly_one_comment(hub: LocalHub, host: PyGithubHost) -> None:
    hub.inject_fault("POST", rf"/issues/{PR}/comments$", 502, after_apply=True)
    result = upsert_sticky_comment(host, PR, "report")
    assert len(bodies(hub)) == 1 and result.comment.id == hub.comments(REPO, PR)[0]["id"]
    # and the next run edits that one
    assert upsert_sticky_comment(host, PR, "report 2").action == "updated"
    assert len(bodies(hub)) == 1


def test_502_on_every_create_attempt_that_saved(hub: LocalHub, host: PyGithubHost) -> None:
    hub.inject_fault("POST", rf"/issues/{PR}/comments$", 502, after_apply=True, times=-1)
    upsert_sticky_comment(host, PR, "report")
    assert len(bodies(hub)) == 1


def test_secondary_rate_limit_is_retried(hub: LocalHub, host: PyGithubHost) -> None:
    hub.inject_fault("GET", r"/comments$", 403, headers={"Retry-After": "0"})
    hub.inject_fault(
        "POST",
        r"/comments$",
        403,
        body={
            "message": "You have exceeded a secondary rate limit and have been temporarily "
            "blocked from content creation. Please retry your request again later.",
            "documentation_url": "https://docs.github.com/rest",
        },
    )
    assert upsert_sticky_comment(host, PR, "report").action == "created"
    assert len(bodies(hub)) == 1
    assert [r.status for r in hub.requests].count(403) == 2


def test_429_without_retry_after_is_retried(hub: LocalHub, host: PyGithubHost) -> None:
    upsert_sticky_comment(host, PR, "v1")
    hub.inject_fault("PATCH", r"/issues/comments/", 429)
    assert upsert_sticky_comment(host, PR, "v2").action == "updated"
    assert bodies(hub) == [("ml-bot", f"{marker('report')}\nv2")]


def test_oversized_body_is_truncated_with_a_pointer(hub: LocalHub, host: PyGithubHost) -> None:
    rows = "".join(f"| `metric_{i}` | 0.{i:04d} |\n" for i in range(6000))
    body = "```mermaid\nxychart-beta\n```\n| Metric | Value |\n|---|---|\n" + rows
    url = "https://github.com/acme/model/actions/runs/42"
    result = upsert_sticky_comment(host, PR, body, summary_url=url)
    stored = hub.comments(REPO, PR)[0]["body"]
    assert result.truncated and len(stored) <= COMMENT_LIMIT
    assert stored.startswith(marker("report") + "\n")
    assert f"The full report is in the [job summary]({url})." in stored
    table = stored.split("\n---\n")[0].splitlines()
    assert table[-1].startswith("| `metric_") and table[-1].endswith("|")  # whole rows only
    # and the next oversized update still finds and edits it
    assert upsert_sticky_comment(host, PR, body + "x", summary_url=url).action == "updated"
    assert len(bodies(hub)) == 1


def test_hostile_report_is_posted_verbatim(hub: LocalHub, host: PyGithubHost) -> None:
    name = "@octocat <!-- #1 |x\u202e"
    model = ModelReport(
        name, Revision("main", None, "merge-base"), tuple(diff_metrics({name: 1}, {name: 2}))
    )
    body = render_report(
        Report(
            Revision("head"),
            Revision("main", None, "merge-base"),
            (model,),
            tuple(diff_params({}, {name: name})),
        )
    )
    upsert_sticky_comment(host, PR, body)
    assert bodies(hub) == [("ml-bot", f"{marker('report')}\n{body}")]


def test_actions_bot_token_cannot_read_user_but_still_updates(hub: LocalHub) -> None:
    hub.add_user(GITHUB_ACTIONS_LOGIN, "ghs_installation", type="Bot")
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="ghs_installation")
    for text in ("v1", "v2"):
        with connect(settings) as bot:
            upsert_sticky_comment(bot, PR, text)
    assert bodies(hub) == [(GITHUB_ACTIONS_LOGIN, f"{marker('report')}\nv2")]


def test_cli_uses_the_actions_environment(
    hub: LocalHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": PR}}))
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    body = tmp_path / "report.md"
    body.write_text("## Report\n| a | b |\n")
    for name, value in {
        "GITHUB_API_URL": hub.api_url,
        "GITHUB_TOKEN": "tok",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_RUN_ID": "42",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["comment", "--body-file", str(body), "--key", "metrics"]) == 0
    assert main(["comment", "--body-file", str(body), "--key", "metrics"]) == 0
    assert bodies(hub) == [("ml-bot", f"{marker('metrics')}\n## Report\n| a | b |\n")]
    assert summary.read_text().count("## Report") == 2
    assert "comment-action<<" in output.read_text() and "unchanged" in output.read_text()
    assert "created comment http" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--pr", "4", "--key", "bad key"], "invalid comment key"),
        (["--key", "report"], "no pull request number"),
        (["--pr", "4", "--body-file", "missing.md"], "body file not found"),
    ],
)
def test_cli_bad_input_exits_2(
    hub: LocalHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.md").write_text("x")
    monkeypatch.setenv("GITHUB_API_URL", hub.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "tok")
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    if "--body-file" not in argv:
        argv = [*argv, "--body-file", "ok.md"]
    assert main(["comment", *argv]) == 2
    assert message in capsys.readouterr().err
    assert hub.comments(REPO, PR) == []


class RacingHost:
    """The real host, except that another job of the PR posts its comment first."""

    def __init__(self, host: PyGithubHost, hub: LocalHub) -> None:
        self._host = host
        self._hub = hub

    def __getattr__(self, name: str) -> object:
        return getattr(self._host, name)

    def create_issue_comment(self, number: int, body: str) -> object:
        self._hub.add_comment(REPO, number, f"{marker('report')}\nother job", "ml-bot")
        return self._host.create_issue_comment(number, body)


def test_two_jobs_racing_still_leave_one_comment(hub: LocalHub, host: PyGithubHost) -> None:
    hub.add_comment(REPO, PR, "LGTM", "alice")
    result = upsert_sticky_comment(RacingHost(host, hub), PR, "this job")  # type: ignore[arg-type]
    assert result.action == "updated"
    assert bodies(hub) == [("alice", "LGTM"), ("ml-bot", f"{marker('report')}\nthis job")]


def test_first_report_costs_four_calls(hub: LocalHub, host: PyGithubHost) -> None:
    hub.clear_requests()
    upsert_sticky_comment(host, PR, "first")
    assert [r.method for r in hub.requests] == ["GET", "GET", "POST", "GET"]
