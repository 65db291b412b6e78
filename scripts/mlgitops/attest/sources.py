"""The one reader of git and DVC state for attestation: files at a commit as bytes, the
model fetched from the DVC remote into an empty cache, and the DVC remote's settings.

Files are read as bytes (`git cat-file blob`), never as text: the signature covers the
exact bytes, and text mode would turn CRLF into LF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlgitops.errors import InputError, Location, ToolError
from mlgitops.proc import run


def read_bytes(repo: Path, commit: str, path: str) -> bytes | None:
    """The file `path` at `commit` as bytes, or None when it is not there."""
    result = subprocess.run(
        ["git", "cat-file", "blob", f"{commit}:{path}"],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def commit_of(repo: Path, ref: str) -> str | None:
    result = run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        repo,
        check=False,
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def dvc_config(repo: Path) -> dict[str, dict[str, str]]:
    """`.dvc/config` overlaid with `.dvc/config.local`, as DVC reads them."""
    from configobj import ConfigObj  # DVC's own config reader

    merged: dict[str, dict[str, str]] = {}
    for name in ("config", "config.local"):
        path = repo / ".dvc" / name
        if path.exists():
            for section, values in ConfigObj(str(path), encoding="utf-8").items():
                if isinstance(values, dict):
                    merged.setdefault(section, {}).update(values)
    return merged


def default_remote(repo: Path) -> str:
    name = dvc_config(repo).get("core", {}).get("remote", "")
    if not name:
        raise InputError(
            "no default DVC remote: the model and its signature are read from it",
            location=Location(".dvc/config", key="core.remote"),
            hint="dvc remote add -d <name> <url>, or pass --dvc-remote",
        )
    return name


def write_isolated_config(
    repo: Path, work: Path, cache: Path, remote: str, *, no_scm: bool = False
) -> None:
    """`work/.dvc/config.local`: the user's own (credentials live there, never in git),
    an EMPTY cache at `cache`, and `remote` with an absolute URL when it was relative."""
    from configobj import ConfigObj

    section = f'remote "{remote}"'
    settings = dvc_config(repo).get(section)
    if settings is None or not settings.get("url"):
        raise InputError(
            f"DVC remote '{remote}' is not configured",
            location=Location(".dvc/config", key=section),
        )
    source = repo / ".dvc" / "config.local"
    config = ConfigObj(str(source) if source.exists() else None, encoding="utf-8")
    config.filename = str(work / ".dvc" / "config.local")
    config.setdefault("cache", {})["dir"] = str(cache)
    core = {**config.get("core", {}), "remote": remote}
    if no_scm:
        core["no_scm"] = "true"
    config["core"] = core
    remote_config = config.setdefault(section, {})
    url = settings["url"]
    if "://" not in url and not os.path.isabs(url):
        remote_config["url"] = str((repo / ".dvc" / url).resolve())
    config.write()


def export_commit(repo: Path, commit: str, work: Path) -> None:
    """The files of `commit` (no .git) into `work`."""
    work.mkdir(parents=True, exist_ok=True)
    archive = work.parent / f"{work.name}.tar"
    run(["git", "archive", "--format=tar", "-o", str(archive), commit], repo)
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    archive.unlink()


def pinned_md5(work: Path, path: str) -> str | None:
    """The hash dvc.lock (or a .dvc file) of the exported tree `work` pins `path` to."""
    import yaml

    from mlgitops.core.markdown.release import data_hashes_from_dvcfile, data_hashes_from_lock

    candidates = []
    lock = work / "dvc.lock"
    if lock.is_file():
        candidates += data_hashes_from_lock(yaml.safe_load(lock.read_text(encoding="utf-8")) or {})
    for dvcfile in work.rglob("*.dvc"):
        name = dvcfile.relative_to(work).as_posix()
        if not dvcfile.is_file() or name.startswith(".dvc/"):
            continue
        content = yaml.safe_load(dvcfile.read_text(encoding="utf-8")) or {}
        candidates += data_hashes_from_dvcfile(name, content)
    return next((h.md5 for h in candidates if h.kind == "out" and h.path == path), None)


def _fetch_raw_object(repo: Path, remote: str, md5: str, target: Path) -> bool:
    """Copy the remote's object `md5` as it is, without DVC's hash check; False if absent.

    DVC drops an object whose content does not match its name, so a corrupted copy in
    the remote would look "missing"; verification must see the bytes to say "altered".
    """
    fs, root = remote_fs(repo, remote)
    source = fs.join(root, "files", "md5", md5[:2], md5[2:])
    if not fs.exists(source):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fs.get_file(source, str(target))
    return True


def fetch_model(repo: Path, commit: str, model_path: str, remote: str, into: Path) -> Path:
    """The model `model_path` of `commit`, pulled from `remote` into an EMPTY cache.

    Returns the exported work tree (`into/work`) holding the model at `model_path`: the
    bytes are the remote's, not whatever the local workspace or cache holds.

    A single-file model is copied from the remote's object store as it is, through
    DVC's filesystem for the remote: `dvc pull` would not only refuse an object whose
    content does not match its name, it DELETES it from a local remote (DVC 3.67), and
    verification must see the altered bytes to say "altered". A directory model is
    pulled with `dvc pull`.
    """
    work = into / "work"
    export_commit(repo, commit, work)
    if not (work / ".dvc").is_dir():
        raise InputError(f"commit {commit[:12]} has no .dvc directory", location=Location(".dvc"))
    write_isolated_config(repo, work, into / "cache", remote, no_scm=True)
    md5 = pinned_md5(work, model_path)
    if md5 and not md5.endswith(".dir"):
        _fetch_raw_object(repo, remote, md5, work / model_path)
        result = None
    else:
        result = run(["dvc", "pull", "--quiet", "-r", remote, model_path], work, check=False)
    if not (work / model_path).exists():
        detail = (result.stderr or result.stdout).strip().splitlines() if result else []
        raise ToolError(
            f"could not fetch {model_path} of commit {commit[:12]} from DVC remote "
            f"'{remote}': {detail[-1] if detail else 'not in the remote'}",
            hint="check the remote's URL and credentials (dvc remote list)",
        )
    return work


def remote_fs(repo: Path, remote: str) -> tuple[Any, str]:
    """(filesystem, root path) of the DVC remote `remote`, through DVC's own config and
    filesystems, so any remote DVC supports (local, S3, GCS, SSH...) works the same."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo

    try:
        with DvcRepo(str(repo)) as dvc_repo:
            found = dvc_repo.cloud.get_remote(remote)
            return found.fs, found.path
    except DvcException as error:
        raise ToolError(f"DVC remote '{remote}' cannot be opened: {error}") from error
