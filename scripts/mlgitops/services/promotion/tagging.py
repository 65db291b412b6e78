"""Annotated GTO tags: made locally as tag objects, pushed as NEW refs (never forced)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mlgitops.core.versioning import TagRef
from mlgitops.io.git import Git
from mlgitops.io.workspace import Workspace


@dataclass(frozen=True)
class TagObject:
    tag: str
    object_id: str
    commit: str
    timestamp: int  # seconds since the epoch, as written in the tagger line

    def ref(self) -> TagRef:
        date = datetime.fromtimestamp(self.timestamp, UTC).isoformat()
        return TagRef(self.tag, self.commit, date, annotated=True, timestamp=self.timestamp)


def make_tag(git: Git, tag: str, commit: str, message: str, *, not_before: int = 0) -> TagObject:
    """A tag object for `commit`, dated after `not_before`.

    `gto show` orders a model's events by tag time in whole seconds; two stage changes
    within one second would tie and may show the older one, so each new tag of a model
    is dated at least one second after the model's latest tag.
    """
    person, seconds, zone = git.committer()
    seconds = max(seconds, not_before + 1)
    obj = git.make_tag_object(tag, commit, message, f"{person} {seconds} {zone}")
    return TagObject(tag, obj, commit, seconds)


def push_tags(
    ws: Workspace, remote: str, tags: Sequence[TagObject], *, also: Sequence[tuple[str, str]] = ()
) -> bool:
    """Push `tags` (and `also`: (commit, ref) fast-forward updates) atomically.

    False when the remote refused because someone else wrote first (a tag of that name
    exists, or a ref in `also` moved elsewhere); ToolError for any other failure. Pushed
    tags join the workspace's tag list.
    """
    specs = [(t.object_id, f"refs/tags/{t.tag}") for t in tags] + list(also)
    if not ws.git.push_new_refs(remote, specs):
        return False
    ws.record_pushed([t.ref() for t in tags])
    return True
