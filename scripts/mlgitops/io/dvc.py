"""The one reader of DVC state: metrics, params and plots, `.dvc/config`, `dvc status`.

Metrics, params and plots are read in this process through DVC's own Python API
(`dvc.repo.Repo(...).metrics.show / params.show / plots.show`, the functions behind
`dvc metrics show` and `dvc.api`), never re-parsed here. Each `dvc` CLI call costs about
a second (start-up and index) and DVC walks the working tree on every call whatever
revisions it is asked for, so every revision a command needs is read in ONE pass, with
one `Repo` opened for metrics, params and plots together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgitops.core.chart import PlotData
from mlgitops.errors import InputError, Location, ToolError
from mlgitops.proc import run

WORKSPACE = "workspace"  # DVC's name for the working tree among revisions


@dataclass(frozen=True)
class RevisionData:
    """What DVC read at one revision: file → values, or the error DVC met reading it."""

    metrics: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None  # None: not asked for
    plots: Mapping[str, PlotData] | None = None  # None: not asked for


@dataclass(frozen=True)
class DvcReading:
    revisions: dict[str | None, RevisionData]
    status: Mapping[str, Any] | None = None  # None: not asked for


def read(
    root: Path,
    commits: Sequence[str | None],
    *,
    params: bool = True,
    plots_of: Sequence[str | None] = (),
    status: bool = False,
) -> DvcReading:
    """Metrics (and params) of every commit (None: the working tree), plots of those in
    `plots_of`, and `dvc status`, with ONE DVC `Repo` and one walk over the revisions.

    `dvc metrics show` and `dvc params show` each switch through every revision and the
    working tree; here each revision is visited once for both, and the working tree only
    when it is asked for. `dvc status` runs in this process too (what `dvc status --json`
    prints), so a command pays DVC's start-up once. (DVC's per-revision readers
    `_gather_metrics` / `_gather_params` are what its `show` functions call; DVC is
    pinned in requirements/constraints.txt.)
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo
    from dvc.repo import lock_repo
    from dvc.repo.metrics.show import _gather_metrics
    from dvc.repo.params.show import _gather_params

    revs = [c for c in dict.fromkeys(commits) if c is not None]
    result: dict[str | None, RevisionData] = {}
    found_status: Mapping[str, Any] | None = None
    try:
        with DvcRepo(str(root)) as repo:
            if status:
                with lock_repo(repo):
                    found_status = repo.status()
            walk = (
                repo.brancher(revs=revs, workspace=None in commits, sha_only=True)
                if revs
                else ([""] if commits else [])
            )
            for rev in walk:
                commit = None if rev in ("", "workspace") else rev
                result[commit] = RevisionData(
                    _files(root, _gather(_gather_metrics, repo)),
                    _files(root, _gather(_gather_params, repo)) if params else None,
                    _plots(_plots_here(repo, commit)) if commit in plots_of else None,
                )
    except DvcException as error:
        raise ToolError(f"DVC could not read the repository: {error}") from error
    for commit in [*revs, *([None] if None in commits else [])]:
        result.setdefault(commit, RevisionData(params={} if params else None, plots={}))
    if found_status is not None and not isinstance(found_status, Mapping):
        raise ToolError(f"'dvc status' gave {type(found_status).__name__}, not a mapping")
    return DvcReading(result, found_status)


def _plots_here(repo: Any, commit: str | None) -> dict[str, Any]:
    """Plot definitions and data at the revision `repo` is switched to: what
    `repo.plots.show` gives for one revision, without switching again."""
    from dvc.repo.plots import (
        _collect_definitions,
        _get_data_targets,
        _resolve_data_sources,
        onerror_collect,
    )

    name = commit or WORKSPACE
    definitions = _collect_definitions(repo, targets=[], revision=name, onerror=onerror_collect)
    if not definitions:
        return {}
    # Reading plot data needs no pipeline graph: DVC's check of it (what `dvc status` and
    # `dvc repro` rely on) imports networkx and builds the graph at every revision read,
    # about 0.15 s of CPU in `mlgitops report`. Skipped here only, with DVC's own switch.
    checking = getattr(repo, "_skip_graph_checks", False)
    repo._skip_graph_checks = True
    try:
        sources = repo.plots._collect_data_sources(
            repo, targets=list(_get_data_targets(definitions)), onerror=onerror_collect
        )
    finally:
        repo._skip_graph_checks = checking
    found = {"definitions": definitions, "sources": sources}
    _resolve_data_sources(found, name[:7], cache=True)
    return found


def _gather(reader: Any, repo: Any) -> Mapping[str, Any]:
    """One DVC reader at the revision `repo` is switched to; {} when DVC cannot read it
    there at all (e.g. an invalid dvc.yaml in an old commit)."""
    try:
        found = reader(repo, on_error="return")
    except Exception:  # DVC raises many kinds here; a revision it cannot read has no data
        return {}
    return found if isinstance(found, Mapping) else {}


def _files(root: Path, files: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path, entry in files.items():
        name = Path(path)
        if name.is_absolute():
            name = name.relative_to(root)
        if not isinstance(entry, Mapping):
            continue
        found[name.as_posix()] = (
            entry["data"] if "data" in entry else entry.get("error") or Exception("?")
        )
    return found


def _plots(entry: Mapping[str, Any]) -> dict[str, PlotData]:
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
    return plots


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class DvcConfig:
    """`.dvc/config` overlaid with `.dvc/config.local` (what DVC reads at repo level)."""

    sections: Mapping[str, Mapping[str, str]]

    @classmethod
    def read(cls, root: Path) -> DvcConfig:
        from configobj import ConfigObj  # DVC's own config reader

        merged: dict[str, dict[str, str]] = {}
        for name in ("config", "config.local"):
            path = root / ".dvc" / name
            if path.exists():
                for section, values in ConfigObj(str(path), encoding="utf-8").items():
                    if isinstance(values, dict):
                        merged.setdefault(section, {}).update(values)
        return cls(merged)

    def default_remote(self) -> str:
        name = self.sections.get("core", {}).get("remote", "")
        if not name:
            raise InputError(
                "no default DVC remote: promotion must prove the data is stored remotely",
                location=Location(".dvc/config", key="core.remote"),
                hint="dvc remote add -d <name> <url>",
            )
        return name

    def remote(self, name: str) -> Mapping[str, str]:
        section = f'remote "{name}"'
        settings = self.sections.get(section)
        if settings is None or not settings.get("url"):
            raise InputError(
                f"DVC remote '{name}' is not configured",
                location=Location(".dvc/config", key=section),
            )
        return settings

    def cache_dir(self, root: Path) -> Path:
        configured = self.sections.get("cache", {}).get("dir")
        return (root / ".dvc" / configured).resolve() if configured else root / ".dvc" / "cache"


# --------------------------------------------------------------------------- commands


def push(root: Path, remote: str) -> None:
    """`dvc push` everything the workspace tracks to `remote`."""
    run(["dvc", "push", "-r", remote], root)


def fetch(root: Path, remote: str) -> tuple[int, str]:
    """`dvc fetch -r remote`: its exit code and what it printed."""
    result = run(["dvc", "fetch", "-r", remote], root, check=False)
    return result.returncode, (result.stderr or result.stdout).strip()
