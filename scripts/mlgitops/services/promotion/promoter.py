"""The promoter: register a version, assign a stage, roll a stage back.

Order matters and every step can be re-run:
1. read the tags once (fetched from the git remote); a commit that already has a
   version of the model is "already promoted" (a missing release is finished);
2. refuse a commit that is not a descendant of the latest version's commit (history);
3. decide the bump (bump) and the next version from the tags;
4. verify the local cache, `dvc push`, verify the remote by content (data);
5. push the annotated tag as a NEW ref, atomically with the fast-forward of the model's
   latest-version ref (tagging, history): a rejected push means another run wrote
   first, so the tags are re-read and steps 1-3 run again;
6. create the GitHub Release on the existing tag, unless one exists (release).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from mlgitops.core.artifacts import DeclaredModel
from mlgitops.core.markdown import release as release_notes
from mlgitops.core.markdown.release import ReleaseFacts
from mlgitops.core.policy import Policy
from mlgitops.core.tags import Version, format_tag
from mlgitops.core.versioning import (
    Bump,
    BumpDecision,
    ModelHistory,
    ReleaseRuleError,
    StageChange,
    check_stage_order,
    next_version,
    plan_assignment,
)
from mlgitops.defaults import DEFAULT_GIT_REMOTE
from mlgitops.errors import InputError, Location, ToolError
from mlgitops.io.git import TagConflict
from mlgitops.io.workspace import Workspace
from mlgitops.services.promotion import data
from mlgitops.services.promotion.bump import Decision, decide_bump, merged_pull_request
from mlgitops.services.promotion.history import (
    check_follows_history,
    latest_ref,
    latest_version,
)
from mlgitops.services.promotion.host import ReleaseHost
from mlgitops.services.promotion.release import (
    Repository,
    bump_source_of,
    ensure_release,
    release_facts,
)
from mlgitops.services.promotion.settings import POLICY_FILE, ReleaseSettings
from mlgitops.services.promotion.tagging import TagObject, make_tag, push_tags

MAX_PUSH_ATTEMPTS = 5

Log = Callable[[str], None]


@dataclass
class PromotionResult:
    """What happened for one model; `status` is also a step output."""

    model: str
    status: str  # promoted | already-promoted | skipped | dry-run | assigned | unchanged
    commit: str
    version: str | None = None
    tag: str | None = None
    tags: list[str] = field(default_factory=list)
    release_url: str | None = None
    message: str = ""


@dataclass(frozen=True)
class DataPolicy:
    """How the data of a commit is made safe before its tag."""

    remote: str | None = None  # DVC remote (None: core.remote)
    push: bool = True  # `dvc push` first (after verifying the local cache)
    repair: bool = False  # re-upload bad remote objects from the verified local cache


@dataclass
class Promoter:
    """Promote models of one workspace; `host` None means no GitHub API.

    The commits whose data was proven in this run are remembered (`verified`), so
    several models on one commit verify it once.
    """

    ws: Workspace
    settings: ReleaseSettings
    # The governance policy as this command read it (None: the repository has none).
    policy: Policy | None = None
    host: ReleaseHost | None = None
    git_remote: str = DEFAULT_GIT_REMOTE
    data_policy: DataPolicy = field(default_factory=DataPolicy)
    repository: Repository = field(default_factory=Repository)
    log: Log = print
    verified: set[str] = field(default_factory=set)

    # -- shared ----------------------------------------------------------------------
    def history(self, model: str) -> ModelHistory:
        self.ws.tags(fetch_from=self.git_remote)
        return self.ws.history(model)

    def _reread(self, model: str) -> ModelHistory:
        self.ws.refresh_tags()
        return self.ws.history(model)

    def _prove_data(self, commit: str) -> None:
        if commit in self.verified:
            return
        policy = self.data_policy
        remote = policy.remote or self.ws.dvc_config.default_remote()
        if policy.repair:
            data.repair_remote(self.ws, commit, remote, self.log)
        elif policy.push:
            data.push_verified(self.ws, commit, remote, self.log)
        data.verify_remote_data(self.ws, commit, remote, self.log)
        self.verified.add(commit)

    def _facts(
        self,
        model: DeclaredModel,
        commit: str,
        version: Version,
        history: ModelHistory,
        decision: Decision,
    ) -> ReleaseFacts:
        older = [v for v in history.versions if v.version < version and not v.deregistered]
        return release_facts(
            self.ws, model, commit, version,
            bump_source=decision.bump.source, pull=decision.pull,
            repository=self.repository, previous_tag=older[-1].tag if older else None,
        )  # fmt: skip

    def _taken(self, tag: str, commit: str) -> None:
        """TagConflict when a tag named `tag` exists here (annotated or lightweight)."""
        ref = next((r for r in self.ws.tags() if r.name == tag), None)
        if ref is None:
            remote = self.ws.git.remote_tags(self.git_remote, [tag]).get(tag)
            if remote is None:
                return
            kind, owner = ("an annotated" if remote.annotated else "a lightweight"), remote.commit
        else:
            kind, owner = ("an annotated" if ref.annotated else "a lightweight"), ref.commit
        note = "" if kind == "an annotated" else " (GTO ignores lightweight tags)"
        raise TagConflict(
            f"tag {tag} already exists as {kind} tag at commit {owner}{note}, "
            f"not at the commit being promoted ({commit})",
            hint="tags are never moved; choose another --version, or delete the wrong tag "
            "on the remote if it was made by mistake",
        )

    # -- register a version ----------------------------------------------------------
    def promote(
        self,
        model: DeclaredModel,
        *,
        commit: str,
        bump: str = "auto",
        version: str | None = None,
        dry_run: bool = False,
    ) -> PromotionResult:
        """Tag `commit` as the next version of `model` and release it (idempotent)."""
        history = self.history(model.name)
        explicit = Version.parse(version) if version else None
        decision: Decision | None = None
        for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
            done = history.version_at(commit)
            if done is not None:
                return self._already(model, commit, history, done.version, dry_run, decision)
            check_follows_history(self.ws.git, history, commit)
            if decision is None:
                latest = latest_version(history)
                decision = (
                    Decision(BumpDecision(Bump.PATCH, f"--version {explicit}"))
                    if explicit
                    else decide_bump(
                        self.host, self.ws.git, commit, bump, self.settings.default_bump,
                        since=latest.commit if latest else None,
                    )
                )  # fmt: skip
            if decision.bump.bump is Bump.SKIP:
                message = f"{model.name}: no release ({decision.bump.source})"
                self.log(message)
                return PromotionResult(model.name, "skipped", commit, message=message)
            names = [ref.name for ref in self.ws.tags()]
            target = explicit or next_version(model.name, names, decision.bump.bump)
            tag = format_tag(model.name, target)
            if explicit:
                self._taken(tag, commit)
            facts = self._facts(model, commit, target, history, decision)
            if dry_run:
                message = (
                    f"{model.name}: would tag {commit[:12]} as {tag} ({decision.bump.source}); "
                    "dry run: data not pushed or verified, nothing tagged"
                )
                self.log(message)
                return PromotionResult(
                    model.name, "dry-run", commit, str(target), tag, [tag], None, message
                )
            self._prove_data(commit)
            obj = make_tag(
                self.ws.git, tag, commit, release_notes.tag_message(facts),
                not_before=history.last_timestamp,
            )  # fmt: skip
            pushed = push_tags(
                self.ws, self.git_remote, [obj], also=[(commit, latest_ref(model.name))]
            )
            if pushed:
                self.log(
                    f"tagged {commit[:12]} as {tag} ({decision.bump.source}); "
                    f"pushed to {self.git_remote}"
                )
                url = ensure_release(self.host, tag, functools.partial(_same, facts), self.log)
                return PromotionResult(
                    model.name, "promoted", commit, str(target), tag, [tag], url,
                    f"{model.name}: promoted {commit[:12]} as {tag}",
                )  # fmt: skip
            # Someone else pushed first: re-read the tags and decide again.
            before = latest_version(history)
            history = self._reread(model.name)
            owner = history.find(target)
            if owner is None and latest_version(history) == before:
                self._stale_latest_ref(model.name, commit)
            self.log(
                f"{tag} or the latest version of {model.name} was written concurrently"
                f"{f' (at {owner.commit[:12]})' if owner else ''}; re-reading (attempt {attempt})"
            )
            if explicit and history.version_at(commit) is None:
                self._taken(tag, commit)
        raise ToolError(
            f"gave up after {MAX_PUSH_ATTEMPTS} attempts: other promotions keep taking the next "
            f"version of {model.name}",
            hint="re-run 'mlgitops promote'",
        )

    def _stale_latest_ref(self, model: str, commit: str) -> None:
        """The push was refused although no tag changed: the latest-version ref points at
        a commit that `commit` does not descend from (a version deregistered since?)."""
        ref = latest_ref(model)
        held = self.ws.git.remote_refs(self.git_remote, [ref]).get(ref)
        if held is None or held == commit:
            return
        raise InputError(
            f"refusing to release {model} on {commit}: {self.git_remote}'s {ref} points at "
            f"{held}, and {commit[:12]} does not descend from it",
            hint="promote a descendant of that commit; if its version was withdrawn on "
            f"purpose, move the ref deliberately (git push --force {self.git_remote} "
            f"<commit>:{ref})",
        )

    def _already(
        self,
        model: DeclaredModel,
        commit: str,
        history: ModelHistory,
        version: Version,
        dry_run: bool,
        decision: Decision | None,
    ) -> PromotionResult:
        tag = format_tag(model.name, version)
        message = f"{model.name}: already promoted: {commit[:12]} is {tag}"
        self.log(message)
        url = None
        if not dry_run:

            def facts() -> ReleaseFacts:
                pull = decision.pull if decision else merged_pull_request(self.host, commit)
                source = bump_source_of(self.ws, tag)
                found = Decision(BumpDecision(Bump.PATCH, source), pull)
                return self._facts(model, commit, version, history, found)

            url = ensure_release(self.host, tag, facts, self.log)
        return PromotionResult(
            model.name, "already-promoted", commit, str(version), tag, [tag], url, message
        )

    # -- stages ----------------------------------------------------------------------
    def release_into_stage(
        self,
        model: DeclaredModel,
        stage: str,
        *,
        commit: str,
        bump: str = "auto",
        dry_run: bool = False,
    ) -> list[PromotionResult]:
        """Promote `commit` (if it is not a version yet), then assign it to `stage`.

        The stage order is checked BEFORE anything is tagged: a commit that is not a
        version yet can only go to the first stage.
        """
        stages = self.settings.stages
        self.settings.check_stage(stage)
        history = self.history(model.name)
        earlier = stages[: stages.index(stage)]
        entry = history.version_at(commit)
        if entry is not None:
            _check_order(history, entry.version, stage, stages)
        elif earlier:
            raise InputError(
                f"commit {commit[:12]} is not a version of {model.name} yet, so it cannot go "
                f"to {stage!r} before {', '.join(map(repr, earlier))} "
                f"(release.stages order: {' -> '.join(stages)})",
                hint=f"promote it to {earlier[0]!r} first",
            )
        registered = self.promote(model, commit=commit, bump=bump, dry_run=dry_run)
        if registered.status in ("skipped", "dry-run"):
            if registered.status == "dry-run":
                self.log(f"{model.name}: would then assign {registered.version} to {stage!r}")
            return [registered]
        assigned = self.assign_stage(
            model, stage, version=registered.version, commit=commit, dry_run=dry_run
        )
        return [registered, assigned]

    def assign_stage(
        self,
        model: DeclaredModel,
        stage: str,
        *,
        version: str | None,
        commit: str,
        dry_run: bool = False,
    ) -> PromotionResult:
        """Put `version` (default: the version of `commit`) into `stage`, in policy order."""
        self.settings.check_stage(stage)

        def target(history: ModelHistory) -> Version:
            chosen = _stage_target(history, version, commit)
            _check_order(history, chosen, stage, self.settings.stages)
            return chosen

        return self._move_stage(model, stage, target, dry_run, "promote")

    def rollback(
        self, model: DeclaredModel, stage: str, *, dry_run: bool = False
    ) -> PromotionResult:
        """Re-point `stage` to the version that held it before the current one.

        Nothing to roll back (no version in the stage, or only one ever) is a refusal of
        the request: InputError, exit 2.
        """
        self.settings.check_stage(stage)

        def target(history: ModelHistory) -> Version:
            current = history.current(stage)
            if current is None:
                raise InputError(f"{model.name} has no version in {stage!r}: nothing to roll back")
            previous = history.previous(stage)
            if previous is None:
                raise InputError(
                    f"{model.name} {current} is the only version ever in {stage!r}: "
                    "nothing to roll back to",
                    hint=f"assign another version with 'mlgitops promote --stage {stage} "
                    "--version vX.Y.Z'",
                )
            return previous

        return self._move_stage(model, stage, target, dry_run, "rollback")

    def _move_stage(
        self,
        model: DeclaredModel,
        stage: str,
        target: Callable[[ModelHistory], Version],
        dry_run: bool,
        action: str,
    ) -> PromotionResult:
        """Move `stage` to `target(history)`; when another run moved the stage tags first
        (a refused push), read them again and choose again, a bounded number of times."""
        history = self.history(model.name)
        for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
            result = self._write_stage(history, target(history), stage, dry_run, action)
            if result is not None:
                return result
            self.log(f"stage tags of {model.name} changed concurrently; re-reading "
                     f"(attempt {attempt})")  # fmt: skip
            history = self._reread(model.name)
        raise ToolError(f"gave up after {MAX_PUSH_ATTEMPTS} attempts: concurrent stage changes")

    def _write_stage(
        self, history: ModelHistory, target: Version, stage: str, dry_run: bool, action: str
    ) -> PromotionResult | None:
        """Write the stage tags moving `stage` to `target`; None when a push was refused."""
        model = history.model
        entry = history.find(target)
        assert entry is not None
        changes = plan_assignment(history, target, stage)
        if not changes:
            message = f"{model}: {target} is already in {stage!r}"
            self.log(message)
            return PromotionResult(
                model, "unchanged", entry.commit, str(target), None, [], None, message
            )
        describe = ", ".join(_describe_change(c) for c in changes)
        if dry_run:
            message = f"{model}: would write {describe} (dry run)"
            self.log(message)
            return PromotionResult(
                model, "dry-run", entry.commit, str(target), changes[-1].tag,
                [c.tag for c in changes], None, message,
            )  # fmt: skip
        objects: list[TagObject] = []
        last = history.last_timestamp
        for change in changes:
            changed = history.find(change.version)
            assert changed is not None
            verb = "assign" if change.assigned else "unassign"
            where = "to" if change.assigned else "from"
            message = f"{action}: {verb} {model} {change.version} {where} {stage}\n"
            obj = make_tag(self.ws.git, change.tag, changed.commit, message, not_before=last)
            last = obj.timestamp
            objects.append(obj)
        if not push_tags(self.ws, self.git_remote, objects):
            return None
        message = f"{model}: {stage} is now {target} ({describe})"
        self.log(message)
        return PromotionResult(
            model, "assigned", entry.commit, str(target), changes[-1].tag,
            [c.tag for c in changes], None, message,
        )  # fmt: skip


def _same(value: ReleaseFacts) -> ReleaseFacts:
    return value


def _check_order(
    history: ModelHistory, version: Version, stage: str, stages: tuple[str, ...]
) -> None:
    """A stage out of policy order is a refused request (exit 2), not a failed gate."""
    try:
        check_stage_order(history, version, stage, stages)
    except ReleaseRuleError as error:
        raise InputError(str(error), location=Location(POLICY_FILE, key="release.stages")) from None


def _stage_target(history: ModelHistory, version: str | None, commit: str) -> Version:
    if version:
        target = Version.parse(version)
        entry = history.find(target)
        if entry is None:
            known = ", ".join(str(v.version) for v in history.versions)
            raise InputError(
                f"{history.model} {target} is not a registered version",
                hint=f"known versions: {known or 'none'}",
            )
    else:
        entry = history.version_at(commit)
        if entry is None:
            raise InputError(
                f"commit {commit[:12]} has no version of {history.model}; pass --version",
            )
    if entry.deregistered:
        raise InputError(f"{history.model} {entry.version} is deregistered")
    return entry.version


def _describe_change(change: StageChange) -> str:
    return f"{change.tag} ({'assign' if change.assigned else 'unassign'} {change.version})"
