"""The GitHub-like server answers like GitHub: plain HTTP checks, then PyGithub against it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from github import Auth, Github, GithubException

from localhub.server import LocalHub

REPO = "acme/model"
SHA = "a" * 40


def call(
    hub: LocalHub, method: str, path: str, body: Any = None, token: str | None = "tok"
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{hub.api_url}{path}", data=data, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
        return error.code, dict(error.headers), json.loads(raw) if raw else None


@pytest.fixture
def hub(localhub: LocalHub) -> LocalHub:
    localhub.add_user("ml-bot", "tok")
    localhub.add_user("alice", "alice-tok")
    localhub.add_pull(REPO, 7, head_sha=SHA, base_ref="main", labels=["release:minor"])
    return localhub


def github(hub: LocalHub, token: str = "tok") -> Github:
    return Github(
        base_url=hub.api_url,
        auth=Auth.Token(token),
        retry=0,
        lazy=True,
        per_page=100,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def test_user_and_auth(hub: LocalHub) -> None:
    status, headers, body = call(hub, "GET", "/user")
    assert status == 200
    assert body["login"] == "ml-bot" and body["type"] == "User"
    for name in ("Limit", "Remaining", "Reset", "Used", "Resource"):
        assert f"X-RateLimit-{name}" in headers
    assert int(headers["X-RateLimit-Remaining"]) == 4999
    status, headers, _ = call(hub, "GET", "/user", token="wrong")
    assert status == 401 and "X-RateLimit-Remaining" in headers
    assert call(hub, "GET", "/user", token="wrong")[2]["message"] == "Bad credentials"
    assert (
        call(hub, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "x"}, token=None)[0] == 401
    )


def test_bearer_token_and_bot_user(hub: LocalHub) -> None:
    hub.add_user("github-actions[bot]", "ghs_x", type="Bot")
    request = urllib.request.Request(f"{hub.api_url}/user")
    request.add_header("Authorization", "Bearer ghs_x")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    caught.value.close()
    assert caught.value.code == 403  # installation tokens cannot read /user


def test_pagination_link_headers_like_github(hub: LocalHub) -> None:
    for i in range(65):
        hub.add_comment(REPO, 7, f"c{i}", "alice")
    status, headers, body = call(hub, "GET", f"/repos/{REPO}/issues/7/comments")
    assert status == 200 and len(body) == 30  # default per_page
    base = f"{hub.api_url}/repos/{REPO}/issues/7/comments"
    assert headers["Link"] == f'<{base}?page=2>; rel="next", <{base}?page=3>; rel="last"'
    _, headers, body = call(hub, "GET", f"/repos/{REPO}/issues/7/comments?per_page=30&page=3")
    assert [c["body"] for c in body] == ["c60", "c61", "c62", "c63", "c64"]
    assert headers["Link"] == (
        f'<{base}?per_page=30&page=2>; rel="prev", <{base}?per_page=30&page=1>; rel="first"'
    )
    _, headers, body = call(hub, "GET", f"/repos/{REPO}/issues/7/comments?per_page=500")
    assert len(body) == 65 and "Link" not in headers
    for i in range(40):
        hub.add_comment(REPO, 7, f"d{i}", "alice")
    _, headers, body = call(hub, "GET", f"/repos/{REPO}/issues/7/comments?per_page=500")
    assert len(body) == 100 and 'rel="next"' in headers["Link"]  # capped like GitHub


def test_only_the_author_may_edit_a_comment(hub: LocalHub) -> None:
    status, _, comment = call(hub, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "hi"})
    assert status == 201 and comment["user"]["login"] == "ml-bot"
    path = f"/repos/{REPO}/issues/comments/{comment['id']}"
    assert call(hub, "PATCH", path, {"body": "no"}, token="alice-tok")[0] == 403
    status, _, edited = call(hub, "PATCH", path, {"body": "edited"})
    assert status == 200 and edited["body"] == "edited"
    assert call(hub, "GET", path)[2]["body"] == "edited"
    assert call(hub, "GET", f"/repos/{REPO}/issues/comments/1")[0] == 404
    assert call(hub, "GET", "/repos/acme/other/issues/7/comments")[0] == 404


def test_releases_already_exists_and_404(hub: LocalHub) -> None:
    path = f"/repos/{REPO}/releases"
    assert call(hub, "GET", f"{path}/tags/m@v1.0.0")[0] == 404
    status, _, release = call(hub, "POST", path, {"tag_name": "m@v1.0.0", "name": "v1"})
    assert status == 201 and release["tag_name"] == "m@v1.0.0"
    status, _, body = call(hub, "POST", path, {"tag_name": "m@v1.0.0"})
    assert status == 422
    assert body["errors"] == [
        {"resource": "Release", "code": "already_exists", "field": "tag_name"}
    ]
    status, _, body = call(hub, "PATCH", f"{path}/{release['id']}", {"body": "notes"})
    assert status == 200 and body["body"] == "notes"
    assert call(hub, "GET", f"{path}/tags/m%40v1.0.0")[2]["id"] == release["id"]


def test_fault_injection_before_and_after_apply(hub: LocalHub) -> None:
    hub.inject_fault("POST", r"/comments$", 502, after_apply=True)
    status, _, body = call(hub, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "saved"})
    assert status == 502 and body["message"] == "Server Error"
    assert [c["body"] for c in hub.comments(REPO, 7)] == ["saved"]

    hub.inject_fault("GET", r"/user$", 403, headers={"Retry-After": "1"}, times=2)
    status, headers, body = call(hub, "GET", "/user")
    assert status == 403 and headers["Retry-After"] == "1"
    assert body["message"].startswith("You have exceeded a secondary rate limit")
    assert call(hub, "GET", "/user")[0] == 403
    assert call(hub, "GET", "/user")[0] == 200  # used up

    hub.inject_fault("POST", r"/comments$", 500)
    assert call(hub, "POST", f"/repos/{REPO}/issues/7/comments", {"body": "lost"})[0] == 500
    assert len(hub.comments(REPO, 7)) == 1
    assert [(r.method, r.status) for r in hub.requests][-1] == ("POST", 500)


def test_pygithub_reads_every_shape(hub: LocalHub) -> None:
    gh = github(hub)
    assert gh.get_user().login == "ml-bot"
    repo = gh.get_repo(REPO)
    issue = repo.get_issue(7)
    for i in range(250):
        hub.add_comment(REPO, 7, f"c{i}", "alice")
    mine = issue.create_comment("mine")
    assert mine.user.login == "ml-bot" and mine.html_url.endswith(f"#issuecomment-{mine.id}")
    comments = list(issue.get_comments())
    assert len(comments) == 251 and comments[-1].body == "mine"
    mine.edit("edited")
    assert repo.get_issue(7).get_comments().reversed[0].body == "edited"

    pull = repo.get_pull(7)
    assert (pull.number, pull.head.sha, pull.base.ref, pull.merged) == (7, SHA, "main", False)
    assert [label.name for label in pull.labels] == ["release:minor"]
    assert [p.number for p in repo.get_commit(SHA).get_pulls()] == [7]
    assert [label.name for label in issue.get_labels()] == ["release:minor"]

    release = repo.create_git_release("m@v1.0.0", "m v1.0.0", "notes")
    assert repo.get_release("m@v1.0.0").id == release.id
    with pytest.raises(GithubException) as caught:
        repo.create_git_release("m@v1.0.0", "again", "x")
    assert caught.value.status == 422
    release.update_release("m v1.0.0", "better notes")
    assert [r.body for r in repo.get_releases()] == ["better notes"]

    repo.get_commit(SHA).create_status("pending", description="running", context="ml/report")
    assert [s.state for s in repo.get_commit(SHA).get_statuses()] == ["pending"]
    assert hub.statuses(REPO, SHA)[0]["context"] == "ml/report"

    created = repo.create_issue("Drift", body="<!-- drift -->", labels=["drift"])
    assert [i.number for i in repo.get_issues(state="open", labels=["drift"])] == [created.number]
    created.edit(state="closed")
    assert list(repo.get_issues(state="open", labels=["drift"])) == []
    assert [i["state"] for i in hub.issues(REPO)] == ["closed"]


def test_state_file_and_standalone_process(tmp_path: Path) -> None:
    state = tmp_path / "hub.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "localhub", "--port", "0", "--state", str(state)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        api_url = json.loads(process.stdout.readline())["api_url"]

        def post(name: str, payload: dict[str, Any]) -> None:
            request = urllib.request.Request(
                f"{api_url}/_localhub/{name}", data=json.dumps(payload).encode(), method="POST"
            )
            urllib.request.urlopen(request).close()

        post("users", {"login": "ml-bot", "token": "tok"})
        post("pulls", {"repo": REPO, "number": 3, "head_sha": SHA})
        request = urllib.request.Request(
            f"{api_url}/repos/{REPO}/issues/3/comments",
            data=b'{"body": "from another process"}',
            method="POST",
            headers={"Authorization": "token tok"},
        )
        urllib.request.urlopen(request).close()
        with urllib.request.urlopen(f"{api_url}/_localhub/state") as response:
            snapshot = json.load(response)
        comments = snapshot["repos"][REPO]["comments"]
        assert [c["body"] for c in comments.values()] == ["from another process"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
    reloaded = LocalHub(state_file=state)
    with reloaded:
        assert [c["body"] for c in reloaded.comments(REPO, 3)] == ["from another process"]
