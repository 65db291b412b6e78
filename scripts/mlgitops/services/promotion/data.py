"""Data verification: nothing corrupted is pushed, and the remote holds every object.

1. Before `dvc push`, every local cache object the commit pins is re-hashed: one that
   does not hash to its name blocks promotion before anything reaches the remote
   (`dvc push` uploads cache files as they are).
2. After the push, the commit's files are exported to a scratch directory whose DVC
   cache is EMPTY, `dvc fetch` (remote `verify = false`, so DVC keeps what it got)
   brings every object back, and each one is re-hashed here: an object that did not
   arrive is *missing*, one whose bytes do not match its name is *corrupted*. Both are
   named by path. (`dvc status -c` and `dvc push` trust directory manifests and object
   names, so neither notices these.)
3. `repair_remote` re-uploads, over the bad copies, only objects whose local copy was
   verified in step 1, then verifies again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlgitops.errors import GateFailed, InputError, Location, ToolError
from mlgitops.io import dvc
from mlgitops.io.workspace import Workspace

Log = Callable[[str], None]
SHOWN = 20


@dataclass(frozen=True)
class Verification:
    remote: str
    objects: int
    bytes: int


@dataclass(frozen=True)
class RemoteState:
    """Objects of a commit as the remote holds them: name → path for each kind."""

    present: Mapping[str, Path]  # fetched copies in the scratch cache
    missing: Mapping[str, str]
    corrupted: Mapping[str, str]


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hashes_to_name(path: Path, name: str) -> bool:
    return _md5_file(path) == name.replace("/", "").removesuffix(".dir")


def _listing(items: Mapping[str, str]) -> str:
    paths = sorted(items.values())
    shown = ", ".join(paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def pinned_objects(ws: Workspace, commit: str) -> dict[str, str]:
    """Cache object name (`ab/cdef...[.dir]`) → path, for every DVC-cached output that
    dvc.lock and the .dvc files pin at `commit` (outputs kept in git are left out)."""
    uncached = ws.uncached_outputs(commit)
    tracked = set(ws.git.tracked_paths(commit))
    objects: dict[str, str] = {}
    for item in ws.data_hashes(commit):
        if item.kind != "out" or item.path in uncached or item.path in tracked:
            continue
        objects[f"{item.md5[:2]}/{item.md5[2:]}"] = item.path
    return objects


def _expand_directories(
    objects: Mapping[str, str], caches: tuple[Path, ...]
) -> tuple[dict[str, str], list[str]]:
    """Add the files listed in each directory manifest; also return unreadable manifests."""
    files: dict[str, str] = {}
    unreadable = []
    for name, path in objects.items():
        if not name.endswith(".dir"):
            continue
        for cache in caches:
            manifest = cache / "files" / "md5" / name
            try:
                entries = json.loads(manifest.read_text(encoding="utf-8"))
                if not _hashes_to_name(manifest, name):
                    continue
            except (OSError, ValueError):
                continue
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict) and "md5" in entry and "relpath" in entry:
                    md5 = str(entry["md5"])
                    files[f"{md5[:2]}/{md5[2:]}"] = f"{path}/{entry['relpath']}"
            break
        else:
            unreadable.append(path)
    return {**objects, **files}, unreadable


def check_local_cache(ws: Workspace, commit: str) -> dict[str, Path]:
    """Re-hash the local cache objects `commit` pins; GateFailed naming every object that
    does not hash to its name (nothing has been pushed then). Returns the verified ones."""
    cache = ws.dvc_config.cache_dir(ws.root)
    objects, _ = _expand_directories(pinned_objects(ws, commit), (cache,))
    verified: dict[str, Path] = {}
    corrupted: dict[str, str] = {}
    for name, path in objects.items():
        local = cache / "files" / "md5" / name
        if not local.is_file():
            continue  # not here: `dvc push` cannot send it; remote verification decides
        if _hashes_to_name(local, name):
            verified[name] = local
        else:
            corrupted[name] = path
    if corrupted:
        raise GateFailed(
            f"the local DVC cache holds corrupted data for commit {commit[:12]}: "
            f"{_listing(corrupted)} (the cache file does not hash to its name); "
            "nothing was pushed",
            hint="delete those objects from the DVC cache and restore them "
            "('dvc pull' from a good remote, or 'dvc repro'), then re-run; no tag was created",
        )
    return verified


def push_verified(ws: Workspace, commit: str, remote: str, log: Log) -> None:
    """`dvc push` after proving every local object of `commit` hashes to its name."""
    checked = check_local_cache(ws, commit)
    log(f"local cache verified: {len(checked)} objects re-hashed; dvc push to '{remote}'")
    dvc.push(ws.root, remote)


@contextmanager
def _scratch(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_scratch_config(ws: Workspace, work: Path, cache: Path, remote: str) -> None:
    """The scratch copy's `.dvc/config.local`: the user's (credentials live there, never
    in git), plus an empty cache, no SCM, and the remote with an absolute local URL."""
    from configobj import ConfigObj

    settings = ws.dvc_config.remote(remote)
    source = ws.root / ".dvc" / "config.local"
    config = ConfigObj(str(source) if source.exists() else None, encoding="utf-8")
    config.filename = str(work / ".dvc" / "config.local")
    config.setdefault("core", {})["no_scm"] = "true"
    config.setdefault("cache", {})["dir"] = str(cache)
    remote_config = config.setdefault(f'remote "{remote}"', {})
    url = settings["url"]
    if "://" not in url and not os.path.isabs(url):
        remote_config["url"] = str((ws.root / ".dvc" / url).resolve())
    # Keep what arrives: a corrupted object is reported as such, not as missing.
    remote_config["verify"] = "false"
    config.write()


def inspect_remote(ws: Workspace, commit: str, remote: str, scratch: Path) -> RemoteState:
    """Fetch `commit`'s objects from `remote` into an empty cache under `scratch` and
    sort them into present, missing and corrupted."""
    work, cache = scratch / "work", scratch / "cache"
    work.mkdir()
    ws.git.archive(commit, scratch / "c.tar")
    with tarfile.open(scratch / "c.tar") as archive:
        archive.extractall(work, filter="data")
    if not (work / ".dvc").is_dir():
        raise InputError(
            "this commit has no .dvc directory: promotion needs DVC-tracked outputs",
            location=Location(".dvc"),
        )
    _write_scratch_config(ws, work, cache, remote)
    code, said = dvc.fetch(work, remote)
    # What `dvc fetch` did not bring (it gives up on a directory with a missing file)
    # is asked of the remote object by object, so "missing" means not on the remote.
    direct = scratch / "direct"
    pinned = pinned_objects(ws, commit)
    fetched = _objects_in(cache)
    _download(work, remote, [n for n in pinned if n not in fetched], direct)
    objects, unreadable = _expand_directories(
        pinned, (cache, direct, ws.dvc_config.cache_dir(ws.root))
    )
    got = {**_objects_in(direct), **fetched}
    _download(work, remote, [n for n in objects if n not in got], direct)
    got = {**_objects_in(direct), **fetched}
    present: dict[str, Path] = {}
    missing: dict[str, str] = {}
    corrupted: dict[str, str] = {}
    for name, path in objects.items():
        obj = got.get(name)
        if obj is None:
            missing[name] = path
        elif _hashes_to_name(obj, name):
            present[name] = obj
        else:
            corrupted[name] = path
    for path in unreadable:
        if path not in missing.values() and path not in corrupted.values():
            missing[f"{path} (directory listing)"] = f"{path} (directory listing)"
    if code != 0 and not (missing or corrupted):
        raise ToolError(f"'dvc fetch -r {remote}' failed: {said}")
    return RemoteState(present, missing, corrupted)


def _objects_in(cache: Path) -> dict[str, Path]:
    files = cache / "files" / "md5"
    if not files.exists():
        return {}
    return {obj.relative_to(files).as_posix(): obj for obj in files.glob("*/*")}


def _download(work: Path, remote: str, names: list[str], into: Path) -> None:
    """Copy each named object that exists on `remote` into `into` (a cache layout)."""
    if not names:
        return
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo

    try:
        with DvcRepo(str(work)) as repo:
            odb = repo.cloud.get_remote_odb(remote, "promote")
            for name in names:
                source = odb.oid_to_path(name.replace("/", ""))
                if odb.fs.exists(source):
                    target = into / "files" / "md5" / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    odb.fs.get_file(source, str(target))
    except DvcException as error:
        raise ToolError(f"could not read DVC remote '{remote}': {error}") from error


def _problem(state: RemoteState) -> str:
    parts = []
    if state.missing:
        parts.append(f"missing: {_listing(state.missing)}")
    if state.corrupted:
        parts.append(f"corrupted (bytes do not match the hash): {_listing(state.corrupted)}")
    return "; ".join(parts)


def verify_remote_data(ws: Workspace, commit: str, remote: str, log: Log) -> Verification:
    """Prove `remote` holds every DVC object `commit` references, by content."""
    with _scratch("mlgitops-verify-") as scratch:
        state = inspect_remote(ws, commit, remote, scratch)
        if state.missing or state.corrupted:
            raise GateFailed(
                f"DVC remote '{remote}' does not hold all data of commit {commit[:12]}: "
                f"{_problem(state)}",
                hint="repair it from a verified local cache with "
                "'mlgitops promote --repair-remote' (a plain 'dvc push' skips objects the "
                "remote already has, corrupted or not); no tag was created",
            )
        size = sum(obj.stat().st_size for obj in state.present.values())
        count = len(state.present)
    log(f"data verified: {count} objects ({size} bytes) fetched from '{remote}' and re-hashed")
    return Verification(remote, count, size)


def repair_remote(ws: Workspace, commit: str, remote: str, log: Log) -> int:
    """Re-upload the missing and corrupted objects of `commit` from the local cache, only
    those verified locally; GateFailed when one cannot be repaired. Returns the count."""
    verified = check_local_cache(ws, commit)
    with _scratch("mlgitops-repair-") as scratch:
        state = inspect_remote(ws, commit, remote, scratch)
    bad = {**state.missing, **state.corrupted}
    if not bad:
        log(f"remote '{remote}' already holds every object of {commit[:12]}: nothing to repair")
        return 0
    unrepairable = {name: path for name, path in bad.items() if name not in verified}
    if unrepairable:
        raise GateFailed(
            f"cannot repair DVC remote '{remote}': no verified local copy of "
            f"{_listing(unrepairable)}",
            hint="restore them in the local cache first ('dvc repro' or 'dvc pull' from "
            "another remote), then re-run with --repair-remote; no tag was created",
        )
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo
    from dvc_objects.fs.local import LocalFileSystem

    names = sorted(bad)
    try:
        with DvcRepo(str(ws.root)) as repo:
            odb = repo.cloud.get_remote_odb(remote, "promote --repair-remote")
            odb.add(
                [str(verified[name]) for name in names],
                LocalFileSystem(),
                [name.replace("/", "") for name in names],
                check_exists=False,  # overwrite the corrupted copies
            )
    except DvcException as error:
        raise ToolError(f"re-uploading to DVC remote '{remote}' failed: {error}") from error
    log(f"repaired remote '{remote}': re-uploaded {len(names)} verified objects "
        f"({_listing(bad)})")  # fmt: skip
    return len(names)
