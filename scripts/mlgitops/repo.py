"""I/O around a generated repository: git revisions, and DVC metrics/params/plots at a revision.

Metrics, params and plots are read in this process through DVC's own Python API
(`dvc.repo.Repo(...).metrics.show / params.show / plots.show`, the functions behind both
`dvc.api.metrics_show` and `dvc metrics show`), never re-parsed here. Measured on a baked
repository: each `dvc` CLI call costs about 1 s (start-up and index), and DVC walks the
working tree on every call whatever revisions it is asked for, so all the revisions a
report needs (head, merge-base, promoted versions) are read in ONE call, after a one-off
import of DVC. The artifacts of `dvc.yaml` are read from the file at the revision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlgitops.core import tags
from mlgitops.core.chart import PlotData
from mlgitops.errors import InputError, Location, ToolError
from mlgitops.proc import git, run

FETCH_DEPTH_HINT = (
    "check out the full history: actions/checkout with `fetch-depth: 0` "
    "(the merge-base and the version tags are needed)"
)


@dataclass(frozen=True)
class Artifact:
    """An entry of `artifacts:` in dvc.yaml (GTO reads the same)."""

    name: str
    path: str
    type: str | None = None
    metrics: str | None = None  # meta.metrics: the metrics file of this model
    card: str | None = None  # meta.card


@dataclass(frozen=True, order=True)
class PromotedVersion:
    """A `<model>@vX.Y.Z` tag; instances sort by version precedence."""

    key: tuple[Any, ...]
    tag: str
    version: str
    sha: str


class Repo:
    """A git work tree with DVC. Every git/dvc failure is a ToolError naming the command."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Reading a revision through DVC costs ~0.5 s; tags and branches often share commits.
        self._dvc_cache: dict[tuple[str, str | None], dict[str, Any]] = {}

    @classmethod
    def find(cls, start: Path | str = ".") -> Repo:
        """The repository containing `start`."""
        start = Path(start)
        result = run(["git", "rev-parse", "--show-toplevel"], start, check=False)
        if result.returncode != 0:
            raise InputError("not inside a git repository", location=Location(str(start.resolve())))
        return cls(Path(result.stdout.strip()))

    # ------------------------------------------------------------------ git
    def git(self, *args: str) -> str:
        return git(*args, cwd=self.root)

    def commit_of(self, ref: str) -> str | None:
        """The commit `ref` names, or None when it names none here."""
        result = run(
            ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            self.root,
            check=False,
        )
        return result.stdout.strip() if result.returncode == 0 else None

    def resolve(self, ref: str) -> tuple[str, str]:
        """(name used, commit) for `ref`, trying `origin/<ref>` too (PR checkouts have no
        local branch of the target)."""
        for candidate in (ref, f"origin/{ref}"):
            sha = self.commit_of(candidate)
            if sha:
                return candidate, sha
        # A PR checkout (single branch, maybe shallow) lacks the target branch: fetch it.
        if self._has_origin() and re.fullmatch(r"[A-Za-z0-9._/-]+", ref):
            fetched = run(
                [
                    "git",
                    "fetch",
                    "--quiet",
                    "origin",
                    f"+refs/heads/{ref}:refs/remotes/origin/{ref}",
                ],
                self.root,
                check=False,
            )
            sha = self.commit_of(f"origin/{ref}") if fetched.returncode == 0 else None
            if sha:
                self.ensure_history()
                return f"origin/{ref}", sha
        hint = FETCH_DEPTH_HINT if self.is_shallow() else "fetch it, or pass another --base"
        raise InputError(f"git revision '{ref}' not found", hint=hint)

    def _has_origin(self) -> bool:
        return "origin" in self.git("remote").split()

    def head_commit(self) -> str | None:
        return self.commit_of("HEAD")

    def is_dirty(self) -> bool:
        return bool(self.git("status", "--porcelain", "--untracked-files=no"))

    def is_shallow(self) -> bool:
        return self.git("rev-parse", "--is-shallow-repository") == "true"

    def ensure_history(self) -> bool:
        """Unshallow a shallow clone (history and tags); True if it fetched.

        Raises ToolError naming `fetch-depth: 0` when it cannot.
        """
        if not self.is_shallow():
            return False
        result = run(
            ["git", "fetch", "--quiet", "--unshallow", "--tags", "origin"],
            self.root,
            check=False,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ToolError(
                "this is a shallow clone and fetching its history failed: "
                + (detail[-1] if detail else f"exit code {result.returncode}"),
                hint=FETCH_DEPTH_HINT,
            )
        return True

    def merge_base(self, left: str, right: str) -> str | None:
        result = run(["git", "merge-base", left, right], self.root, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def read_at(self, rev: str | None, path: str) -> str | None:
        """A file's text at `rev` (None: the working tree), or None when it is absent."""
        if rev is None:
            file = self.root / path
            return file.read_text(encoding="utf-8") if file.is_file() else None
        result = run(["git", "show", f"{rev}:{path}"], self.root, check=False)
        return result.stdout if result.returncode == 0 else None

    def promoted_versions(self, model: str) -> list[PromotedVersion]:
        """Versions of `model` registered by tags, oldest first (deregistered ones left out)."""
        out = self.git(
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(*objectname)%00%(objectname)",
            f"refs/tags/{model}@v*",
        )
        versions: dict[str, PromotedVersion] = {}
        deregistered: set[str] = set()
        for line in out.splitlines():
            tag, peeled, own = line.split("\0")
            parsed = tags.parse_tag(tag)
            if parsed is None or parsed.artifact != model or parsed.version is None:
                continue
            version = str(parsed.version)
            if parsed.action is tags.TagAction.DEREGISTER:
                deregistered.add(version)
            elif parsed.action is tags.TagAction.REGISTER and version not in versions:
                key = tuple(parsed.version.precedence())
                versions[version] = PromotedVersion(key, tag, version, peeled or own)
        return sorted(v for name, v in versions.items() if name not in deregistered)

    # ------------------------------------------------------------------ dvc
    def artifacts(self, rev: str | None) -> list[Artifact]:
        """`artifacts:` of the root dvc.yaml at `rev` ([] when absent or unreadable)."""
        text = self.read_at(rev, "dvc.yaml")
        if text is None:
            return []
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InputError(
                f"dvc.yaml is not valid YAML at {rev or 'the working tree'}: {error}",
                location=Location("dvc.yaml"),
            ) from error
        entries = data.get("artifacts") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            return []
        found = []
        for name, spec in entries.items():
            if not isinstance(spec, dict):
                continue
            meta = spec.get("meta") if isinstance(spec.get("meta"), dict) else {}
            assert isinstance(meta, dict)
            metrics = meta.get("metrics")
            card = meta.get("card")
            found.append(
                Artifact(
                    name=str(name),
                    path=str(spec.get("path", "")),
                    type=str(spec["type"]) if spec.get("type") else None,
                    metrics=str(metrics) if isinstance(metrics, str) else None,
                    card=str(card) if isinstance(card, str) else None,
                )
            )
        return found

    def _cache_key(self, rev: str | None) -> str | None:
        return None if rev is None else (self.commit_of(rev) or rev)

    def prefetch(self, revs: Sequence[str | None]) -> None:
        """Read metrics and params of all `revs` (None: working tree) in one DVC pass.

        DVC walks the working tree on every call whatever revisions it is asked for, so
        one call for every revision costs far less than one call per revision.
        """
        wanted = list(dict.fromkeys(self._cache_key(rev) for rev in revs))
        missing = [rev for rev in wanted if ("metrics", rev) not in self._dvc_cache]
        if not missing:
            return
        from dvc.exceptions import DvcException
        from dvc.repo import Repo as DvcRepo

        commits = [rev for rev in missing if rev is not None]
        try:
            with DvcRepo(str(self.root)) as dvc_repo:
                metrics = dvc_repo.metrics.show(revs=commits or None, hide_workspace=False)
                params = dvc_repo.params.show(revs=commits or None, hide_workspace=False)
        except DvcException as error:
            raise ToolError(f"DVC could not read metrics and params: {error}") from error
        for rev in [None, *commits]:
            # The working tree is "workspace" next to revisions, "" alone.
            names = [rev] if rev is not None else ["workspace", ""]
            for kind, shown in (("metrics", metrics), ("params", params)):
                entry = next((shown[n] for n in names if n in shown), None)
                self._dvc_cache[(kind, rev)] = self._files(entry)

    def _files(self, entry: Any) -> dict[str, Any]:
        files: dict[str, Any] = {}
        if not isinstance(entry, dict):
            return files
        for path, result in (entry.get("data") or {}).items():
            name = Path(path)
            if name.is_absolute():
                name = name.relative_to(self.root)
            files[name.as_posix()] = (
                result["data"] if "data" in result else result.get("error") or Exception("?")
            )
        return files

    def metrics_files(self, rev: str | None) -> dict[str, Any]:
        """Every DVC metrics file at `rev` (None: working tree): path → values, or the
        error DVC met reading it (e.g. corrupted JSON). Values are as DVC read them
        (nested dicts, NaN, strings and booleans included).

        Untargeted on purpose: `dvc metrics show <file>` at a revision fails for a file
        that no longer exists in the working tree (a renamed metrics file).
        """
        self.prefetch([rev])
        return dict(self._dvc_cache[("metrics", self._cache_key(rev))] or {})

    def metrics(self, rev: str | None, targets: Sequence[str] = ()) -> dict[str, Any] | None:
        """Metrics of `targets` (all files when empty) at `rev`, merged; None when none.

        A target DVC could not read is an InputError at the head (rev None) and
        counts as missing elsewhere.
        """
        files = self.metrics_files(rev)
        chosen = {path: files[path] for path in targets if path in files} if targets else files
        merged: dict[str, Any] = {}
        for path, values in chosen.items():
            if isinstance(values, Exception):
                if rev is None:
                    raise InputError(
                        f"DVC cannot read this metrics file: {values}", location=Location(path)
                    )
                continue
            for name, value in values.items():
                merged[f"{path}:{name}" if name in merged and len(chosen) > 1 else name] = value
        return merged or None

    def plots(self, revs: Sequence[str | None]) -> dict[str | None, dict[str, PlotData]]:
        """DVC plot data of each of `revs` (None: working tree), in one DVC pass.

        Keys are the revs as given; each maps plot file → its properties (template, x,
        y, title from the plot definitions) and rows.
        """
        from dvc.exceptions import DvcException
        from dvc.repo import Repo as DvcRepo

        commits = {rev: self._cache_key(rev) for rev in revs}
        wanted = sorted({c or "workspace" for c in commits.values()})  # DVC's name for it
        try:
            with DvcRepo(str(self.root)) as dvc_repo:
                shown = dvc_repo.plots.show(revs=wanted)
        except DvcException as error:
            raise ToolError(f"DVC could not read plots: {error}") from error
        result: dict[str | None, dict[str, PlotData]] = {}
        for rev, commit in commits.items():
            entry = shown.get(commit or "workspace") or {}
            props: dict[str, Any] = {}
            for dvcfile in (entry.get("definitions", {}).get("data") or {}).values():
                for path, definition in (dvcfile.get("data") or {}).items():
                    if isinstance(definition, dict):  # top-level and stage definitions merge
                        props.setdefault(path, {}).update(definition)
            plots: dict[str, PlotData] = {}
            for path, source in (entry.get("sources", {}).get("data") or {}).items():
                if not isinstance(source, dict):
                    continue
                rows = source.get("data")
                declared = props.get(path) or source.get("props") or {}
                plots[path] = PlotData(
                    path,
                    declared if isinstance(declared, dict) else {},
                    rows if isinstance(rows, list) else None,
                )
            result[rev] = plots
        return result

    def params(self, rev: str | None) -> dict[str, Any] | None:
        """DVC params at `rev` (None: working tree), all files merged; None when none."""
        self.prefetch([rev])
        merged: dict[str, Any] = {}
        for values in (self._dvc_cache[("params", self._cache_key(rev))] or {}).values():
            if isinstance(values, dict):
                merged.update(values)
        return merged or None
