"""PyGithubHost against the local GitHub-like server: every method, and its retries."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from localhub.server import LocalHub
from mlgitops.errors import ToolError, UsageError
from mlgitops.github.actions import ActionsSettings
from mlgitops.github.client import GITHUB_ACTIONS_LOGIN, PyGithubHost, RetryPolicy, connect

REPO = "acme/model"
HEAD = "b" * 40
MERGE = "c" * 40


class Waits:
    """Records the waits the client asks for and sleeps a token 10 ms instead."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(min(seconds, 0.01))


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def hub(localhub: LocalHub) -> LocalHub:
    localhub.add_user("ml-bot", "tok")
    localhub.add_user("alice", "alice-tok")
    localhub.add_pull(
        REPO,
        12,
        head_sha=HEAD,
        base_ref="main",
        labels=["release:patch"],
        merge_commit_sha=MERGE,
        merged=True,
        title="Tune depth",
        author="alice",
    )
    return localhub


@pytest.fixture
def host(hub: LocalHub, waits: Waits) -> Iterator[PyGithubHost]:
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="tok")
    policy = RetryPolicy(backoff=1.0, secondary_rate_wait=60.0, max_total_wait=300.0, sleep=waits)
    with connect(settings, retry=policy) as client:
        yield client


def test_connect_needs_repository_and_token(hub: LocalHub) -> None:
    with pytest.raises(UsageError, match="GITHUB_TOKEN"):
        connect(ActionsSettings(repository=REPO, api_url=hub.api_url))
    with pytest.raises(UsageError, match="GITHUB_REPOSITORY"):
        connect(ActionsSettings(api_url=hub.api_url, token="tok"))


def test_bad_token_is_a_clear_tool_error(hub: LocalHub) -> None:
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="nope")
    with connect(settings) as client, pytest.raises(ToolError) as caught:
        client.authenticated_login()
    assert "401 Bad credentials" in str(caught.value) and "GITHUB_TOKEN" in str(caught.value)


def test_login_of_a_user_and_of_the_actions_bot(hub: LocalHub, host: PyGithubHost) -> None:
    assert host.authenticated_login() == "ml-bot"
    assert host.authenticated_login() == "ml-bot"
    assert sum(r.path == "/user" for r in hub.requests) == 1  # cached
    hub.add_user(GITHUB_ACTIONS_LOGIN, "ghs_token", type="Bot")
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="ghs_token")
    with connect(settings) as bot:
        assert bot.authenticated_login() == GITHUB_ACTIONS_LOGIN


def test_comments_pulls_releases_issues(hub: LocalHub, host: PyGithubHost) -> None:
    created = host.create_issue_comment(12, "hello")
    assert created.author_login == "ml-bot" and created.body == "hello"
    edited = host.edit_issue_comment(created.id, "hello again")
    assert edited.body == "hello again" and edited.id == created.id
    assert [c.body for c in list(host.iter_issue_comments(12))] == ["hello again"]

    pull = host.get_pull_request(12)
    assert pull.labels == ("release:patch",) and pull.merged and pull.head_sha == HEAD
    assert (pull.title, pull.base_ref, pull.author_login) == ("Tune depth", "main", "alice")
    assert [p.number for p in host.pull_requests_for_commit(MERGE)] == [12]
    assert host.pull_requests_for_commit("d" * 40) == []

    assert host.get_release_by_tag("model@v1.0.0") is None
    release = host.create_release("model@v1.0.0", "model v1.0.0", "notes")
    assert host.get_release_by_tag("model@v1.0.0") == release
    updated = host.update_release(release.id, "model v1.0.0", "better notes")
    assert updated.body == "better notes" and hub.releases(REPO)[0]["body"] == "better notes"

    assert host.find_open_issue("<!-- drift:model -->") is None
    issue = host.create_issue("Drift", "body <!-- drift:model -->", ["drift"])
    assert host.find_open_issue("<!-- drift:model -->", label="drift") == issue
    assert host.find_open_issue("<!-- drift:model -->", label="other") is None
    assert host.edit_issue(issue.number, "new <!-- drift:model -->").body.startswith("new")


def test_issue_with_our_marker_by_someone_else_is_not_ours(
    hub: LocalHub, host: PyGithubHost
) -> None:
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="alice-tok")
    with connect(settings) as alice:
        planted = alice.create_issue("Fake", "<!-- drift:model --> planted", ["drift"])
    assert planted.author_login == "alice"
    assert host.find_open_issue("<!-- drift:model -->", author="ml-bot") is None
    ours = host.create_issue("Drift", "<!-- drift:model --> ours", ["drift"])
    hub.clear_requests()
    assert host.find_open_issue("<!-- drift:model -->", author="ml-bot") == ours
    # One listing call; plain issues are not fetched again one by one.
    assert [(r.method, r.path) for r in hub.requests] == [("GET", f"/repos/{REPO}/issues")]


def test_list_follows_pages(hub: LocalHub, host: PyGithubHost) -> None:
    for i in range(250):
        hub.add_comment(REPO, 12, f"c{i}", "alice")
    hub.clear_requests()
    comments = list(host.iter_issue_comments(12))
    assert [c.body for c in comments] == [f"c{i}" for i in range(250)]
    assert [r.query for r in hub.requests] == [
        "per_page=100",
        "page=2&per_page=100",
        "page=3&per_page=100",
    ]


def test_create_after_502_that_saved_does_not_duplicate(
    hub: LocalHub, host: PyGithubHost, waits: Waits
) -> None:
    hub.inject_fault("POST", r"/issues/12/comments$", 502, after_apply=True)
    comment = host.create_issue_comment(12, "report")
    assert [c["body"] for c in hub.comments(REPO, 12)] == ["report"]
    assert comment.id == hub.comments(REPO, 12)[0]["id"]
    assert waits.waits == [1.0]
    assert sum(r.method == "POST" for r in hub.requests) == 1  # found it, did not re-post


def test_create_after_502_that_did_not_save_posts_again(hub: LocalHub, host: PyGithubHost) -> None:
    hub.inject_fault("POST", r"/issues/12/comments$", 502)
    host.create_issue_comment(12, "report")
    assert [c["body"] for c in hub.comments(REPO, 12)] == ["report"]
    assert sum(r.method == "POST" for r in hub.requests) == 2


def test_release_created_behind_a_502_is_found(hub: LocalHub, host: PyGithubHost) -> None:
    hub.inject_fault("POST", r"/releases$", 502, after_apply=True)
    release = host.create_release("model@v1.1.0", "model v1.1.0", "notes")
    assert [r["id"] for r in hub.releases(REPO)] == [release.id]


def test_issue_created_behind_a_504_is_found(hub: LocalHub, host: PyGithubHost) -> None:
    hub.inject_fault("POST", r"/issues$", 504, after_apply=True)
    issue = host.create_issue("Drift", "marker", ["drift"])
    assert [i["number"] for i in hub.issues(REPO)] == [issue.number]


def test_secondary_rate_limit_with_retry_after(
    hub: LocalHub, host: PyGithubHost, waits: Waits
) -> None:
    hub.inject_fault("POST", r"/comments$", 403, headers={"Retry-After": "7"})
    host.create_issue_comment(12, "report")
    assert waits.waits == [7.0]
    assert len(hub.comments(REPO, 12)) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute(
    hub: LocalHub, host: PyGithubHost, waits: Waits
) -> None:
    hub.inject_fault("GET", r"/pulls/12$", 403)  # body: secondary rate limit message
    assert host.get_pull_request(12).number == 12
    assert waits.waits == [60.0]


def test_429_without_retry_after(hub: LocalHub, host: PyGithubHost, waits: Waits) -> None:
    hub.inject_fault("PATCH", r"/issues/comments/\d+$", 429, times=2)
    comment = host.create_issue_comment(12, "v1")
    assert host.edit_issue_comment(comment.id, "v2").body == "v2"
    assert waits.waits == [60.0, 60.0]


def test_5xx_backoff_is_exponential_and_bounded(
    hub: LocalHub, waits: Waits, host: PyGithubHost
) -> None:
    hub.inject_fault("GET", r"/pulls/12$", 500, times=3)
    host.get_pull_request(12)
    assert waits.waits == [1.0, 2.0, 4.0]
    hub.inject_fault("GET", r"/pulls/12$", 503, times=-1)
    with pytest.raises(ToolError, match=r"after 6 attempt\(s\).*server error 503"):
        host.get_pull_request(12)


def test_total_wait_is_bounded(hub: LocalHub, waits: Waits) -> None:
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="tok")
    policy = RetryPolicy(max_total_wait=100.0, secondary_rate_wait=60.0, sleep=waits)
    hub.inject_fault("GET", r"/pulls/12$", 429, times=-1)
    with connect(settings, retry=policy) as client, pytest.raises(ToolError, match="rate limited"):
        client.get_pull_request(12)
    assert waits.waits == [60.0]  # a second minute would exceed 100 s


def test_primary_rate_limit_far_away_fails_fast(
    hub: LocalHub, host: PyGithubHost, waits: Waits
) -> None:
    reset = int(time.time()) + 2400
    hub.inject_fault(
        "GET",
        r"/pulls/12$",
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        body={"message": "API rate limit exceeded for installation ID 1."},
    )
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"rate limit exhausted.*in 40 min") as caught:
        host.get_pull_request(12)
    assert time.monotonic() - started < 1 and waits.waits == []
    assert "re-run the job after the reset" in str(caught.value)


def test_primary_rate_limit_soon_waits_for_the_reset(hub: LocalHub, waits: Waits) -> None:
    now = 1_800_000_000.0
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="tok")
    policy = RetryPolicy(sleep=waits, clock=lambda: now)
    hub.inject_fault(
        "GET",
        r"/pulls/12$",
        429,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 30)},
    )
    with connect(settings, retry=policy) as client:
        assert client.get_pull_request(12).number == 12
    assert waits.waits == [31.0]


def test_permission_error_is_not_retried(hub: LocalHub, waits: Waits) -> None:
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token="alice-tok")
    with connect(settings, retry=RetryPolicy(sleep=waits)) as alice, bot_host(hub) as bot:
        comment = bot.create_issue_comment(12, "bot's")
        with pytest.raises(ToolError, match="403") as caught:
            alice.edit_issue_comment(comment.id, "hijack")
    assert "permissions" in str(caught.value) and waits.waits == []


def bot_host(hub: LocalHub) -> PyGithubHost:
    return connect(ActionsSettings(repository=REPO, api_url=hub.api_url, token="tok"))
