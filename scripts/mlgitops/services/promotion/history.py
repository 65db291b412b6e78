"""Versions follow the commit history: a new version lands only on a descendant of the
commit of the model's latest version.

Checked twice: here, against the tags read in this run, and by the git remote, which
is the arbiter between racing runners. Every version tag is pushed atomically with a
fast-forward-only update of `refs/mlgitops/latest/<model>` (never forced): a runner
whose commit is not a descendant of what another runner just released is rejected by
the remote, re-reads the tags, and then refuses here.
"""

from __future__ import annotations

from mlgitops.core.versioning import ModelHistory, VersionEntry
from mlgitops.errors import InputError
from mlgitops.io.git import Git

LATEST_REF_PREFIX = "refs/mlgitops/latest/"


def latest_ref(model: str) -> str:
    """The ref that always points at the commit of `model`'s latest version."""
    return LATEST_REF_PREFIX + model


def latest_version(history: ModelHistory) -> VersionEntry | None:
    """The model's highest registered version (None before the first)."""
    registered = [entry for entry in history.versions if not entry.deregistered]
    return max(registered, key=lambda entry: entry.version) if registered else None


def check_follows_history(git: Git, history: ModelHistory, commit: str) -> None:
    """Refuse (exit 2) a new version on an ancestor of, or a commit unrelated to, the
    commit of the latest version."""
    latest = latest_version(history)
    if latest is None or latest.commit == commit:
        return
    if git.is_ancestor(latest.commit, commit):
        return
    relation = (
        "an ancestor of"
        if git.is_ancestor(commit, latest.commit)
        else "not a descendant of (unrelated to)"
    )
    raise InputError(
        f"refusing to release {history.model} on {commit}: it is {relation} {latest.commit}, "
        f"the commit of the latest version {latest.tag}; a newer version must be on newer "
        "history",
        hint="promote a commit that contains the latest version (e.g. the tip of the "
        "default branch); versions are never given to older commits",
    )
