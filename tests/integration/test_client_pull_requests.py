"""Opening and updating a pull request through PyGithubHost, against the local server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from localhub.server import LocalHub
from mlgitops.errors import ToolError
from mlgitops.github.actions import ActionsSettings
from mlgitops.github.client import PyGithubHost, RetryPolicy, connect

REPO = "acme/model"
BRANCH = "mlgitops/deploy/demo-production"


@pytest.fixture
def host(localhub: LocalHub) -> Iterator[PyGithubHost]:
    localhub.add_user("github-actions[bot]", "tok", type="Bot")
    localhub.add_repo(REPO)
    settings = ActionsSettings(repository=REPO, api_url=localhub.api_url, token="tok")
    policy = RetryPolicy(backoff=0.01, sleep=lambda s: time.sleep(min(s, 0.01)))
    with connect(settings, retry=policy) as client:
        yield client


def test_create_find_and_edit(host: PyGithubHost, localhub: LocalHub) -> None:
    assert host.find_open_pull_request(BRANCH) is None
    created = host.create_pull_request(BRANCH, "main", "Deploy v1", "body one")
    assert created.merged is False and created.base_ref == "main"
    assert created.author_login == "github-actions[bot]"
    found = host.find_open_pull_request(BRANCH)
    assert found is not None and found.number == created.number
    assert host.find_open_pull_request("another-branch") is None
    edited = host.edit_pull_request(created.number, "Deploy v2", "body two")
    assert edited.title == "Deploy v2"
    (stored,) = localhub.pulls(REPO)
    assert (stored["title"], stored["body"], stored["head"]["ref"]) == (
        "Deploy v2",
        "body two",
        BRANCH,
    )


def test_a_second_pull_request_from_the_same_branch_is_refused(host: PyGithubHost) -> None:
    host.create_pull_request(BRANCH, "main", "Deploy v1", "body")
    with pytest.raises(ToolError, match="422"):
        host.create_pull_request(BRANCH, "main", "Deploy v1", "body")


def test_a_create_that_took_effect_before_a_502_is_not_repeated(
    host: PyGithubHost, localhub: LocalHub
) -> None:
    localhub.inject_fault("POST", r"/pulls$", 502, after_apply=True)
    created = host.create_pull_request(BRANCH, "main", "Deploy v1", "body")
    assert len(localhub.pulls(REPO)) == 1
    assert localhub.pulls(REPO)[0]["number"] == created.number
