"""The bump decision: explicit, else the labels of the PRs merged since the latest
version (the largest wins), else the policy default."""

from __future__ import annotations

from dataclasses import dataclass

from mlgitops.core.versioning import (
    Bump,
    BumpDecision,
    ReleaseRuleError,
    bump_from_labels,
    combine_bumps,
    parse_bump,
)
from mlgitops.errors import InputError
from mlgitops.io.git import Git
from mlgitops.services.promotion.host import PullRequestInfo, ReleaseHost

# Merges on the default branch looked at for release labels when promotion runs were
# coalesced (one API call each).
MAX_COALESCED_COMMITS = 20


@dataclass(frozen=True)
class Decision:
    """The bump, where it came from, and the newest merged PR it was read from."""

    bump: BumpDecision
    pull: PullRequestInfo | None = None


def merged_pull_request(host: ReleaseHost | None, commit: str) -> PullRequestInfo | None:
    if host is None:
        return None
    pulls = [p for p in host.pull_requests_for_commit(commit) if p.merged]
    return pulls[0] if pulls else None


def merged_pull_requests(
    host: ReleaseHost, git: Git, commit: str, since: str | None
) -> list[PullRequestInfo]:
    """The merged PRs released by promoting `commit`, newest first: those of the
    first-parent commits after the model's latest version (`since`), so that a run
    GitHub coalesced with earlier pushes still honours their labels."""
    commits = [commit]
    if since is not None and since != commit:
        commits = git.first_parents(commit, since, MAX_COALESCED_COMMITS) or [commit]
    found: dict[int, PullRequestInfo] = {}
    for sha in commits:
        pull = merged_pull_request(host, sha)
        if pull is not None and pull.number not in found:
            found[pull.number] = pull
    return list(found.values())


def decide_bump(
    host: ReleaseHost | None,
    git: Git,
    commit: str,
    requested: str,
    default: Bump,
    since: str | None = None,
) -> Decision:
    """The bump for `commit` (`requested` is auto, major, minor or patch)."""
    if requested != "auto":
        return Decision(BumpDecision(parse_bump(requested), f"--bump {requested}"))
    if host is None:
        return Decision(
            BumpDecision(default, f"policy default ({default.value}); no GitHub access")
        )
    pulls = merged_pull_requests(host, git, commit, since)
    decisions = []
    for pull in pulls:
        try:
            decisions.append(bump_from_labels(pull.labels, default, pr=f"PR #{pull.number}"))
        except ReleaseRuleError as error:
            raise InputError(str(error), hint="fix the labels of the merged PR") from None
    return Decision(combine_bumps(decisions, default), pulls[0] if pulls else None)
