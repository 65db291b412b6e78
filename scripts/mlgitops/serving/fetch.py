"""Fetch a promoted model version through DVC and check it against dvc.lock before use.

`fetch_model_version(repo_root, "churn-model@v1.2.0" | "churn-model#production", dest)`:

1. resolves the reference to a version and its commit from the model's GTO tags
   (`resolve_reference`; a deregistered version is refused);
2. reads, at that commit, the artifact's path (and its input schema's, `meta.schema`,
   default `schema.json` beside the model) from dvc.yaml, and their md5 from dvc.lock;
3. streams each file through DVC's API at that commit (the local DVC cache first, then
   the DVC remote), hashing as it writes, and moves it into `dest` only when the md5 is
   the one dvc.lock records. A mismatch is a GateFailed: the bytes are not the version.

Git state is read through `_read_at` and `_tag_refs` only, so the reads can be moved onto
a shared workspace reader without touching the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mlgitops.core.input_schema import InputSchema, SchemaFormatError, schema_from_dict
from mlgitops.core.tags import TagAction, parse_tag
from mlgitops.core.versioning import TagRef, build_history
from mlgitops.errors import GateFailed, InputError, Location, ToolError
from mlgitops.proc import run

DEFAULT_SCHEMA_NAME = "schema.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ResolvedVersion:
    """A registered version of a model and the commit its tag points at."""

    model: str
    version: str  # "v1.2.0"
    tag: str  # "churn-model@v1.2.0"
    commit: str


@dataclass(frozen=True)
class FetchedVersion:
    """A model version on disk, verified against dvc.lock at its commit."""

    model: str
    version: str
    tag: str
    commit: str
    path: Path  # the model file in `dest`
    md5: str
    schema: InputSchema | None
    schema_path: Path | None = None
    schema_md5: str | None = None


# --------------------------------------------------------------------------- git reads


def _tag_refs(repo_root: Path) -> list[TagRef]:
    from mlgitops.services.promotion import list_tag_refs

    return list_tag_refs(repo_root)


def _read_at(repo_root: Path, commit: str, path: str) -> str | None:
    """A committed file's text, or None when the commit has no such file."""
    result = run(["git", "show", f"{commit}:{path}"], repo_root, check=False)
    return result.stdout if result.returncode == 0 else None


# --------------------------------------------------------------------------- resolving


def resolve_reference(repo_root: Path, reference: str) -> ResolvedVersion:
    """The version and commit of `<model>@vX.Y.Z`, `<model>#<stage>` or `<model>#<stage>#N`.

    `<model>#<stage>` is the version the stage holds now (as `gto show` computes it);
    `<model>#<stage>#N` is the version that stage tag assigned.
    """
    parsed = parse_tag(reference)
    usage = "give '<model>@vX.Y.Z' or '<model>#<stage>' (see 'mlgitops history')"
    if parsed is None or parsed.action not in (TagAction.REGISTER, TagAction.ASSIGN):
        raise InputError(f"not a model version reference: {reference!r}", hint=usage)
    history = build_history(parsed.artifact, _tag_refs(repo_root))
    entry = None
    if parsed.action is TagAction.REGISTER:
        assert parsed.version is not None
        entry = history.find(parsed.version)
        if entry is None or entry.deregistered:
            state = "is deregistered" if entry is not None else "is not registered"
            raise InputError(
                f"version {parsed.version} of '{parsed.artifact}' {state}",
                hint=f"see 'mlgitops history {parsed.artifact}'",
            )
    elif parsed.counter is None:
        assert parsed.stage is not None
        version = history.current(parsed.stage)
        entry = history.find(version) if version is not None else None
        if entry is None:
            raise InputError(
                f"no version of '{parsed.artifact}' is in stage '{parsed.stage}'",
                hint=f"assign one first ('mlgitops promote'), see 'mlgitops history "
                f"{parsed.artifact}'",
            )
    else:
        event = next((e for e in history.events if e.tag == reference), None)
        if event is None or event.version is None:
            raise InputError(f"stage tag '{reference}' not found", hint=usage)
        entry = history.find(event.version)
        if entry is None:
            raise InputError(f"stage tag '{reference}' names no registered version")
    return ResolvedVersion(parsed.artifact, str(entry.version), entry.tag, entry.commit)


# --------------------------------------------------------------------------- dvc.yaml / lock


@dataclass(frozen=True)
class _Declared:
    model_path: str
    schema_path: str


def _load_yaml(text: str, name: str, commit: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(
            f"not valid YAML at {commit[:12]}: {error}", location=Location(name)
        ) from None


def _declared_paths(repo_root: Path, version: ResolvedVersion) -> _Declared:
    text = _read_at(repo_root, version.commit, "dvc.yaml")
    data = _load_yaml(text, "dvc.yaml", version.commit) if text is not None else None
    artifacts = data.get("artifacts") if isinstance(data, dict) else None
    spec = artifacts.get(version.model) if isinstance(artifacts, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        raise InputError(
            f"dvc.yaml at {version.tag} declares no artifact '{version.model}' with a path",
            location=Location("dvc.yaml", key=f"artifacts.{version.model}.path"),
        )
    model_path = _confined(spec["path"], "artifacts.path")
    meta = spec.get("meta") if isinstance(spec.get("meta"), dict) else {}
    declared = meta.get("schema") if isinstance(meta, dict) else None
    schema_path = (
        _confined(declared, "meta.schema")
        if isinstance(declared, str)
        else str(PurePosixPath(model_path).with_name(DEFAULT_SCHEMA_NAME))
    )
    return _Declared(model_path, schema_path)


def _confined(path: str, key: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise InputError(
            f"path {path!r} must stay inside the repository", location=Location("dvc.yaml", key=key)
        )
    return pure.as_posix()


def _locked_md5s(repo_root: Path, version: ResolvedVersion) -> dict[str, str]:
    """Output path → md5 of every stage output in dvc.lock at the version's commit."""
    text = _read_at(repo_root, version.commit, "dvc.lock")
    if text is None:
        raise InputError(
            f"{version.tag} has no dvc.lock: the pipeline was not run before it was promoted",
            location=Location("dvc.lock"),
        )
    data = _load_yaml(text, "dvc.lock", version.commit)
    hashes: dict[str, str] = {}
    stages = data.get("stages") if isinstance(data, dict) else None
    for stage in (stages or {}).values() if isinstance(stages, dict) else ():
        for out in (stage or {}).get("outs") or () if isinstance(stage, dict) else ():
            if isinstance(out, dict) and isinstance(out.get("md5"), str):
                hashes[PurePosixPath(str(out.get("path"))).as_posix()] = out["md5"]
    return hashes


# --------------------------------------------------------------------------- fetching


def _fetch_verified(
    repo_root: Path, version: ResolvedVersion, path: str, expected: str, dest: Path
) -> Path:
    """Stream `path` at the version's commit into `dest`, only if its md5 is `expected`."""
    import dvc.api
    from dvc.exceptions import DvcException, PathMissingError

    if expected.endswith(".dir"):
        raise InputError(
            f"'{path}' is a directory in DVC; serving needs a single model file",
            location=Location("dvc.yaml", key=f"artifacts.{version.model}.path"),
        )
    target = dest / PurePosixPath(path).name
    digest = hashlib.md5(usedforsecurity=False)
    handle, partial = tempfile.mkstemp(dir=dest, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            with dvc.api.open(path, repo=str(repo_root), rev=version.commit, mode="rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        actual = digest.hexdigest()
        if actual != expected:
            raise GateFailed(
                f"'{path}' of {version.tag} has md5 {actual}, but dvc.lock at "
                f"{version.commit[:12]} records {expected}: refusing to use it",
                hint="the DVC cache or remote holds other bytes under this hash; "
                "remove the cached copy and fetch again, or check who wrote to the remote",
            )
        os.replace(partial, target)
    except (PathMissingError, FileNotFoundError):
        raise ToolError(
            f"'{path}' of {version.tag} is in neither the DVC cache nor the DVC remote",
            hint="push the data of every promoted version ('dvc push --all-tags'), and check "
            "the remote settings and credentials of this checkout",
        ) from None
    except DvcException as error:
        raise ToolError(
            f"DVC could not read '{path}' of {version.tag}: {error}",
            hint="check that the DVC remote is configured and reachable ('dvc pull' works)",
        ) from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def _parse_schema(path: Path, version: ResolvedVersion, name: str) -> InputSchema:
    try:
        return schema_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, SchemaFormatError) as error:
        raise InputError(
            f"input schema of {version.tag} is not valid: {error}", location=Location(name)
        ) from None


def fetch_model_version(
    repo_root: Path | str, reference: str, dest: Path | str, *, require_schema: bool = True
) -> FetchedVersion:
    """Resolve `reference`, fetch its model (and input schema) into `dest`, verified.

    `dest` is created if needed; the files keep their names (`model.pkl`, `schema.json`).
    Raises InputError for an unknown reference or an undeclared artifact, ToolError when
    DVC cannot get the bytes, and GateFailed when they are not the bytes dvc.lock records.
    Without `require_schema`, a version that predates the input schema gives `schema=None`.
    """
    root = Path(repo_root)
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    version = resolve_reference(root, reference)
    declared = _declared_paths(root, version)
    hashes = _locked_md5s(root, version)
    if declared.model_path not in hashes:
        raise InputError(
            f"dvc.lock at {version.tag} records no hash for '{declared.model_path}'",
            location=Location("dvc.lock"),
            hint="the model must be an output of a pipeline stage",
        )
    model_md5 = hashes[declared.model_path]
    model_file = _fetch_verified(root, version, declared.model_path, model_md5, target)
    schema = schema_file = schema_md5 = None
    if declared.schema_path in hashes:
        schema_md5 = hashes[declared.schema_path]
        schema_file = _fetch_verified(root, version, declared.schema_path, schema_md5, target)
        schema = _parse_schema(schema_file, version, declared.schema_path)
    elif require_schema:
        raise InputError(
            f"{version.tag} has no input schema ('{declared.schema_path}' is not an output in "
            "its dvc.lock)",
            hint="versions trained before the pipeline recorded models/schema.json cannot be "
            "validated; retrain and promote a new version",
        )
    return FetchedVersion(
        model=version.model,
        version=version.version,
        tag=version.tag,
        commit=version.commit,
        path=model_file,
        md5=model_md5,
        schema=schema,
        schema_path=schema_file,
        schema_md5=schema_md5,
    )
