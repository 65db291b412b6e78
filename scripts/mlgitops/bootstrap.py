"""Turn a freshly baked folder into a working repository: git, DVC, tracked data, remote.

The template's hooks deliberately run no git or dvc commands (that would break
`cruft update`), so this is the documented first step after baking. Every step checks
first and only does what is missing, so running it again is safe.
"""

from __future__ import annotations

import configparser
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mlgitops import defaults, proc
from mlgitops.errors import InputError, Location

DATA = Path("data/raw/data.csv")
DATA_DVC = Path(defaults.DATA_DVC)
DATASET = Path(defaults.DATASET)
PYPROJECT = Path("pyproject.toml")
REMOTE_NAME = "storage"
INITIAL_MESSAGE = "Initial commit: repository from ml-gitops-template, data tracked by DVC"
INIT_MESSAGE = "mlgitops init: track data with DVC and configure the DVC remote"
# What init may change after the first commit; only these are committed on a re-run.
INIT_PATHS = (
    ".dvc/config",
    ".dvc/.gitignore",
    ".dvcignore",
    "data/raw/data.csv.dvc",
    "data/raw/.gitignore",
)


@dataclass(frozen=True)
class RepoSettings:
    """The `[tool.mlgitops]` table of a baked repository's pyproject.toml."""

    slug: str
    model_name: str
    dvc_remote: str
    dvc_remote_url: str


@dataclass
class InitResult:
    """What `init_repository` did, in order, for the user to read."""

    path: Path
    remote_url: str
    actions: list[str] = field(default_factory=list)
    commit: str | None = None


def read_settings(repo: Path) -> RepoSettings:
    """Read `[tool.mlgitops]` from pyproject.toml; InputError if this is not a baked repo."""
    pyproject = repo / PYPROJECT
    if not (repo / "dvc.yaml").is_file() or not pyproject.is_file():
        raise InputError(
            f"{repo} does not look like a repository baked from ml-gitops-template "
            "(no dvc.yaml or pyproject.toml)",
            hint="run 'cookiecutter <template>' first, then 'mlgitops init' inside the new folder",
        )
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"invalid TOML: {error}", location=Location(str(pyproject))) from error
    table = data.get("tool", {}).get("mlgitops")
    if not isinstance(table, dict):
        raise InputError(
            "missing the [tool.mlgitops] table",
            location=Location(str(pyproject), key="tool.mlgitops"),
        )
    try:
        return RepoSettings(
            slug=str(data["project"]["name"]),
            model_name=str(table["model_name"]),
            dvc_remote=str(table["dvc_remote"]),
            dvc_remote_url=str(table.get("dvc_remote_url", "")),
        )
    except KeyError as error:
        raise InputError(
            f"missing key {error.args[0]!r}",
            location=Location(str(pyproject), key=str(error.args[0])),
        ) from error


def read_data_meta(repo: Path) -> dict[str, str]:
    """`license` and `source` of data/raw/data.csv, from data/dataset.yaml."""
    path = repo / DATASET
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as error:
        raise InputError(
            "missing: it states the data's license and source", location=Location(str(path))
        ) from error
    except yaml.YAMLError as error:
        raise InputError(f"invalid YAML: {error}", location=Location(str(path))) from error
    if not isinstance(data, dict) or not data.get("license"):
        raise InputError("no 'license' given", location=Location(str(path), key="license"))
    meta = {"license": str(data["license"])}
    if data.get("source"):
        meta["source"] = str(data["source"])
    return meta


def resolve_remote_url(repo: Path, settings: RepoSettings, override: str | None) -> str:
    """The DVC remote URL: `override`, else pyproject's, else (local) ../<slug>-dvc-remote.

    Local paths are made absolute (relative ones are taken from the repository folder), so
    every clone on this machine finds the same remote.
    """
    url = (override if override is not None else settings.dvc_remote_url).strip()
    if settings.dvc_remote != "local" and override is None:
        if not url:
            raise InputError(
                f"dvc_remote is {settings.dvc_remote!r} but no URL is set",
                location=Location(str(repo / PYPROJECT), key="tool.mlgitops.dvc_remote_url"),
                hint="pass --remote-url",
            )
        return url
    if "://" in url:
        return url
    folder = Path(url).expanduser() if url else Path("..", f"{settings.slug}-dvc-remote")
    if not folder.is_absolute():
        folder = repo / folder
    return str(folder.resolve())


def _has_commits(repo: Path) -> bool:
    return (
        proc.run(["git", "rev-parse", "--verify", "-q", "HEAD"], repo, check=False).returncode == 0
    )


def _ensure_git(repo: Path, result: InitResult) -> None:
    inside = proc.run(["git", "rev-parse", "--show-toplevel"], repo, check=False)
    if inside.returncode == 0 and Path(inside.stdout.strip()).resolve() == repo:
        return
    proc.git("init", "-q", "-b", "main", cwd=repo)
    result.actions.append("git init (branch main)")


def _ensure_dvc(repo: Path, result: InitResult) -> None:
    if (repo / ".dvc" / "config").is_file():
        return
    proc.dvc("init", "-q", cwd=repo)
    result.actions.append("dvc init")


def _ensure_data_tracked(repo: Path, meta: dict[str, str], result: InitResult) -> None:
    if not (repo / DATA).is_file():
        if (repo / DATA_DVC).is_file():
            proc.dvc("pull", "-q", str(DATA_DVC), cwd=repo)
            result.actions.append(f"dvc pull {DATA}")
        else:
            raise InputError("missing: the data to train on", location=Location(str(repo / DATA)))
    meta_written = _write_meta(repo / DATA_DVC, meta)
    if meta_written or not _data_unchanged(repo):
        # `dvc add` keeps `meta:` and rewrites the file in DVC's own layout.
        proc.dvc("add", "-q", str(DATA), cwd=repo)
        result.actions.append(
            f"dvc add {DATA} (meta: {', '.join(f'{k}={v}' for k, v in meta.items())})"
        )


def _data_unchanged(repo: Path) -> bool:
    """The .dvc file records the data's current MD5 (DVC 3 hashes file bytes as they are)."""
    try:
        outs = (yaml.safe_load((repo / DATA_DVC).read_text(encoding="utf-8")) or {})["outs"]
        recorded = outs[0]["md5"]
    except (KeyError, IndexError, TypeError, yaml.YAMLError):
        return False
    digest = hashlib.md5(usedforsecurity=False)
    with (repo / DATA).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return bool(digest.hexdigest() == recorded)


def _write_meta(dvc_file: Path, meta: dict[str, str]) -> bool:
    """Put the data license and source in the .dvc file's `meta:`; False if already there."""
    if dvc_file.is_file():
        try:
            content = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise InputError(f"invalid YAML: {error}", location=Location(str(dvc_file))) from error
    else:
        content = {"outs": [{"path": DATA.name}]}
    current = content.get("meta") or {}
    wanted = {**current, **meta}
    if dvc_file.is_file() and current == wanted:
        return False
    content["meta"] = wanted
    dvc_file.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), "utf-8")
    return True


def _ensure_remote(repo: Path, settings: RepoSettings, url: str, result: InitResult) -> None:
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read(repo / ".dvc" / "config", encoding="utf-8")
    except configparser.Error:
        config.clear()
    section = f"'remote \"{REMOTE_NAME}\"'"
    if (
        config.get("core", "remote", fallback=None) == REMOTE_NAME
        and config.get(section, "url", fallback=None) == url
    ):
        return
    if settings.dvc_remote == "local" and "://" not in url:
        Path(url).mkdir(parents=True, exist_ok=True)
    proc.dvc("remote", "add", "--default", "--force", REMOTE_NAME, url, cwd=repo)
    result.actions.append(f"DVC remote {REMOTE_NAME!r} -> {url}")


def _commit(repo: Path, result: InitResult) -> None:
    first = not _has_commits(repo)
    if first:
        proc.git("add", "-A", cwd=repo)
    else:
        paths = [name for name in INIT_PATHS if (repo / name).exists()]
        proc.git("add", "--", *paths, cwd=repo)
    if proc.run(["git", "diff", "--cached", "--quiet"], repo, check=False).returncode == 0:
        return
    proc.run(
        ["git", "commit", "-q", "-m", INITIAL_MESSAGE if first else INIT_MESSAGE],
        repo,
        hint="set your git identity: git config --global user.name/user.email",
    )
    result.commit = proc.git("rev-parse", "HEAD", cwd=repo)
    result.actions.append(f"git commit {result.commit[:12]}")


def init_repository(
    path: Path, remote_url: str | None = None, *, commit: bool = True
) -> InitResult:
    """git init, dvc init, track data/raw/data.csv with its license, set the remote, commit.

    Idempotent: a second run finds everything in place and changes nothing.
    """
    repo = path.resolve()
    if not repo.is_dir():
        raise InputError(f"{path} is not a directory")
    settings = read_settings(repo)
    meta = read_data_meta(repo)
    url = resolve_remote_url(repo, settings, remote_url)
    result = InitResult(path=repo, remote_url=url)
    _ensure_git(repo, result)
    _ensure_dvc(repo, result)
    _ensure_data_tracked(repo, meta, result)
    _ensure_remote(repo, settings, url, result)
    if commit:
        _commit(repo, result)
    return result
