"""Release assets through PyGithubHost against the local GitHub-like server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localhub.server import LocalHub
from mlgitops.github.actions import ActionsSettings
from mlgitops.github.client import PyGithubHost, RetryPolicy, connect

REPO = "acme/model"
TAG = "model@v1.0.0"


@pytest.fixture
def host(localhub: LocalHub) -> Iterator[PyGithubHost]:
    localhub.add_user("ml-bot", "tok")
    localhub.add_repo(REPO)
    settings = ActionsSettings(repository=REPO, api_url=localhub.api_url, token="tok")
    with connect(settings, retry=RetryPolicy(backoff=0.01, sleep=lambda _: None)) as client:
        yield client


def test_upload_and_list_assets(localhub: LocalHub, host: PyGithubHost, tmp_path: Path) -> None:
    release = host.create_release(TAG, "model v1.0.0", "notes")
    signature = tmp_path / "model.sig"
    signature.write_bytes(b"\x00bundle\xff" * 100)
    url = host.upload_release_asset(release.id, signature, "model.sig")
    assert url.endswith(f"/{REPO}/releases/download/model%40v1.0.0/model.sig")
    assert host.list_release_assets(release.id) == ["model.sig"]
    assert localhub.release_assets(REPO, TAG) == {"model.sig": signature.read_bytes()}


def test_an_upload_saved_behind_a_502_is_not_uploaded_twice(
    localhub: LocalHub, host: PyGithubHost, tmp_path: Path
) -> None:
    release = host.create_release(TAG, "model v1.0.0", "notes")
    provenance = tmp_path / "provenance.intoto.json"
    provenance.write_text("{}\n")
    localhub.inject_fault("POST", r"/releases/\d+/assets$", 502, after_apply=True)
    host.upload_release_asset(release.id, provenance, provenance.name)
    assert list(localhub.release_assets(REPO, TAG)) == ["provenance.intoto.json"]


def test_updating_a_release_keeps_its_tag(localhub: LocalHub, host: PyGithubHost) -> None:
    release = host.create_release(TAG, "model v1.0.0", "notes")
    updated = host.update_release(release.id, "model v1.0.0", "notes\n\ngate results")
    assert (updated.tag_name, updated.body) == (TAG, "notes\n\ngate results")
    (stored,) = localhub.releases(REPO)
    assert (stored["tag_name"], stored["body"]) == (TAG, "notes\n\ngate results")
