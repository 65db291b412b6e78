"""Promotion: verified data, a pushed GTO tag, then a GitHub Release on that tag.

Order matters and every step can be re-run:
1. fetch tags from the git remote; the current commit already has a version tag
   for the model → "already promoted" (and finish a missing release);
2. decide the bump (PR labels, else the policy default) and the next version from tags;
3. `dvc push`, then prove the DVC remote holds every object of the commit by fetching
   into an EMPTY cache, checking every pinned object arrived and re-hashing it (DVC 3.67
   drops a corrupted object on fetch yet exits 0, and `dvc status -c` and `dvc push`
   trust directory manifests, so neither notices a file missing inside a directory);
4. create an annotated tag object and push it as a NEW ref (never forced): a rejected
   push means another run created that tag, so re-read the tags and take the next
   version (or stop if it already tagged this commit);
5. create the GitHub Release on the existing tag, unless one exists.
Stage assignments and rollbacks write GTO stage tags the same way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from mlgitops.core.markdown import release as release_notes
from mlgitops.core.markdown.release import PullRequestRef, ReleaseFacts
from mlgitops.core.metrics import flatten
from mlgitops.core.tags import Version, check_model_name, format_tag
from mlgitops.core.versioning import (
    Bump,
    BumpDecision,
    ModelHistory,
    ReleaseRuleError,
    StageChange,
    TagRef,
    build_history,
    bump_from_labels,
    check_stage_order,
    combine_bumps,
    next_version,
    parse_bump,
    plan_assignment,
)
from mlgitops.errors import (
    GateFailed,
    InputError,
    Location,
    MlgitopsError,
    ToolError,
    UsageError,
)
from mlgitops.proc import git, run

DEFAULT_GIT_REMOTE = "origin"
MAX_PUSH_ATTEMPTS = 5
# Merges on the default branch looked at for release labels when promotion runs were
# coalesced (one API call each).
MAX_COALESCED_COMMITS = 20

Log = Callable[[str], None]


# --- what we need from the GitHub client (mlgitops.github.client.GitHubHost fits) -----


class _PullRequest(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def html_url(self) -> str: ...
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def merged(self) -> bool: ...
    @property
    def author_login(self) -> str: ...


class _Release(Protocol):
    @property
    def tag_name(self) -> str: ...
    @property
    def html_url(self) -> str: ...


class ReleaseHost(Protocol):
    def pull_requests_for_commit(self, sha: str) -> Sequence[_PullRequest]: ...
    def get_release_by_tag(self, tag: str) -> _Release | None: ...
    def create_release(self, tag: str, name: str, body: str) -> _Release: ...


def _latest_commit(history: ModelHistory) -> str | None:
    """The commit of the model's highest registered version (None before the first)."""
    registered = [entry for entry in history.versions if not entry.deregistered]
    return max(registered, key=lambda entry: entry.version).commit if registered else None


class TagConflict(MlgitopsError):
    """A tag we need already exists at another commit: someone must decide; exit 2."""


# --- repository facts -------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A model declared under `artifacts:` in dvc.yaml."""

    name: str
    path: str
    metrics: str | None = None
    card: str | None = None


@dataclass(frozen=True)
class ReleaseSettings:
    default_bump: Bump = Bump.MINOR
    stages: tuple[str, ...] = ("staging", "production")


def repo_root(start: Path | str = ".") -> Path:
    return Path(
        git(
            "rev-parse",
            "--show-toplevel",
            cwd=start,
        )
    )


def resolve_commit(repo: Path, rev: str = "HEAD") -> str:
    return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo)


def show_file(repo: Path, commit: str, path: str) -> str | None:
    """A file's text at `commit`, or None when it is not there."""
    result = run(["git", "show", f"{commit}:{path}"], repo, check=False)
    return result.stdout if result.returncode == 0 else None


def read_models(repo: Path, commit: str) -> list[ModelSpec]:
    """Models from the `artifacts:` of dvc.yaml at `commit` (type model, or any type)."""
    text = show_file(repo, commit, "dvc.yaml")
    if text is None:
        raise InputError("no dvc.yaml at this commit", location=Location("dvc.yaml"))
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise InputError(
            f"dvc.yaml is not valid YAML: {error}", location=Location("dvc.yaml")
        ) from None
    artifacts = data.get("artifacts") if isinstance(data, dict) else None
    if not isinstance(artifacts, dict) or not artifacts:
        raise InputError(
            "dvc.yaml declares no artifacts: add one under 'artifacts:' per model",
            location=Location("dvc.yaml", key="artifacts"),
        )
    models = []
    for name, spec in artifacts.items():
        if not isinstance(spec, dict):
            spec = {}
        if spec.get("type", "model") != "model":
            continue
        try:
            check_model_name(str(name))
        except ValueError as error:
            raise InputError(
                str(error), location=Location("dvc.yaml", key=f"artifacts.{name}")
            ) from None
        meta = spec.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        models.append(
            ModelSpec(
                name=str(name),
                path=str(spec.get("path", "")),
                metrics=meta.get("metrics"),
                card=meta.get("card"),
            )
        )
    return models


def select_models(models: Sequence[ModelSpec], name: str | None) -> list[ModelSpec]:
    if name is None:
        return list(models)
    for model in models:
        if model.name == name:
            return [model]
    known = ", ".join(m.name for m in models) or "(none)"
    raise InputError(
        f"unknown model {name!r}: dvc.yaml artifacts are {known}",
        location=Location("dvc.yaml", key="artifacts"),
    )


def read_release_settings(repo: Path) -> ReleaseSettings:
    """`release.default_bump` and `release.stages` from governance/policy.yaml."""
    path = repo / "governance" / "policy.yaml"
    if not path.exists():
        return ReleaseSettings()
    from mlgitops.io.policy_loader import load_policy

    policy = load_policy(path, file="governance/policy.yaml")
    try:
        bump = parse_bump(policy.release.default_bump)
    except ValueError as error:
        raise InputError(str(error), location=policy.location("release", "default_bump")) from None
    return ReleaseSettings(bump, tuple(policy.release.stages))


# --- git tags ----------------------------------------------------------------------------

_REF_FORMAT = (
    "%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)"
    "%00%(creatordate:iso-strict)%00%(creatordate:unix)"
)


def list_tag_refs(repo: Path) -> list[TagRef]:
    """Every local tag with its commit, from ONE `git for-each-ref` (no API, no paging)."""
    output = git("for-each-ref", f"--format={_REF_FORMAT}", "refs/tags", cwd=repo)
    refs = []
    for line in output.splitlines():
        name, kind, obj, peeled, date, unix = line.split("\0")
        timestamp = int(unix) if unix.isdigit() else 0
        if kind == "tag":
            refs.append(TagRef(name, peeled, date, annotated=True, timestamp=timestamp))
        elif kind == "commit":
            refs.append(TagRef(name, obj, date, annotated=False, timestamp=timestamp))
    return refs


def remote_tags(repo: Path, remote: str, pattern: str | None = None) -> dict[str, str]:
    """Tag name → commit on the remote (annotated tags peeled)."""
    args = ["ls-remote", "--tags", remote]
    if pattern:
        args.append(pattern)
    tags: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in git(*args, cwd=repo).splitlines():
        sha, _, ref = line.partition("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            tags[name] = sha
    return {name: peeled.get(name, sha) for name, sha in tags.items()}


def fetch_tags(repo: Path, remote: str) -> None:
    """Fetch every tag from `remote` without ever overwriting a local one.

    A local tag that differs from the remote's is a conflict naming both commits.
    """
    if run(["git", "remote", "get-url", remote], repo, check=False).returncode != 0:
        raise UsageError(
            f"no git remote named '{remote}': tags are read from and pushed to it",
            hint="pass --remote NAME, or 'git remote add origin URL'",
        )
    result = run(
        ["git", "fetch", "--quiet", "--no-tags", remote, "refs/tags/*:refs/tags/*"],
        repo,
        check=False,
    )
    if result.returncode == 0:
        return
    local = {ref.name: ref.commit for ref in list_tag_refs(repo)}
    remote_map = remote_tags(repo, remote)
    clashes = [
        f"'{name}': local {local[name]}, {remote} {sha}"
        for name, sha in sorted(remote_map.items())
        if name in local and local[name] != sha
    ]
    if clashes:
        raise TagConflict(
            "local tags differ from the remote's: " + "; ".join(clashes),
            hint="tags are never overwritten; delete the stale LOCAL tag "
            "(git tag -d NAME) if the remote is right",
        )
    detail = (result.stderr or result.stdout).strip()
    raise ToolError(f"could not fetch tags from '{remote}': {detail}")


def _tagger(repo: Path, not_before: int) -> str:
    """`Name <email> <time> <zone>` of the committer, at a time after `not_before`.

    `gto show` orders a model's events by tag time, in whole seconds; two stage changes
    within one second would tie and may show the older one. Each new tag of a model is
    therefore dated at least one second after the model's latest tag.
    """
    ident = git("var", "GIT_COMMITTER_IDENT", cwd=repo)
    person, seconds, zone = ident.rsplit(" ", 2)
    if int(seconds) <= not_before:
        seconds = str(not_before + 1)
    return f"{person} {seconds} {zone}"


def make_tag_object(
    repo: Path, tag: str, commit: str, message: str, *, not_before: int = 0
) -> tuple[str, int]:
    """An annotated tag object for `commit`, not yet referenced by any ref; its id and
    its time (seconds since the epoch)."""
    tagger = _tagger(repo, not_before)
    content = f"object {commit}\ntype commit\ntag {tag}\ntagger {tagger}\n\n{message}"
    obj = run(["git", "mktag"], repo, input_text=content).stdout.strip()
    return obj, int(tagger.rsplit(" ", 2)[1])


def push_new_tags(repo: Path, remote: str, objects: Sequence[tuple[str, str]]) -> bool:
    """Push (object, tag) pairs as NEW refs, atomically. False if a tag already existed.

    Nothing is forced: the remote refuses to move an existing tag. On success the
    local refs are created too.
    """
    specs = [f"{obj}:refs/tags/{tag}" for obj, tag in objects]
    result = run(["git", "push", "--quiet", "--atomic", remote, *specs], repo, check=False)
    if result.returncode != 0:
        existing = remote_tags(repo, remote)
        if any(tag in existing for _, tag in objects):
            return False
        detail = (result.stderr or result.stdout).strip()
        raise ToolError(f"git push of {', '.join(t for _, t in objects)} failed: {detail}")
    for obj, tag in objects:
        run(["git", "update-ref", f"refs/tags/{tag}", obj, ""], repo, check=False)
    return True


# --- DVC data verification -------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    remote: str
    objects: int
    bytes: int


def _dvc(args: Sequence[str], cwd: Path, check: bool = True) -> Any:
    return run(["dvc", *args], cwd, check=check)


def _dvc_config(repo: Path) -> dict[str, dict[str, str]]:
    """`.dvc/config` overlaid with `.dvc/config.local` (what DVC reads at repo level)."""
    from configobj import ConfigObj  # DVC's own config reader

    merged: dict[str, dict[str, str]] = {}
    for name in ("config", "config.local"):
        path = repo / ".dvc" / name
        if path.exists():
            for section, values in ConfigObj(str(path), encoding="utf-8").items():
                if isinstance(values, dict):
                    merged.setdefault(section, {}).update(values)
    return merged


def dvc_default_remote(repo: Path) -> str:
    name = _dvc_config(repo).get("core", {}).get("remote", "")
    if not name:
        raise InputError(
            "no default DVC remote: promotion must prove the data is stored remotely",
            location=Location(".dvc/config", key="core.remote"),
            hint="dvc remote add -d <name> <url>",
        )
    return name


def push_data(repo: Path, remote: str) -> None:
    """`dvc push` everything the workspace tracks to `remote`."""
    _dvc(["push", "-r", remote], repo)


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _uncached_paths(workdir: Path) -> set[str]:
    """Outputs declared `cache: false` in plain dvc.yaml stages (they are not pushed)."""
    paths: set[str] = set()
    for dvcfile in workdir.rglob("dvc.yaml"):
        base = dvcfile.parent.relative_to(workdir).as_posix()
        with suppress(yaml.YAMLError, OSError):
            stages = (yaml.safe_load(dvcfile.read_text(encoding="utf-8")) or {}).get("stages")
            for stage in (stages or {}).values():
                for key in ("outs", "metrics", "plots"):
                    for entry in (stage or {}).get(key) or ():
                        if isinstance(entry, dict):
                            for path, options in entry.items():
                                if isinstance(options, dict) and options.get("cache") is False:
                                    paths.add(path if base in ("", ".") else f"{base}/{path}")
    return paths


def _expected_objects(workdir: Path) -> dict[str, str]:
    """Cache object name (`ab/cdef...[.dir]`) → path, for every cached top-level output
    that dvc.lock and .dvc files of the exported commit pin."""
    uncached = _uncached_paths(workdir)
    expected: dict[str, str] = {}
    for path in sorted([*workdir.rglob("dvc.lock"), *workdir.rglob("*.dvc")]):
        relative = path.relative_to(workdir)
        if relative.parts[0] == ".dvc":
            continue
        base = relative.parent.as_posix()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, OSError):
            continue
        if path.name == "dvc.lock":
            found = [h for h in release_notes.data_hashes_from_lock(data) if h.kind == "out"]
        else:
            found = release_notes.data_hashes_from_dvcfile(path.name, data)
        for item in found:
            full = item.path if base in ("", ".") else f"{base}/{item.path}"
            # Outputs committed to git (cache: false) are in the export and not pushed.
            if full in uncached or (workdir / full).exists():
                continue
            expected[f"{item.md5[:2]}/{item.md5[2:]}"] = full
    return expected


def _repo_cache(repo: Path) -> Path:
    configured = _dvc_config(repo).get("cache", {}).get("dir")
    return (repo / ".dvc" / configured).resolve() if configured else repo / ".dvc" / "cache"


def _expand_directories(
    expected: dict[str, str], caches: Sequence[Path]
) -> tuple[dict[str, str], list[str]]:
    """Add the files listed in each directory manifest; also return unreadable manifests."""
    files: dict[str, str] = {}
    unreadable = []
    for name, path in expected.items():
        if not name.endswith(".dir"):
            continue
        for cache in caches:
            manifest = cache / "files" / "md5" / name
            try:
                entries = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for entry in entries:
                md5 = str(entry["md5"])
                files[f"{md5[:2]}/{md5[2:]}"] = f"{path}/{entry['relpath']}"
            break
        else:
            unreadable.append(path)
    return {**expected, **files}, unreadable


def _write_scratch_config(repo: Path, work: Path, cache: Path, remote: str) -> None:
    """The scratch copy's `.dvc/config.local`: the user's (credentials live there, never
    in git), plus an empty cache, no SCM, and the remote with an absolute local URL."""
    from configobj import ConfigObj

    section = f'remote "{remote}"'
    settings = _dvc_config(repo).get(section)
    if settings is None or not settings.get("url"):
        raise InputError(
            f"DVC remote '{remote}' is not configured",
            location=Location(".dvc/config", key=section),
        )
    source = repo / ".dvc" / "config.local"
    config = ConfigObj(str(source) if source.exists() else None, encoding="utf-8")
    config.filename = str(work / ".dvc" / "config.local")
    config.setdefault("core", {})["no_scm"] = "true"
    config.setdefault("cache", {})["dir"] = str(cache)
    remote_config = config.setdefault(section, {})
    url = settings["url"]
    if "://" not in url and not os.path.isabs(url):
        remote_config["url"] = str((repo / ".dvc" / url).resolve())
    remote_config["verify"] = "true"
    config.write()


def verify_remote_data(repo: Path, commit: str, remote: str, log: Log) -> Verification:
    """Prove `remote` holds every DVC object `commit` references, by content.

    The commit's files are exported to a scratch directory whose DVC cache is EMPTY;
    `dvc fetch` (remote `verify = true`) must bring every object that dvc.lock and the
    .dvc files pin, each file listed in each directory manifest included; then every
    fetched object is re-hashed against its name.
    """
    with _scratch("mlgitops-verify-") as scratch:
        work = scratch / "work"
        cache = scratch / "cache"
        work.mkdir()
        run(["git", "archive", "--format=tar", "-o", str(scratch / "c.tar"), commit], repo)
        with tarfile.open(scratch / "c.tar") as archive:
            archive.extractall(work, filter="data")
        if not (work / ".dvc").is_dir():
            raise InputError(
                "this commit has no .dvc directory: promotion needs DVC-tracked outputs",
                location=Location(".dvc"),
            )
        _write_scratch_config(repo, work, cache, remote)
        result = _dvc(["fetch", "-r", remote], work, check=False)
        # DVC drops an object whose hash does not match (remote `verify`) and may still
        # exit 0, so completeness is checked against what the commit pins, file by file.
        expected, unreadable = _expand_directories(
            _expected_objects(work), [cache, _repo_cache(repo)]
        )
        files = cache / "files" / "md5"
        present = {
            obj.relative_to(files).as_posix(): obj
            for obj in (files.glob("*/*") if files.exists() else ())
        }
        missing = sorted(path for name, path in expected.items() if name not in present)
        missing += [f"{path} (directory listing)" for path in unreadable if path not in missing]
        if missing or result.returncode != 0:
            shown = "; ".join(missing[:20]) + (
                f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            )
            detail = shown or (result.stderr or result.stdout).strip()
            raise GateFailed(
                f"DVC remote '{remote}' does not hold all data of commit {commit[:12]}: "
                f"missing or corrupted: {detail}",
                hint="restore the files in the remote (dvc push from a complete cache, "
                "e.g. after 'dvc repro' or 'dvc pull'), then re-run; no tag was created",
            )
        size = 0
        corrupt = []
        for name, obj in sorted(present.items()):
            size += obj.stat().st_size
            if _md5_file(obj) != name.replace("/", "").removesuffix(".dir"):
                corrupt.append(expected.get(name, name))
        if corrupt:
            raise GateFailed(
                f"DVC remote '{remote}' returned corrupted data for commit {commit[:12]}: "
                f"{', '.join(corrupt[:20])}",
                hint="the remote's copy does not match its hash; re-push it from a good "
                "cache; no tag was created",
            )
        objects = len(present)
    log(f"data verified: {objects} objects ({size} bytes) fetched from '{remote}' and re-hashed")
    return Verification(remote, objects, size)


# --- release notes ------------------------------------------------------------------------


def _load_yaml(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def release_facts(
    repo: Path,
    model: ModelSpec,
    commit: str,
    version: Version,
    *,
    bump_source: str,
    pull_request: PullRequestRef | None,
    repository: str | None,
    server_url: str,
    previous_tag: str | None,
) -> ReleaseFacts:
    """Read metrics, params, dvc.lock, .dvc files and the model card at `commit`."""
    metrics_text = show_file(repo, commit, model.metrics) if model.metrics else None
    metrics: dict[str, Any] = {}
    if metrics_text:
        with suppress(json.JSONDecodeError):
            loaded = json.loads(metrics_text)
            if isinstance(loaded, dict):
                metrics = flatten(loaded)
    params_data = _load_yaml(show_file(repo, commit, "params.yaml"))
    params = flatten(params_data) if isinstance(params_data, dict) else {}
    lock = _load_yaml(show_file(repo, commit, "dvc.lock"))
    data = release_notes.data_hashes_from_lock(lock) if isinstance(lock, dict) else []
    listing = git("ls-tree", "-r", "--name-only", commit, cwd=repo).splitlines()
    for path in listing:
        if path.endswith(".dvc") and not path.startswith(".dvc/"):
            content = _load_yaml(show_file(repo, commit, path))
            if isinstance(content, dict):
                data.extend(release_notes.data_hashes_from_dvcfile(path, content))
    card_path = model.card or "MODEL_CARD.md"
    return ReleaseFacts(
        model=model.name,
        version=str(version),
        tag=format_tag(model.name, version),
        commit=commit,
        bump_source=bump_source,
        repository=repository,
        server_url=server_url,
        metrics=metrics,
        params=params,
        data=data,
        card=show_file(repo, commit, card_path),
        card_path=card_path,
        pull_request=pull_request,
        previous_tag=previous_tag,
    )


# --- the service ---------------------------------------------------------------------------


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


@dataclass
class Promoter:
    """Promote models of the repository at `repo`; `host` None means no GitHub API."""

    repo: Path
    host: ReleaseHost | None = None
    git_remote: str = DEFAULT_GIT_REMOTE
    dvc_remote: str | None = None
    repository: str | None = None
    server_url: str = "https://github.com"
    log: Log = print
    push_data: bool = True
    _tag_names: list[str] = field(default_factory=list, init=False, repr=False)

    # -- shared ------------------------------------------------------------------------
    def _history(self, model: str, *, fetch: bool = True) -> ModelHistory:
        if fetch:
            fetch_tags(self.repo, self.git_remote)
        refs = list_tag_refs(self.repo)
        self._tag_names = [ref.name for ref in refs]
        return build_history(model, refs)

    def _merged_pull_request(self, commit: str) -> _PullRequest | None:
        if self.host is None:
            return None
        pulls = [p for p in self.host.pull_requests_for_commit(commit) if p.merged]
        return pulls[0] if pulls else None

    def _merged_pull_requests(self, commit: str, since: str | None) -> list[_PullRequest]:
        """The merged PRs released by promoting `commit`, newest first.

        Those of the first-parent commits after the model's latest version (`since`), so
        that a run which GitHub coalesced with earlier pushes still honours their labels;
        at most MAX_COALESCED_COMMITS API look-ups. Without `since`, the commit's own.
        """
        commits = [commit]
        if since is not None and since != commit:
            listed = git(
                "rev-list", "--first-parent", f"--max-count={MAX_COALESCED_COMMITS}",
                commit, f"^{since}", cwd=self.repo,
            )  # fmt: skip
            commits = listed.split() or [commit]
        found: dict[int, _PullRequest] = {}
        for sha in commits:
            pull = self._merged_pull_request(sha)
            if pull is not None and pull.number not in found:
                found[pull.number] = pull
        return list(found.values())

    def decide_bump(
        self, commit: str, requested: str, default: Bump, since: str | None = None
    ) -> tuple[BumpDecision, Any]:
        """The bump for `commit`: explicit, or from the labels of the PRs merged since the
        model's latest version (`since`; the largest bump wins), else `default`."""
        if requested != "auto":
            return BumpDecision(parse_bump(requested), f"--bump {requested}"), None
        if self.host is None:
            return (
                BumpDecision(default, f"policy default ({default.value}); no GitHub access"),
                None,
            )
        pulls = self._merged_pull_requests(commit, since)
        decisions = []
        for pull in pulls:
            try:
                decisions.append(bump_from_labels(pull.labels, default, pr=f"PR #{pull.number}"))
            except ReleaseRuleError as error:
                raise InputError(str(error), hint="fix the labels of the merged PR") from None
        return combine_bumps(decisions, default), (pulls[0] if pulls else None)

    def ensure_release(self, tag: str, facts: Callable[[], ReleaseFacts]) -> str | None:
        """Create the Release of `tag` unless it exists; its URL (None: no API).

        `facts` is only called (reading files and the PR) when a release must be made.
        """
        if self.host is None:
            self.log(
                f"no GitHub release for {tag}: GITHUB_REPOSITORY/GITHUB_TOKEN not set "
                "(re-run with them to create it)"
            )
            return None
        existing = self.host.get_release_by_tag(tag)
        if existing is not None:
            return existing.html_url
        notes = facts()
        title = release_notes.release_title(notes)
        body = release_notes.render_release_notes(notes)
        try:
            created = self.host.create_release(tag, title, body)
        except MlgitopsError as error:
            # A concurrent run may have created it between our check and our create.
            again = self.host.get_release_by_tag(tag)
            if again is not None:
                return again.html_url
            raise ToolError(
                f"tag {tag} is pushed but its GitHub release failed: {error.message}",
                hint="re-run 'mlgitops promote' to finish the release",
            ) from error
        self.log(f"release created: {created.html_url}")
        return created.html_url

    def _facts(
        self,
        model: ModelSpec,
        commit: str,
        version: Version,
        history: ModelHistory,
        bump_source: str,
        pull: Any,
    ) -> ReleaseFacts:
        older = [v for v in history.versions if v.version < version and not v.deregistered]
        pr = (
            PullRequestRef(pull.number, pull.title, pull.html_url, pull.author_login)
            if pull is not None
            else None
        )
        return release_facts(
            self.repo,
            model,
            commit,
            version,
            bump_source=bump_source,
            pull_request=pr,
            repository=self.repository,
            server_url=self.server_url,
            previous_tag=older[-1].tag if older else None,
        )

    # -- register a version ----------------------------------------------------------------
    def promote(
        self,
        model: ModelSpec,
        *,
        commit: str,
        bump: str = "auto",
        version: str | None = None,
        settings: ReleaseSettings | None = None,
        dry_run: bool = False,
        verified: list[bool] | None = None,
    ) -> PromotionResult:
        """Tag `commit` as the next version of `model` and release it (idempotent)."""
        settings = settings or read_release_settings(self.repo)
        history = self._history(model.name)
        explicit = Version.parse(version) if version else None
        done = history.version_at(commit)
        if done is not None:
            return self._already(model, commit, history, done.version, dry_run)
        decision, pull = (
            (BumpDecision(Bump.PATCH, f"--version {explicit}"), None)
            if explicit
            else self.decide_bump(
                commit, bump, settings.default_bump, since=_latest_commit(history)
            )
        )
        if decision.bump is Bump.SKIP:
            message = f"{model.name}: no release ({decision.source})"
            self.log(message)
            return PromotionResult(model.name, "skipped", commit, message=message)
        verified = verified if verified is not None else []
        for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
            target = explicit or next_version(model.name, self._tag_names, decision.bump)
            tag = format_tag(model.name, target)
            taken = history.find(target)
            if taken is not None:
                raise TagConflict(
                    f"tag {tag} already exists at commit {taken.commit}, "
                    f"not at the commit being promoted ({commit})",
                    hint="tags are never moved; choose another --version",
                )
            facts = self._facts(model, commit, target, history, decision.source, pull)
            if dry_run:
                message = (
                    f"{model.name}: would tag {commit[:12]} as {tag} ({decision.source}); "
                    "dry run: data not pushed or verified, nothing tagged"
                )
                self.log(message)
                return PromotionResult(
                    model.name, "dry-run", commit, str(target), tag, [tag], None, message
                )
            if not verified:
                remote = self.dvc_remote or dvc_default_remote(self.repo)
                if self.push_data:
                    self.log(f"dvc push to '{remote}'")
                    push_data(self.repo, remote)
                verify_remote_data(self.repo, commit, remote, self.log)
                verified.append(True)
            obj, _ = make_tag_object(
                self.repo,
                tag,
                commit,
                release_notes.tag_message(facts),
                not_before=history.last_timestamp,
            )
            if push_new_tags(self.repo, self.git_remote, [(obj, tag)]):
                self.log(
                    f"tagged {commit[:12]} as {tag} ({decision.source}); "
                    f"pushed to {self.git_remote}"
                )
                url = self.ensure_release(tag, functools.partial(_same, facts))
                return PromotionResult(
                    model.name, "promoted", commit, str(target), tag, [tag], url,
                    f"{model.name}: promoted {commit[:12]} as {tag}",
                )  # fmt: skip
            # Someone else pushed that tag first: re-read and decide again.
            history = self._history(model.name)
            owner = history.find(target)
            self.log(
                f"{tag} was created concurrently at "
                f"{owner.commit[:12] if owner else 'another commit'} (attempt {attempt})"
            )
            done = history.version_at(commit)
            if done is not None:
                return self._already(model, commit, history, done.version, False, pull)
            if explicit:
                raise TagConflict(
                    f"tag {tag} was just created at commit {owner.commit if owner else '?'}, "
                    f"not at the commit being promoted ({commit})",
                    hint="choose another --version; tags are never moved",
                )
        raise ToolError(
            f"gave up after {MAX_PUSH_ATTEMPTS} attempts: other promotions keep taking the next "
            f"version of {model.name}",
            hint="re-run 'mlgitops promote'",
        )

    def _already(
        self,
        model: ModelSpec,
        commit: str,
        history: ModelHistory,
        version: Version,
        dry_run: bool,
        pull: Any = None,
    ) -> PromotionResult:
        tag = format_tag(model.name, version)
        message = f"{model.name}: already promoted: {commit[:12]} is {tag}"
        self.log(message)
        url = None
        if not dry_run:

            def facts() -> ReleaseFacts:
                found = pull if pull is not None else self._merged_pull_request(commit)
                source = _bump_source_of(self.repo, tag)
                return self._facts(model, commit, version, history, source, found)

            url = self.ensure_release(tag, facts)
        return PromotionResult(
            model.name, "already-promoted", commit, str(version), tag, [tag], url, message
        )

    # -- stages ----------------------------------------------------------------------------------
    def release_into_stage(
        self,
        model: ModelSpec,
        stage: str,
        *,
        commit: str,
        bump: str = "auto",
        settings: ReleaseSettings | None = None,
        dry_run: bool = False,
        verified: list[bool] | None = None,
    ) -> list[PromotionResult]:
        """Promote `commit` (if it is not a version yet), then assign it to `stage`.

        The stage order is checked BEFORE anything is tagged: a commit that is not a
        version yet can only go to the first stage.
        """
        settings = settings or read_release_settings(self.repo)
        _check_stage_known(stage, settings)
        history = self._history(model.name)
        earlier = settings.stages[: settings.stages.index(stage)]
        entry = history.version_at(commit)
        if entry is not None:
            try:
                check_stage_order(history, entry.version, stage, settings.stages)
            except ReleaseRuleError as error:
                raise GateFailed(str(error)) from None
        elif earlier:
            raise GateFailed(
                f"commit {commit[:12]} is not a version of {model.name} yet, so it cannot go "
                f"to {stage!r} before {', '.join(map(repr, earlier))} "
                f"(release.stages order: {' -> '.join(settings.stages)})"
            )
        registered = self.promote(
            model, commit=commit, bump=bump, settings=settings, dry_run=dry_run, verified=verified
        )
        if registered.status in ("skipped", "dry-run"):
            if registered.status == "dry-run":
                self.log(f"{model.name}: would then assign {registered.version} to {stage!r}")
            return [registered]
        assigned = self.assign_stage(
            model, stage, version=registered.version, commit=commit, settings=settings,
            dry_run=dry_run,
        )  # fmt: skip
        return [registered, assigned]

    def assign_stage(
        self,
        model: ModelSpec,
        stage: str,
        *,
        version: str | None,
        commit: str,
        settings: ReleaseSettings | None = None,
        dry_run: bool = False,
    ) -> PromotionResult:
        """Put `version` (default: the version of `commit`) into `stage`, in policy order."""
        settings = settings or read_release_settings(self.repo)
        _check_stage_known(stage, settings)
        for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
            history = self._history(model.name)
            target = self._stage_target(history, version, commit)
            try:
                check_stage_order(history, target, stage, settings.stages)
            except ReleaseRuleError as error:
                raise GateFailed(str(error)) from None
            result = self._write_stage(history, target, stage, dry_run, "promote", attempt)
            if result is not None:
                return result
        raise ToolError(f"gave up after {MAX_PUSH_ATTEMPTS} attempts: concurrent stage changes")

    def rollback(
        self,
        model: ModelSpec,
        stage: str,
        *,
        settings: ReleaseSettings | None = None,
        dry_run: bool = False,
    ) -> PromotionResult:
        """Re-point `stage` to the version that held it before the current one."""
        settings = settings or read_release_settings(self.repo)
        _check_stage_known(stage, settings)
        for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
            history = self._history(model.name)
            current = history.current(stage)
            if current is None:
                raise GateFailed(f"{model.name} has no version in {stage!r}: nothing to roll back")
            previous = history.previous(stage)
            if previous is None:
                raise GateFailed(
                    f"{model.name} {current} is the only version ever in {stage!r}: "
                    "nothing to roll back to"
                )
            result = self._write_stage(history, previous, stage, dry_run, "rollback", attempt)
            if result is not None:
                return result
        raise ToolError(f"gave up after {MAX_PUSH_ATTEMPTS} attempts: concurrent stage changes")

    def _stage_target(self, history: ModelHistory, version: str | None, commit: str) -> Version:
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
            raise GateFailed(f"{history.model} {entry.version} is deregistered")
        return entry.version

    def _write_stage(
        self,
        history: ModelHistory,
        target: Version,
        stage: str,
        dry_run: bool,
        action: str,
        attempt: int,
    ) -> PromotionResult | None:
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
        objects = []
        last = history.last_timestamp
        for change in changes:
            changed = history.find(change.version)
            assert changed is not None
            verb = "assign" if change.assigned else "unassign"
            where = "to" if change.assigned else "from"
            message = f"{action}: {verb} {model} {change.version} {where} {stage}\n"
            obj, last = make_tag_object(
                self.repo, change.tag, changed.commit, message, not_before=last
            )
            objects.append((obj, change.tag))
        if push_new_tags(self.repo, self.git_remote, objects):
            message = f"{model}: {stage} is now {target} ({describe})"
            self.log(message)
            return PromotionResult(
                model, "assigned", entry.commit, str(target), changes[-1].tag,
                [c.tag for c in changes], None, message,
            )  # fmt: skip
        self.log(f"stage tags of {model} changed concurrently; re-reading (attempt {attempt})")
        return None


def _same(value: ReleaseFacts) -> ReleaseFacts:
    return value


def _bump_source_of(repo: Path, tag: str) -> str:
    """The `bump:` line of a tag message written by `tag_message`, else ""."""
    contents = git("tag", "-l", "--format=%(contents)", tag, cwd=repo)
    for line in contents.splitlines():
        if line.startswith("bump: "):
            return line.removeprefix("bump: ")
    return ""


def _check_stage_known(stage: str, settings: ReleaseSettings) -> None:
    if stage not in settings.stages:
        raise InputError(
            f"unknown stage {stage!r}: the policy's release.stages are "
            f"{', '.join(settings.stages)}",
            location=Location("governance/policy.yaml", key="release.stages"),
        )


def _describe_change(change: StageChange) -> str:
    return f"{change.tag} ({'assign' if change.assigned else 'unassign'} {change.version})"
