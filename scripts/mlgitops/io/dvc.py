"""The one reader of DVC state: metrics, params and plots, `.dvc/config`, `dvc status`.

Metrics, params and plots are read in this process through DVC's own Python API
(`dvc.repo.Repo(...).metrics.show / params.show / plots.show`, the functions behind
`dvc metrics show` and `dvc.api`), never re-parsed here. Each `dvc` CLI call costs about
a second (start-up and index) and DVC walks the working tree on every call whatever
revisions it is asked for, so every revision a command needs is read in ONE pass, with
one `Repo` opened for metrics, params and plots together.
"""

from __future__ import annotations

import json
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
    params: Mapping[str, Any] = field(default_factory=dict)
    plots: Mapping[str, PlotData] | None = None  # None: not asked for


def read_revisions(
    root: Path, commits: Sequence[str | None], *, plots_of: Sequence[str | None] = ()
) -> dict[str | None, RevisionData]:
    """Metrics and params of every commit (None: the working tree), and plots of those in
    `plots_of`, in one pass over one DVC `Repo`."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo

    revs = [c for c in dict.fromkeys(commits) if c is not None]
    try:
        with DvcRepo(str(root)) as repo:
            metrics = repo.metrics.show(revs=revs or None, hide_workspace=False)
            params = repo.params.show(revs=revs or None, hide_workspace=False)
            plot_revs = sorted({c or WORKSPACE for c in plots_of})
            shown = repo.plots.show(revs=plot_revs) if plot_revs else {}
    except DvcException as error:
        raise ToolError(f"DVC could not read metrics, params or plots: {error}") from error
    result: dict[str | None, RevisionData] = {}
    for rev in [None, *revs]:
        # The working tree is "workspace" next to revisions, "" alone.
        names = [rev] if rev is not None else [WORKSPACE, ""]
        metric_entry = next((metrics[n] for n in names if n in metrics), None)
        param_entry = next((params[n] for n in names if n in params), None)
        plot_data = _plots(shown.get(rev or WORKSPACE) or {}) if rev in plots_of else None
        result[rev] = RevisionData(_files(root, metric_entry), _files(root, param_entry), plot_data)
    return result


def _files(root: Path, entry: Any) -> dict[str, Any]:
    files: dict[str, Any] = {}
    if not isinstance(entry, dict):
        return files
    for path, result in (entry.get("data") or {}).items():
        name = Path(path)
        if name.is_absolute():
            name = name.relative_to(root)
        files[name.as_posix()] = (
            result["data"] if "data" in result else result.get("error") or Exception("?")
        )
    return files


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


def status(root: Path) -> Mapping[str, Any]:
    """`dvc status --json`: {} when dvc.lock matches dvc.yaml, code, params and data."""
    text = run(["dvc", "status", "--json"], root).stdout.strip()
    try:
        found = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise ToolError(f"'dvc status --json' printed something else: {text[:200]}") from error
    if not isinstance(found, dict):
        raise ToolError(f"'dvc status --json' printed {type(found).__name__}, not an object")
    return found


def push(root: Path, remote: str) -> None:
    """`dvc push` everything the workspace tracks to `remote`."""
    run(["dvc", "push", "-r", remote], root)


def fetch(root: Path, remote: str) -> tuple[int, str]:
    """`dvc fetch -r remote`: its exit code and what it printed."""
    result = run(["dvc", "fetch", "-r", remote], root, check=False)
    return result.returncode, (result.stderr or result.stdout).strip()
