"""One workspace per command: git, DVC and the declared models, each read once.

A command builds ONE `Workspace` and passes it down; everything below asks it, and it
asks git (`io.git`) and DVC (`io.dvc`) at most once per question:
- metrics, params (and plots) of every revision a command needs, in one DVC pass;
- files at revisions (dvc.yaml, dvc.lock, .dvc files, model cards) through one
  `git cat-file --batch` per batch of questions, parsed by the strict YAML loader
  (YAML 1.2, as DVC reads them), so `1e-3` is the same number everywhere;
- `.dvc/config`, the declared models (`artifacts:` of dvc.yaml), the tag history
  (fetched from the remote once per run, re-read only after a rejected push).
Every path that comes from a policy, params or an artifact is confined to the
repository by `confine` (absolute paths, `..`, NUL and symlinks leading out are
refused with the key at fault).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlgitops.core.artifacts import DeclaredModel
from mlgitops.core.chart import PlotData
from mlgitops.core.markdown.release import DataHash, data_hashes_from_dvcfile, data_hashes_from_lock
from mlgitops.core.tags import Version, check_model_name, format_tag
from mlgitops.core.versioning import ModelHistory, TagRef, VersionEntry, build_history
from mlgitops.errors import InputError, Location
from mlgitops.io import dvc
from mlgitops.io.git import Git
from mlgitops.io.yaml_strict import YamlDocument, parse_yaml

MAX_DVC_FILE_BYTES = 1024 * 1024


def confine(root: Path, value: object, *, location: Location) -> str:
    """`value` as a path relative to `root` that stays inside it, or InputError at `location`.

    Refused: non-strings, empty, NUL, absolute paths, any `..` part, and paths whose
    resolved target (symlinks followed) leaves the repository.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError("expected a path inside the repository", location=location)
    if "\0" in value:
        raise InputError("a path must not contain a NUL character", location=location)
    posix = PurePosixPath(value.replace("\\", "/"))
    if posix.is_absolute() or os.path.isabs(value) or (value[1:3] == ":/"):
        raise InputError(
            f"{value!r} is an absolute path: give a path inside the repository",
            location=location,
        )
    if ".." in posix.parts:
        raise InputError(
            f"{value!r} leaves its folder ('..'): give a path inside the repository",
            location=location,
        )
    base = root.resolve()
    target = (base / posix).resolve()
    if target != base and not target.is_relative_to(base):
        raise InputError(f"{value!r} leads outside the repository (to {target})", location=location)
    return posix.as_posix()


@dataclass(frozen=True)
class ResolvedVersion:
    """A model version named as `<model>@vX.Y.Z` or `<model>#<stage>`."""

    model: str
    version: Version
    tag: str  # the version's registration tag, `<model>@vX.Y.Z`
    commit: str
    stage: str | None = None  # set when asked by stage


@dataclass
class Workspace:
    """A git + DVC repository, read once per command. Build with `Workspace.open`."""

    git: Git
    _data: dict[str | None, dvc.RevisionData] = field(default_factory=dict, repr=False)
    _models: dict[str | None, tuple[DeclaredModel, ...]] = field(default_factory=dict, repr=False)
    _tags: list[TagRef] | None = field(default=None, repr=False)
    _fetched_from: str | None = field(default=None, repr=False)
    _config: dvc.DvcConfig | None = field(default=None, repr=False)
    _hashes: dict[str, list[DataHash]] = field(default_factory=dict, repr=False)
    _status: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, start: Path | str = ".") -> Workspace:
        return cls(Git.find(start))

    @property
    def root(self) -> Path:
        return self.git.root

    # ----------------------------------------------------------------- paths and files
    def confine(self, value: object, *, location: Location) -> str:
        return confine(self.root, value, location=location)

    def read(self, rev: str | None, path: str) -> str | None:
        """A file's text at `rev` (None: the working tree), or None when absent."""
        if rev is None:
            file = self.root / path
            return file.read_text(encoding="utf-8") if file.is_file() else None
        return self.git.show(rev, path)

    def yaml_at(self, rev: str | None, path: str) -> YamlDocument | None:
        """A DVC-read YAML file (dvc.yaml, dvc.lock, .dvc) at `rev`, strictly parsed."""
        text = self.read(rev, path)
        if text is None:
            return None
        where = path if rev is None else f"{path}@{rev[:12]}"
        if len(text.encode()) > MAX_DVC_FILE_BYTES:
            raise InputError(f"over {MAX_DVC_FILE_BYTES} bytes", location=Location(where))
        return parse_yaml(text, file=where, written_by_dvc=True)

    # ----------------------------------------------------------------- declared models
    def declared_models(self, rev: str | None) -> tuple[DeclaredModel, ...]:
        """`artifacts:` of the root dvc.yaml at `rev` (None: working tree); () if none."""
        if rev not in self._models:
            document = self.yaml_at(rev, "dvc.yaml")
            self._models[rev] = _declared(self.root, document) if document else ()
        return self._models[rev]

    def models_to_release(self, commit: str, name: str | None) -> list[DeclaredModel]:
        """The models (`type: model`, or no type) declared at `commit`, or the one named."""
        declared = self.declared_models(commit)
        if not declared:
            raise InputError(
                "dvc.yaml declares no artifacts: add one under 'artifacts:' per model",
                location=Location("dvc.yaml", key="artifacts"),
            )
        models = [m for m in declared if m.type in (None, "model")]
        for model in models:
            try:
                check_model_name(model.name)
            except ValueError as error:
                raise InputError(
                    str(error), location=Location("dvc.yaml", key=f"artifacts.{model.name}")
                ) from None
        if name is None:
            return models
        chosen = [m for m in models if m.name == name]
        if not chosen:
            known = ", ".join(m.name for m in models) or "(none)"
            raise InputError(
                f"unknown model {name!r}: dvc.yaml artifacts are {known}",
                location=Location("dvc.yaml", key="artifacts"),
            )
        return chosen

    # ----------------------------------------------------------------- DVC reads
    def prefetch(
        self,
        revs: Sequence[str | None],
        *,
        params: bool = True,
        plots_of: Sequence[str | None] = (),
        status: bool = False,
    ) -> None:
        """Read metrics (and params) of all `revs`, plots of `plots_of`, and (`status`)
        `dvc status`, all in ONE DVC pass."""
        commits = [self._commit(rev) for rev in (*revs, *plots_of)]
        plot_commits = [self._commit(rev) for rev in plots_of]

        def lacking(commit: str | None) -> bool:
            known = self._data.get(commit)
            return (
                known is None
                or (params and known.params is None)
                or (commit in plot_commits and known.plots is None)
            )

        missing = [c for c in dict.fromkeys(commits) if lacking(c)]
        status = status and self._status is None
        if not missing and not status:
            return
        wanted_plots = [c for c in plot_commits if c in missing]
        reading = dvc.read(
            self.root, missing, params=params, plots_of=wanted_plots, status=status
        )
        self._data.update(reading.revisions)
        if reading.status is not None:
            self._status = reading.status

    def dvc_status(self) -> Mapping[str, Any]:
        """What `dvc status --json` prints: {} when dvc.lock matches code, params, data."""
        self.prefetch((), params=False, status=True)
        assert self._status is not None
        return self._status

    def _commit(self, rev: str | None) -> str | None:
        return None if rev is None else (self.git.commit_of(rev) or rev)

    def _revision(self, rev: str | None, *, params: bool = False) -> dvc.RevisionData:
        commit = self._commit(rev)
        if commit not in self._data or (params and self._data[commit].params is None):
            self.prefetch([rev], params=params)
        return self._data[commit]

    def metrics_files(self, rev: str | None) -> dict[str, Any]:
        """Every DVC metrics file at `rev`: path → values, or the error DVC met."""
        return dict(self._revision(rev).metrics)

    def metrics(self, rev: str | None, targets: Sequence[str] = ()) -> dict[str, Any] | None:
        """Metrics of `targets` (all files when empty) at `rev`, merged; None when none.

        A target DVC could not read is an InputError at the head (rev None) and counts
        as missing elsewhere.
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
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                merged[f"{path}:{name}" if name in merged and len(chosen) > 1 else name] = value
        return merged or None

    def params(self, rev: str | None) -> dict[str, Any] | None:
        """DVC params at `rev` (None: working tree), all files merged; None when none."""
        merged: dict[str, Any] = {}
        for values in (self._revision(rev, params=True).params or {}).values():
            if isinstance(values, dict):
                merged.update(values)
        return merged or None

    def plots(self, revs: Sequence[str | None]) -> dict[str | None, dict[str, PlotData]]:
        """Plot data of each of `revs` (keys as given), read with the same DVC pass."""
        self.prefetch((), plots_of=revs)
        return {rev: dict(self._data[self._commit(rev)].plots or {}) for rev in revs}

    @property
    def dvc_config(self) -> dvc.DvcConfig:
        if self._config is None:
            self._config = dvc.DvcConfig.read(self.root)
        return self._config

    def data_hashes(self, commit: str) -> list[DataHash]:
        """Every hash dvc.lock and the `.dvc` files pin at `commit` (strictly parsed)."""
        if commit not in self._hashes:
            self._hashes[commit] = self._read_hashes(commit)
        return list(self._hashes[commit])

    def _read_hashes(self, commit: str) -> list[DataHash]:
        paths = [
            p for p in self.git.tracked_paths(commit)
            if p == "dvc.lock" or p.endswith("/dvc.lock")
            or (p.endswith(".dvc") and not p.startswith(".dvc/"))
        ]  # fmt: skip
        self.git.read_files((commit, p) for p in paths)  # one batch for all of them
        found: list[DataHash] = []
        for path in paths:
            document = self.yaml_at(commit, path)
            if document is None or not isinstance(document.data, dict):
                continue
            base = path.rpartition("/")[0]
            if path.rpartition("/")[2] == "dvc.lock":
                for item in data_hashes_from_lock(document.data):
                    full = f"{base}/{item.path}" if base else item.path
                    found.append(DataHash(full, item.md5, item.stage, item.kind,
                                          item.size, item.nfiles))  # fmt: skip
            else:
                found.extend(data_hashes_from_dvcfile(path, document.data))
        return found

    def uncached_outputs(self, commit: str) -> set[str]:
        """Stage outputs declared `cache: false` in the root dvc.yaml at `commit`."""
        document = self.yaml_at(commit, "dvc.yaml")
        data = document.data if document else None
        stages = data.get("stages") if isinstance(data, dict) else None
        paths: set[str] = set()
        for stage in (stages or {}).values() if isinstance(stages, dict) else ():
            for key in ("outs", "metrics", "plots"):
                entries = stage.get(key) if isinstance(stage, dict) else None
                for entry in entries if isinstance(entries, list) else ():
                    for path, options in entry.items() if isinstance(entry, dict) else ():
                        if isinstance(options, dict) and options.get("cache") is False:
                            paths.add(str(path))
        return paths

    # ----------------------------------------------------------------- tags and versions
    def tags(self, *, fetch_from: str | None = None) -> list[TagRef]:
        """Every tag, read once per run; `fetch_from` fetches that remote's tags first
        (once: later calls reuse the answer until `refresh_tags`)."""
        if self._tags is None or (fetch_from and self._fetched_from != fetch_from):
            if fetch_from:
                self.git.fetch_tags(fetch_from)
                self._fetched_from = fetch_from
            self._tags = self.git.tag_refs()
        return self._tags

    def refresh_tags(self) -> list[TagRef]:
        """Re-read the tags (after a push was rejected: someone else wrote one)."""
        remote, self._tags, self._fetched_from = self._fetched_from, None, None
        return self.tags(fetch_from=remote)

    def record_pushed(self, refs: Sequence[TagRef]) -> None:
        """Tags this run just created (and pushed): known without reading them again."""
        self._tags = [*self.tags(), *refs]

    def history(self, model: str) -> ModelHistory:
        return build_history(model, self.tags())

    def resolve_version(self, spec: str) -> ResolvedVersion:
        """`<model>@vX.Y.Z` or `<model>#<stage>` → the version, its tag and its commit.

        Reads the tags already read in this run (fetch first with `tags(fetch_from=)`).
        InputError when the model has no such version or nothing in that stage.
        """
        model, at, version_text = spec.partition("@")
        stage = None
        if not at:
            model, hashed, stage = spec.partition("#")
            if not hashed or not stage:
                raise InputError(f"{spec!r}: expected <model>@vX.Y.Z or <model>#<stage>")
        history = self.history(model)
        entry: VersionEntry | None
        if stage is None:
            try:
                version = Version.parse(version_text)
            except ValueError as error:
                raise InputError(f"{spec!r}: {error}") from None
            entry = history.find(version)
        else:
            current = history.current(stage)
            entry = history.find(current) if current is not None else None
        if entry is None or entry.deregistered:
            known = ", ".join(str(v.version) for v in history.versions) or "none"
            raise InputError(
                f"{spec!r} names no registered version of {model}", hint=f"versions: {known}"
            )
        tag = format_tag(model, entry.version)
        return ResolvedVersion(model, entry.version, tag, entry.commit, stage)


def _declared(root: Path, document: YamlDocument) -> tuple[DeclaredModel, ...]:
    data = document.data
    entries = data.get("artifacts") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return ()
    found = []
    for name, spec in entries.items():
        spec = spec if isinstance(spec, dict) else {}
        meta = spec.get("meta") if isinstance(spec.get("meta"), dict) else {}
        assert isinstance(meta, dict)

        def path_of(value: object, *key: str, name: object = name) -> str | None:
            if value is None:
                return None
            location = Location("dvc.yaml", document.line_of("artifacts", str(name), *key),
                                ".".join(("artifacts", str(name), *key)))  # fmt: skip
            return confine(root, value, location=location)

        found.append(
            DeclaredModel(
                name=str(name),
                path=path_of(spec.get("path"), "path") or "",
                type=str(spec["type"]) if spec.get("type") else None,
                metrics=path_of(meta.get("metrics"), "meta", "metrics"),
                card=path_of(meta.get("card"), "meta", "card"),
            )
        )
    return tuple(found)
