"""Pure release arithmetic: bumps from PR labels, next versions and stages from tag lists.

Inputs are tag names (or `TagRef`s: a tag name and the commit it points at), read by the
caller with one `git for-each-ref`; nothing here touches git, so a repository with
thousands of tags costs one parse per tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from mlgitops.core.tags import (
    SEPARATOR_IN_NAME,
    SEPARATOR_IN_TAG,
    ParsedTag,
    TagAction,
    Version,
    format_stage_tag,
    parse_tag,
)


class Bump(Enum):
    """How far a release moves the version; SKIP means no release."""

    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"
    SKIP = "skip"


LABEL_PREFIX = "release:"
_BUMP_RANK = {Bump.PATCH: 1, Bump.MINOR: 2, Bump.MAJOR: 3}


class ReleaseRuleError(ValueError):
    """A release rule was broken (conflicting labels, stage order, unknown stage)."""


@dataclass(frozen=True)
class BumpDecision:
    """The bump to apply and where it came from, for the log and the release notes."""

    bump: Bump
    source: str


def parse_bump(text: str) -> Bump:
    """`major|minor|patch|skip` (case-insensitive) to a Bump; ValueError otherwise."""
    try:
        return Bump(text.strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown bump {text!r}: expected one of major, minor, patch, skip"
        ) from None


def bump_from_labels(
    labels: Iterable[str], default: Bump, *, pr: str | None = None
) -> BumpDecision:
    """The bump that `release:*` labels ask for, else `default`.

    Several bump labels: the largest wins. `release:skip` with a bump label is a conflict
    the author must resolve. Unknown `release:` labels are an error, not silently ignored.
    """
    where = f" on {pr}" if pr else ""
    wanted: set[Bump] = set()
    for label in labels:
        if not label.lower().startswith(LABEL_PREFIX):
            continue
        value = label[len(LABEL_PREFIX) :]
        try:
            wanted.add(parse_bump(value))
        except ValueError:
            raise ReleaseRuleError(
                f"unknown release label {label!r}{where}: "
                "use release:major, release:minor, release:patch or release:skip"
            ) from None
    if not wanted:
        return BumpDecision(default, f"policy default ({default.value})")
    if Bump.SKIP in wanted:
        if len(wanted) > 1:
            others = ", ".join(sorted(f"{LABEL_PREFIX}{b.value}" for b in wanted - {Bump.SKIP}))
            raise ReleaseRuleError(
                f"conflicting release labels{where}: release:skip and {others}; keep one"
            )
        return BumpDecision(Bump.SKIP, f"label release:skip{where}")
    chosen = max(wanted, key=_BUMP_RANK.__getitem__)
    return BumpDecision(chosen, f"label {LABEL_PREFIX}{chosen.value}{where}")


def combine_bumps(decisions: Sequence[BumpDecision], default: Bump) -> BumpDecision:
    """One bump for several merged PRs released together (newest first).

    GitHub may coalesce the promotion runs of merges that land close together, so one
    run can release several PRs: the largest bump any of them asks for wins, and the
    release is skipped only when every one of them says `release:skip`.
    """
    if not decisions:
        return BumpDecision(default, f"policy default ({default.value}); no merged PR")
    if len(decisions) == 1:
        return decisions[0]
    wanted = [d for d in decisions if d.bump is not Bump.SKIP]
    if not wanted:
        return BumpDecision(Bump.SKIP, f"release:skip on all {len(decisions)} merged PRs")
    chosen = max(wanted, key=lambda d: _BUMP_RANK[d.bump])
    return BumpDecision(chosen.bump, f"{chosen.source} (largest of {len(decisions)} merged PRs)")


def bump_version(current: Version | None, bump: Bump) -> Version:
    """The version after `current` (None: nothing released yet, counts as v0.0.0).

    A pre-release is finished by the bump that reaches it: v2.0.0-rc.1 + major = v2.0.0.
    """
    if bump is Bump.SKIP:
        raise ValueError("a skipped release has no next version")
    base = current or Version(0, 0, 0)
    major, minor, patch = base.major, base.minor, base.patch
    if base.is_prerelease:
        # The release that the pre-release leads to, if the bump does not go past it.
        if bump is Bump.MAJOR and minor == 0 and patch == 0:
            return Version(major, 0, 0)
        if bump is Bump.MINOR and patch == 0:
            return Version(major, minor, 0)
        if bump is Bump.PATCH:
            return Version(major, minor, patch)
    if bump is Bump.MAJOR:
        return Version(major + 1, 0, 0)
    if bump is Bump.MINOR:
        return Version(major, minor + 1, 0)
    return Version(major, minor, patch + 1)


def _prefixes(model: str) -> tuple[str, str]:
    """Every tag of `model` starts with one of these: a cheap filter before the regex."""
    in_tag = model.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)
    return (f"{in_tag}@", f"{in_tag}#")


def parsed_tags(model: str, tag_names: Iterable[str]) -> list[ParsedTag]:
    """The registry tags of one model, in input order; other tags are ignored."""
    prefixes = _prefixes(model)
    result = []
    for name in tag_names:
        if not name.startswith(prefixes):
            continue
        parsed = parse_tag(name)
        if parsed is not None and parsed.artifact == model:
            result.append(parsed)
    return result


def taken_versions(model: str, tag_names: Iterable[str]) -> set[Version]:
    """Every version that has a tag, deregistered ones included: none may be reused."""
    return {
        t.version
        for t in parsed_tags(model, tag_names)
        if t.version is not None and t.action in (TagAction.REGISTER, TagAction.DEREGISTER)
    }


def latest_version(model: str, tag_names: Iterable[str]) -> Version | None:
    """The highest version ever tagged for `model` (by SemVer precedence), or None."""
    versions = taken_versions(model, tag_names)
    return max(versions) if versions else None


def next_version(model: str, tag_names: Iterable[str], bump: Bump) -> Version:
    """The version a new release of `model` gets: `bump` applied to the highest one."""
    names = list(tag_names)
    taken = taken_versions(model, names)
    candidate = bump_version(max(taken) if taken else None, bump)
    while candidate in taken:  # only reachable via odd pre-release histories
        candidate = bump_version(candidate, Bump.PATCH)
    return candidate


def next_counter(model: str, tag_names: Iterable[str]) -> int:
    """GTO's event counter: one more than the highest `#N` on any tag of `model`."""
    counters = [t.counter for t in parsed_tags(model, tag_names) if t.counter is not None]
    return max(counters, default=0) + 1


# --- history from tags ---------------------------------------------------------------


@dataclass(frozen=True)
class TagRef:
    """A tag name, the commit it points at, and (for annotated tags) when it was made."""

    name: str
    commit: str
    date: str = ""
    annotated: bool = True
    timestamp: int = 0


@dataclass(frozen=True)
class VersionEntry:
    version: Version
    tag: str
    commit: str
    date: str
    deregistered: bool = False


@dataclass(frozen=True)
class StageEvent:
    """One assignment (or unassignment) of a stage, in counter order."""

    stage: str
    version: Version | None
    tag: str
    commit: str
    counter: int
    date: str
    assigned: bool


@dataclass
class ModelHistory:
    """Versions and stage state of one model, as GTO would compute them from tags.

    Built once by `build_history`; the stage look-ups are memoised, so do not mutate it.
    """

    model: str
    versions: list[VersionEntry] = field(default_factory=list)
    events: list[StageEvent] = field(default_factory=list)
    next_counter: int = 1
    last_timestamp: int = 0
    _memo: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)

    def version_at(self, commit: str, *, deregistered: bool = False) -> VersionEntry | None:
        """The highest version tagged on `commit` (deregistered ones only if asked)."""
        key = ("at+" if deregistered else "at", commit)
        if not self._memo.get(("indexed", "")):
            for entry in self.versions:  # ascending: the highest version wins
                self._memo[("at+", entry.commit)] = entry
                if not entry.deregistered:
                    self._memo[("at", entry.commit)] = entry
            self._memo[("indexed", "")] = True
        return self._memo.get(key)

    def find(self, version: Version) -> VersionEntry | None:
        for entry in self.versions:
            if entry.version == version:
                return entry
        return None

    def active(self, stage: str) -> list[Version]:
        """Versions whose last event in `stage` is an assignment, most recent first."""
        key = ("active", stage)
        if key not in self._memo:
            last: dict[Version, StageEvent] = {}
            for event in self.events:
                if event.stage == stage and event.version is not None:
                    last[event.version] = event
            ordered = sorted(last.values(), key=lambda e: e.counter, reverse=True)
            self._memo[key] = [e.version for e in ordered if e.assigned and e.version is not None]
        return list(self._memo[key])

    def current(self, stage: str) -> Version | None:
        """The version in `stage`: the most recently assigned one that is still active."""
        active = self.active(stage)
        return active[0] if active else None

    def stages(self) -> list[str]:
        """Every stage that has events, in order of first appearance."""
        seen: dict[str, None] = {}
        for event in self.events:
            seen.setdefault(event.stage, None)
        return list(seen)

    def stages_of(self, version: Version) -> list[str]:
        """The stages `version` currently holds."""
        key = ("holders", "")
        if key not in self._memo:
            self._memo[key] = {s: self.current(s) for s in self.stages()}
        return [s for s, held in self._memo[key].items() if held == version]

    def ever_assigned(self, version: Version, stage: str) -> bool:
        return any(e.assigned and e.stage == stage and e.version == version for e in self.events)

    def previous(self, stage: str) -> Version | None:
        """The version that held `stage` before the current one (for a rollback)."""
        current = self.current(stage)
        live = {v.version for v in self.versions if not v.deregistered}
        for event in sorted(self.events, key=lambda e: e.counter, reverse=True):
            if (
                event.stage == stage
                and event.assigned
                and event.version is not None
                and event.version != current
                and event.version in live
            ):
                return event.version
        return None


def build_history(model: str, refs: Sequence[TagRef]) -> ModelHistory:
    """Versions (SemVer order) and stage events (counter order) of `model` from its tags.

    A stage tag names no version: like GTO, it means the version registered on the commit
    it points at. Lightweight tags are skipped, as GTO skips them.
    """
    history = ModelHistory(model)
    deregistered: set[Version] = set()
    stage_refs: list[tuple[ParsedTag, TagRef]] = []
    counters = [0]
    prefixes = _prefixes(model)
    for ref in refs:
        if not ref.name.startswith(prefixes):
            continue
        parsed = parse_tag(ref.name)
        if parsed is None or parsed.artifact != model:
            continue
        if parsed.counter is not None:
            counters.append(parsed.counter)
        history.last_timestamp = max(history.last_timestamp, ref.timestamp)
        if not ref.annotated:
            continue
        if parsed.action is TagAction.REGISTER and parsed.version is not None:
            history.versions.append(VersionEntry(parsed.version, ref.name, ref.commit, ref.date))
        elif parsed.action is TagAction.DEREGISTER and parsed.version is not None:
            deregistered.add(parsed.version)
        elif parsed.action in (TagAction.ASSIGN, TagAction.UNASSIGN):
            stage_refs.append((parsed, ref))
    history.versions = sorted(
        (
            VersionEntry(v.version, v.tag, v.commit, v.date, v.version in deregistered)
            for v in history.versions
        ),
        key=lambda v: v.version,
    )
    history.next_counter = max(counters) + 1
    for parsed, ref in stage_refs:
        entry = history.version_at(ref.commit, deregistered=True)
        assert parsed.stage is not None
        history.events.append(
            StageEvent(
                stage=parsed.stage,
                version=entry.version if entry else None,
                tag=ref.name,
                commit=ref.commit,
                counter=parsed.counter or 0,
                date=ref.date,
                assigned=parsed.action is TagAction.ASSIGN,
            )
        )
    # Counter order is the order of events; ties (hand-made tags) fall back to the date.
    history.events.sort(key=lambda e: (e.counter, e.date))
    return history


# --- stage rules -----------------------------------------------------------------------


def check_stage_order(
    history: ModelHistory, version: Version, stage: str, stages: Sequence[str]
) -> None:
    """Raise ReleaseRuleError unless `version` has been in every stage before `stage`."""
    if stage not in stages:
        known = ", ".join(stages) or "(none)"
        raise ReleaseRuleError(f"unknown stage {stage!r}: the policy's release.stages are {known}")
    earlier = stages[: stages.index(stage)]
    missing = [s for s in earlier if not history.ever_assigned(version, s)]
    if missing:
        raise ReleaseRuleError(
            f"{history.model} {version} cannot go to {stage!r} before "
            f"{', '.join(map(repr, missing))}: promote it there first "
            f"(release.stages order: {' -> '.join(stages)})"
        )


@dataclass(frozen=True)
class StageChange:
    """One stage tag to write: an assignment, or the unassignment that precedes it."""

    tag: str
    version: Version
    assigned: bool


def plan_assignment(history: ModelHistory, version: Version, stage: str) -> list[StageChange]:
    """The tags that make `version` the one in `stage`, for us and for `gto show`.

    `gto show` picks the highest SemVer among active assignments, so moving a stage to a
    LOWER version (a rollback) first unassigns every higher active version; moving it up
    needs only the assignment. Empty when `version` already holds the stage.
    """
    if history.current(stage) == version:
        return []
    changes = []
    counter = history.next_counter
    for other in sorted(history.active(stage), reverse=True):
        if other > version:
            tag = format_stage_tag(history.model, stage, counter, unassign=True)
            changes.append(StageChange(tag, other, assigned=False))
            counter += 1
    changes.append(StageChange(format_stage_tag(history.model, stage, counter), version, True))
    return changes


# --- history views -----------------------------------------------------------------------


def history_to_dict(history: ModelHistory) -> dict[str, object]:
    """A JSON-ready view of one model's versions, stages and stage events."""
    stages = {}
    for stage in history.stages():
        current = history.current(stage)
        entry = history.find(current) if current else None
        stages[stage] = {
            "version": str(current) if current else None,
            "commit": entry.commit if entry else None,
        }
    return {
        "model": history.model,
        "latest": str(history.versions[-1].version) if history.versions else None,
        "versions": [
            {
                "version": str(v.version),
                "tag": v.tag,
                "commit": v.commit,
                "date": v.date,
                "deregistered": v.deregistered,
                "stages": history.stages_of(v.version),
            }
            for v in reversed(history.versions)
        ],
        "stages": stages,
        "events": [
            {
                "tag": e.tag,
                "stage": e.stage,
                "action": "assign" if e.assigned else "unassign",
                "version": str(e.version) if e.version else None,
                "commit": e.commit,
                "counter": e.counter,
                "date": e.date,
            }
            for e in reversed(history.events)
        ],
    }


def artifacts_in_tags(tag_names: Iterable[str]) -> list[str]:
    """Every artifact named by a GTO tag, in order of first appearance."""
    seen: dict[str, None] = {}
    for name in tag_names:
        parsed = parse_tag(name)
        if parsed is not None:
            seen.setdefault(parsed.artifact, None)
    return list(seen)
