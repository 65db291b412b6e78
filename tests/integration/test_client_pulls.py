"""Pull requests through PyGithubHost against the local GitHub-like server."""

from __future__ import annotations

import pytest

from localhub.server import LocalHub
from mlgitops.errors import ToolError
from mlgitops.github.actions import ActionsSettings
from mlgitops.github.client import PyGithubHost, RetryPolicy, connect

REPO = "acme/model"


def _host(hub: LocalHub, token: str) -> PyGithubHost:
    settings = ActionsSettings(repository=REPO, api_url=hub.api_url, token=token)
    return connect(settings, retry=RetryPolicy(max_attempts=2, sleep=lambda _s: None))


def test_open_find_update_and_never_duplicate(localhub: LocalHub) -> None:
    localhub.add_user("ml-bot", "tok")
    localhub.add_user("alice", "alice-tok")
    localhub.add_repo(REPO)
    bot, alice = _host(localhub, "tok"), _host(localhub, "alice-tok")
    assert bot.find_open_pull_request("retrain/m") is None
    created = bot.create_pull_request("Retrain m", "body 1", "retrain/m", "main", ["retrain"])
    assert (created.head_ref, created.base_ref, created.labels) == (
        "retrain/m",
        "main",
        ("retrain",),
    )
    assert created.author_login == "ml-bot"
    found = bot.find_open_pull_request("retrain/m", author="ml-bot")
    assert found is not None and found.number == created.number
    assert bot.find_open_pull_request("retrain/m", author="alice") is None
    assert bot.find_open_pull_request("retrain/other") is None
    with pytest.raises(ToolError, match="already exists"):
        alice.create_pull_request("Again", "", "retrain/m", "main", [])
    updated = bot.update_pull_request(created.number, "Retrain m (2)", "body 2")
    assert updated.title == "Retrain m (2)"
    (pull,) = localhub.pulls(REPO)
    assert pull["body"] == "body 2" and pull["number"] == created.number
