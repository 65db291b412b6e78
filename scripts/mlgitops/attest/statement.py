"""The provenance of a model version as an in-toto Statement v1 with a SLSA v1 predicate.

Pure: takes dataclasses, returns JSON-ready dicts, problems and strings. The statement is
built as plain JSON, not through the in-toto-attestation protobuf bindings, because
protobuf's Struct stores every number as a double (sizes would come back as 123.0).

What the statement says (docs/attestation.md shows an example):
- subject: every file of the model, by sha256 (the digest a consumer can recompute
  with `sha256sum`, unlike the signature's digest over the file digests);
- buildDefinition.externalParameters: model, version, tag, the pipeline's commands, the
  params values;
- buildDefinition.resolvedDependencies: the code commit, every hash of dvc.lock and of
  the .dvc files, the release folder's files (dvc.lock, params, locked requirements) by
  sha256, and each locked requirement;
- runDetails.builder: the workflow run, or "local" with the machine's versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlgitops.core.markdown.release import DataHash

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
# Ours, documented in docs/attestation.md: a DVC pipeline run at a tagged commit.
BUILD_TYPE = "urn:mlgitops:dvc-pipeline:v1"
LOCAL_BUILDER = "local"

# The release folder: one model-signing signature covers every file in it.
PROVENANCE_FILE = "provenance.intoto.json"
SIGNATURE_FILE = "model.sig"

# The checks `mlgitops verify` runs; a failure names one of these.
CHECK_SIGNATURE = "signature"
CHECK_MODEL_DIGEST = "model-digest"
CHECK_PROVENANCE_TAG = "provenance-tag"
CHECK_PROVENANCE_LOCK = "provenance-lock"
CHECK_REBUILD = "rebuild"


@dataclass(frozen=True)
class FileDigest:
    """A file of the release (path relative to the repository root) and its sha256."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Requirement:
    """One pinned line of a locked requirements file."""

    name: str
    version: str | None
    hashes: tuple[str, ...] = ()  # "sha256:<hex>" as pip's --hash writes them


@dataclass(frozen=True)
class Builder:
    """Who ran the build: a workflow run (id = workflow ref URL) or "local"."""

    id: str
    version: Mapping[str, str] = field(default_factory=dict)
    invocation_id: str | None = None


@dataclass(frozen=True)
class BuildInputs:
    """Everything the statement records, read by the caller at the tagged commit."""

    model: str
    version: str
    tag: str
    commit: str
    model_files: Sequence[FileDigest]
    data: Sequence[DataHash]
    files: Sequence[FileDigest]
    stages: Mapping[str, str]
    params: Mapping[str, Any]
    requirements: Sequence[Requirement]
    builder: Builder
    repository_uri: str | None = None
    started_on: str | None = None
    finished_on: str | None = None


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def parse_requirements(text: str) -> list[Requirement]:
    """The `name==version [--hash=...]` lines of a pip requirements file.

    Continuation lines (`\\`) are joined; comments, options and unpinned lines are kept
    as name-only entries so that the file's own digest still covers them.
    """
    joined = text.replace("\\\n", " ")
    found = []
    for raw in joined.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        words = line.split()
        spec = words[0].split(";", 1)[0]
        hashes = tuple(w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash="))
        name = _NAME.match(spec)
        if name:
            _, sep, version = spec.partition("==")
            found.append(Requirement(name.group(0), version.strip() if sep else None, hashes))
    return found


def _hex_digests(hashes: Sequence[str]) -> dict[str, str]:
    digests: dict[str, str] = {}
    for item in hashes:
        algorithm, _, value = item.partition(":")
        if value:
            digests.setdefault(algorithm, value)
    return digests


def _data_descriptor(item: DataHash) -> dict[str, Any]:
    directory = item.md5.endswith(".dir")
    annotations: dict[str, Any] = {
        "source": item.stage if item.stage.endswith(".dvc") else "dvc.lock",
        "stage": item.stage,
        "kind": item.kind,
        "directory": directory,
    }
    if item.size is not None:
        annotations["size"] = item.size
    if item.nfiles is not None:
        annotations["nfiles"] = item.nfiles
    return {
        "name": item.path,
        "digest": {"md5": item.md5.removesuffix(".dir")},
        "annotations": annotations,
    }


def build_statement(inputs: BuildInputs) -> dict[str, Any]:
    """The in-toto Statement v1 (SLSA provenance v1 predicate) of one model version."""
    source = {
        "uri": f"git+{inputs.repository_uri}@refs/tags/{inputs.tag}"
        if inputs.repository_uri
        else f"git+file:@refs/tags/{inputs.tag}",
        "digest": {"gitCommit": inputs.commit},
        "annotations": {"role": "source"},
    }
    files = [
        {"name": f.path, "digest": {"sha256": f.sha256}, "annotations": {"role": "release-file"}}
        for f in inputs.files
    ]
    requirements = []
    for requirement in inputs.requirements:
        descriptor: dict[str, Any] = {
            "name": requirement.name,
            "uri": f"pkg:pypi/{requirement.name.lower()}"
            + (f"@{requirement.version}" if requirement.version else ""),
            "annotations": {"role": "locked-requirement"},
        }
        if requirement.hashes:
            descriptor["digest"] = _hex_digests(requirement.hashes)
        requirements.append(descriptor)
    metadata: dict[str, Any] = {}
    if inputs.builder.invocation_id:
        metadata["invocationId"] = inputs.builder.invocation_id
    if inputs.started_on:
        metadata["startedOn"] = inputs.started_on
    if inputs.finished_on:
        metadata["finishedOn"] = inputs.finished_on
    builder: dict[str, Any] = {"id": inputs.builder.id}
    if inputs.builder.version:
        builder["version"] = dict(sorted(inputs.builder.version.items()))
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f.path, "digest": {"sha256": f.sha256}} for f in inputs.model_files],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "model": inputs.model,
                    "version": inputs.version,
                    "tag": inputs.tag,
                    "pipeline": {"command": "dvc repro", "stages": dict(inputs.stages)},
                    "params": dict(inputs.params),
                },
                "resolvedDependencies": [
                    source,
                    *files,
                    *(_data_descriptor(item) for item in inputs.data),
                    *requirements,
                ],
            },
            "runDetails": {"builder": builder, "metadata": metadata},
        },
    }


# --- reading a statement back ----------------------------------------------------------


class StatementError(ValueError):
    """A statement lacks a key we need; the message names its path."""


@dataclass(frozen=True)
class Claims:
    """What a provenance statement claims about a version, as `verify` compares it."""

    model: str
    version: str
    tag: str
    commit: str
    subjects: Mapping[str, str]  # path -> sha256
    data: Mapping[tuple[str, str, str], str]  # (stage, kind, path) -> DVC hash (".dir" kept)
    files: Mapping[str, str]  # release file path -> sha256
    builder: str


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            raise StatementError(f"the provenance has no '{'.'.join(path)}'")
        data = data[key]
    return data


def read_claims(statement: Any) -> Claims:
    """The claims of a statement built by `build_statement`; StatementError names what is
    missing or of another type."""
    if _get(statement, "_type") != STATEMENT_TYPE:
        raise StatementError(f"the provenance is not an in-toto Statement v1 ({STATEMENT_TYPE})")
    if _get(statement, "predicateType") != SLSA_PROVENANCE_V1:
        raise StatementError(f"the provenance predicate is not {SLSA_PROVENANCE_V1}")
    parameters = _get(statement, "predicate", "buildDefinition", "externalParameters")
    subjects = {}
    for subject in _get(statement, "subject"):
        subjects[str(_get(subject, "name"))] = str(_get(subject, "digest", "sha256"))
    commit = None
    data: dict[tuple[str, str, str], str] = {}
    files: dict[str, str] = {}
    dependencies = _get(statement, "predicate", "buildDefinition", "resolvedDependencies")
    for dependency in dependencies:
        if not isinstance(dependency, Mapping):
            raise StatementError("a resolvedDependencies entry is not an object")
        annotations = dependency.get("annotations") or {}
        digest = dependency.get("digest") or {}
        role = annotations.get("role")
        if role == "source":
            commit = str(digest.get("gitCommit", ""))
        elif role == "release-file":
            files[str(dependency.get("name"))] = str(digest.get("sha256", ""))
        elif "md5" in digest and "kind" in annotations:
            md5 = str(digest["md5"]) + (".dir" if annotations.get("directory") else "")
            key = (str(annotations.get("stage")), str(annotations["kind"]), str(dependency["name"]))
            data[key] = md5
    if not commit:
        raise StatementError("the provenance names no source commit (role 'source')")
    return Claims(
        model=str(_get(parameters, "model")),
        version=str(_get(parameters, "version")),
        tag=str(_get(parameters, "tag")),
        commit=commit,
        subjects=subjects,
        data=data,
        files=files,
        builder=str(_get(statement, "predicate", "runDetails", "builder", "id")),
    )


@dataclass(frozen=True)
class Problem:
    """A failed check: its name (one of the CHECK_* constants) and what differs."""

    check: str
    message: str


def _listed(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def compare_claims(
    claims: Claims,
    *,
    tag: str,
    commit: str,
    data: Sequence[DataHash],
    model_files: Sequence[FileDigest],
) -> list[Problem]:
    """Problems between what the provenance claims and the tag's facts: the tag and its
    commit, the hashes of its dvc.lock and .dvc files, the model files fetched from the
    DVC remote (sha256). An empty list: the provenance describes this version."""
    problems = []
    if claims.tag != tag or claims.commit != commit:
        problems.append(
            Problem(
                CHECK_PROVENANCE_TAG,
                f"the provenance is of {claims.tag} at commit {claims.commit[:12]}, "
                f"not of {tag} at commit {commit[:12]}",
            )
        )
    pinned = {(item.stage, item.kind, item.path): item.md5 for item in data}
    changed = sorted(
        f"{path} ({stage} {kind})"
        for (stage, kind, path), md5 in pinned.items()
        if claims.data.get((stage, kind, path)) not in (None, md5)
    )
    missing = sorted(f"{p} ({s} {k})" for (s, k, p) in pinned.keys() - claims.data.keys())
    extra = sorted(f"{p} ({s} {k})" for (s, k, p) in claims.data.keys() - pinned.keys())
    details = []
    if changed:
        details.append(f"hash differs for {_listed(changed)}")
    if missing:
        details.append(f"not in the provenance: {_listed(missing)}")
    if extra:
        details.append(f"not in the tag's dvc.lock/.dvc files: {_listed(extra)}")
    if details:
        problems.append(
            Problem(CHECK_PROVENANCE_LOCK, f"provenance vs dvc.lock of {tag}: {'; '.join(details)}")
        )
    actual = {f.path: f.sha256 for f in model_files}
    wrong = sorted(path for path, digest in actual.items() if claims.subjects.get(path) != digest)
    absent = sorted(claims.subjects.keys() - actual.keys())
    if wrong or absent:
        parts = []
        if wrong:
            parts.append(f"sha256 differs from the provenance subject for {_listed(wrong)}")
        if absent:
            parts.append(f"missing from the fetched model: {_listed(absent)}")
        problems.append(Problem(CHECK_MODEL_DIGEST, "; ".join(parts)))
    return problems
