"""The release folder: the model plus what it was built from, signed as one unit.

Layout (paths as in the repository, so a consumer rebuilds it from a checkout):

    models/model.pkl          the model (a file, or a directory of files)
    dvc.lock                  the pipeline's hashes at the tag
    params.yaml               every params file dvc.lock names
    requirements.txt          the locked environment (whichever lock files exist)
    provenance.intoto.json    the in-toto statement of this version

model-signing does not bind file names outside the folder and skips `.git*` paths by
default; signing the folder (git paths included) makes one signature cover all of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlgitops.attest.statement import FileDigest

# The locked environment, in the order looked for; every one that exists is included.
LOCK_FILES = (
    "requirements.txt",
    "requirements.lock",
    "requirements-lock.txt",
    "requirements/lock.txt",
    "uv.lock",
    "poetry.lock",
)
CHUNK = 1 << 20  # streamed hashing: memory stays flat whatever the model's size


def sha256_file(path: Path, name: str) -> FileDigest:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return FileDigest(name, digest.hexdigest(), size)


def md5_file(path: Path) -> str:
    """DVC's hash of a file (md5 of its bytes), streamed."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(name: str, content: bytes) -> FileDigest:
    return FileDigest(name, hashlib.sha256(content).hexdigest(), len(content))


def model_digests(work: Path, model_path: str) -> list[FileDigest]:
    """sha256 of the model file, or of every file of a model directory, sorted by path."""
    root = work / model_path
    if root.is_file():
        return [sha256_file(root, model_path)]
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return [sha256_file(p, f"{model_path}/{p.relative_to(root).as_posix()}") for p in files]


def release_file_names(lock: Mapping[str, Any], present: Iterable[str]) -> list[str]:
    """dvc.lock, the params files it names (params.yaml at least, when present) and the
    lock files, in that order, restricted to those `present` at the commit."""
    available = set(present)
    names = ["dvc.lock"]
    params: list[str] = ["params.yaml"]
    for stage in (lock.get("stages") or {}).values():
        if isinstance(stage, Mapping):
            params += [str(name) for name in (stage.get("params") or {})]
    names += params
    names += LOCK_FILES
    return [name for name in dict.fromkeys(names) if name in available]


def _place(source: Path, target: Path) -> None:
    """A hard link when possible (a 500 MB model is not copied), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def assemble(
    folder: Path,
    *,
    model_root: Path,
    model_path: str,
    files: Mapping[str, bytes],
    provenance: bytes,
) -> None:
    """Write the release folder: the model from `model_root/model_path`, `files` (name →
    bytes at the commit) and the provenance statement."""
    from mlgitops.attest.statement import PROVENANCE_FILE

    source = model_root / model_path
    if source.is_file():
        _place(source, folder / model_path)
    else:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            _place(path, folder / model_path / path.relative_to(source))
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (folder / PROVENANCE_FILE).write_bytes(provenance)
