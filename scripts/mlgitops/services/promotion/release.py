"""The GitHub Release of a version tag, and the facts its notes are made from.

Metrics and params at the commit are read through DVC (one pass, the workspace's),
dvc.lock and the .dvc files through the strict YAML loader, so a value reads the
same here as in `report` and `govern`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlgitops.core.artifacts import DeclaredModel
from mlgitops.core.markdown import release as release_notes
from mlgitops.core.markdown.release import PullRequestRef, ReleaseFacts
from mlgitops.core.metrics import flatten
from mlgitops.core.tags import Version, format_tag
from mlgitops.errors import Location, MlgitopsError, ToolError
from mlgitops.io.workspace import Workspace
from mlgitops.services.promotion.host import PullRequestInfo, ReleaseHost

Log = Callable[[str], None]
DEFAULT_CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class Repository:
    """Where links in the notes point."""

    name: str | None = None  # owner/name
    server_url: str = "https://github.com"


def release_facts(
    ws: Workspace,
    model: DeclaredModel,
    commit: str,
    version: Version,
    *,
    bump_source: str,
    pull: PullRequestInfo | None,
    repository: Repository,
    previous_tag: str | None,
) -> ReleaseFacts:
    """Metrics, params, pinned data and the model card of `model` at `commit`."""
    targets = (model.metrics,) if model.metrics else ("",)
    metrics = ws.metrics(commit, targets) if model.metrics else None
    params = ws.params(commit)
    card_path = model.card or ws.confine(
        DEFAULT_CARD, location=Location("dvc.yaml", key=f"artifacts.{model.name}.meta.card")
    )
    return ReleaseFacts(
        model=model.name,
        version=str(version),
        tag=format_tag(model.name, version),
        commit=commit,
        bump_source=bump_source,
        repository=repository.name,
        server_url=repository.server_url,
        metrics=flatten(metrics) if metrics else {},
        params=flatten(params) if params else {},
        data=ws.data_hashes(commit),
        card=ws.read(commit, card_path),
        card_path=card_path,
        pull_request=(
            PullRequestRef(pull.number, pull.title, pull.html_url, pull.author_login)
            if pull is not None
            else None
        ),
        previous_tag=previous_tag,
    )


def bump_source_of(ws: Workspace, tag: str) -> str:
    """The `bump:` line of a tag message written by `tag_message`, else ""."""
    for line in ws.git.tag_message(tag).splitlines():
        if line.startswith("bump: "):
            return line.removeprefix("bump: ")
    return ""


def ensure_release(
    host: ReleaseHost | None, tag: str, facts: Callable[[], ReleaseFacts], log: Log
) -> str | None:
    """Create the Release of `tag` unless it exists; its URL (None: no API).

    `facts` is only called (reading files and the PR) when a release must be made.
    """
    if host is None:
        log(
            f"no GitHub release for {tag}: GITHUB_REPOSITORY/GITHUB_TOKEN not set "
            "(re-run with them to create it)"
        )
        return None
    existing = host.get_release_by_tag(tag)
    if existing is not None:
        return existing.html_url
    notes = facts()
    title = release_notes.release_title(notes)
    body = release_notes.render_release_notes(notes)
    try:
        created = host.create_release(tag, title, body)
    except MlgitopsError as error:
        # A concurrent run may have created it between our check and our create.
        again = host.get_release_by_tag(tag)
        if again is not None:
            return again.html_url
        raise ToolError(
            f"tag {tag} is pushed but its GitHub release failed: {error.message}",
            hint="re-run 'mlgitops promote' to finish the release",
        ) from error
    log(f"release created: {created.html_url}")
    return created.html_url
