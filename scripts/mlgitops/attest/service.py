"""Attest a released version, and verify one: the two entry points of attestation.

`attest_release(...)` is called once by promotion, after the tag and its GitHub Release
exist; `verify_version(...)` is what `mlgitops verify` runs and what serving, batch
prediction and the deployment gate call before they use a version.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from mlgitops import __version__
from mlgitops.attest import folder as release_folder
from mlgitops.attest import sources, storage
from mlgitops.attest.reproducibility import (
    RebuildReport,
    release_notes_section,
    reproducibility_violation,
    summary,
)
from mlgitops.attest.signing import (
    Signing,
    Verification,
    describe,
    sign_folder,
    unsigned_reason,
    verify_folder,
)
from mlgitops.attest.statement import (
    CHECK_MODEL_DIGEST,
    CHECK_PROVENANCE_LOCK,
    CHECK_PROVENANCE_TAG,
    CHECK_REBUILD,
    CHECK_SIGNATURE,
    PROVENANCE_FILE,
    SIGNATURE_FILE,
    Builder,
    BuildInputs,
    Problem,
    StatementError,
    build_statement,
    compare_claims,
    parse_requirements,
    read_claims,
)
from mlgitops.core.markdown.release import DataHash, data_hashes_from_dvcfile, data_hashes_from_lock
from mlgitops.errors import GateFailed, InputError, Location, UsageError
from mlgitops.proc import git

Log = Callable[[str], None]
# Packages whose versions a local build records next to the locked requirements.
TOOL_PACKAGES = ("mlgitops", "dvc", "model-signing", "scikit-learn", "pandas", "numpy")


# --- facts at a commit -----------------------------------------------------------------


@dataclass(frozen=True)
class VersionRef:
    model: str
    version: str
    tag: str
    commit: str
    model_path: str


def _yaml_at(repo: Path, commit: str, path: str) -> Any:
    content = sources.read_bytes(repo, commit, path)
    if content is None:
        return None
    try:
        return yaml.safe_load(content.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(
            f"not valid YAML at {commit[:12]}: {error}", location=Location(path)
        ) from error


def _model_path(repo: Path, commit: str, model: str) -> str:
    dvc_yaml = _yaml_at(repo, commit, "dvc.yaml")
    artifacts = (dvc_yaml or {}).get("artifacts") if isinstance(dvc_yaml, dict) else None
    spec = (artifacts or {}).get(model)
    if not isinstance(spec, dict) or not spec.get("path"):
        raise InputError(
            f"dvc.yaml at {commit[:12]} declares no artifact {model!r} with a path",
            location=Location("dvc.yaml", key=f"artifacts.{model}"),
        )
    return str(spec["path"])


def resolve_ref(repo: Path, ref: str) -> VersionRef:
    """`<model>@vX.Y.Z`, `<model>#<stage>` or `<model>#<stage>#N` → the version, its tag,
    commit and model path (the same resolver as serving's `fetch_model_version`)."""
    from mlgitops.serving.fetch import resolve_reference

    found = resolve_reference(repo, ref)
    model_path = _model_path(repo, found.commit, found.model)
    return VersionRef(found.model, found.version, found.tag, found.commit, model_path)


def _dvcfiles_at(repo: Path, commit: str) -> list[str]:
    names = git("ls-tree", "-r", "--name-only", commit, cwd=repo).splitlines()
    return [n for n in names if n.endswith(".dvc") and not n.startswith(".dvc/")]


def _pinned_data(repo: Path, commit: str, lock: Any) -> list[DataHash]:
    """Every hash of dvc.lock and of the .dvc files at `commit`."""
    found = data_hashes_from_lock(lock if isinstance(lock, dict) else {})
    for name in _dvcfiles_at(repo, commit):
        content = _yaml_at(repo, commit, name)
        if isinstance(content, dict):
            found += data_hashes_from_dvcfile(name, content)
    return found


def _stages(repo: Path, commit: str) -> dict[str, str]:
    dvc_yaml = _yaml_at(repo, commit, "dvc.yaml") or {}
    stages = dvc_yaml.get("stages") if isinstance(dvc_yaml, dict) else None
    commands = {}
    for name, stage in (stages or {}).items():
        if isinstance(stage, dict) and "cmd" in stage:
            cmd = stage["cmd"]
            commands[str(name)] = " && ".join(cmd) if isinstance(cmd, list) else str(cmd)
    return commands


def _used_params(lock: Any) -> dict[str, Any]:
    """The params values each stage ran with, as dvc.lock records them (file → key → value)."""
    merged: dict[str, dict[str, Any]] = {}
    for stage in ((lock or {}).get("stages") or {}).values() if isinstance(lock, dict) else ():
        for file, values in ((stage or {}).get("params") or {}).items():
            merged.setdefault(str(file), {}).update(values or {})
    return merged


def _release_files(repo: Path, commit: str, lock: Any) -> dict[str, bytes]:
    """Name → bytes at `commit` of the release folder's files besides model and provenance."""
    candidates = ("dvc.lock", "params.yaml", *release_folder.LOCK_FILES, *_used_params(lock))
    found = {}
    for name in dict.fromkeys(candidates):
        content = sources.read_bytes(repo, commit, name)
        if content is not None:
            found[name] = content
    names = release_folder.release_file_names(lock if isinstance(lock, dict) else {}, found)
    return {name: found[name] for name in names}


def builder_from_environ(environ: Mapping[str, str], requirements: Sequence[str]) -> Builder:
    """The workflow run in GitHub Actions; "local" with this machine's versions elsewhere."""
    server = environ.get("GITHUB_SERVER_URL", "")
    repository = environ.get("GITHUB_REPOSITORY", "")
    run_id = environ.get("GITHUB_RUN_ID", "")
    workflow_ref = environ.get("GITHUB_WORKFLOW_REF", "")
    if environ.get("GITHUB_ACTIONS") == "true" and server and repository and run_id:
        attempt = environ.get("GITHUB_RUN_ATTEMPT", "1")
        return Builder(
            id=f"{server}/{workflow_ref}" if workflow_ref else f"{server}/{repository}",
            version={"mlgitops": __version__, "runner": environ.get("RUNNER_OS", "")},
            invocation_id=f"{server}/{repository}/actions/runs/{run_id}/attempts/{attempt}",
        )
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in (*TOOL_PACKAGES, *requirements):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return Builder(id="local", version=versions)


# --- attest ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AttestationResult:
    tag: str
    signed_with: str
    remote_folder: str
    assets: Sequence[str] = ()
    rebuild: RebuildReport | None = None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_release(
    repo: Path,
    ref: VersionRef,
    model_root: Path,
    out: Path,
    *,
    environ: Mapping[str, str],
    rebuild: RebuildReport | None = None,
    repository_uri: str | None = None,
) -> Path:
    """Write the release folder of `ref` into `out/release` (model from `model_root`) and
    return it; its provenance statement is built here."""
    # A model tracked by a .dvc file alone (no pipeline) has no dvc.lock.
    lock = _yaml_at(repo, ref.commit, "dvc.lock") or {}
    files = _release_files(repo, ref.commit, lock)
    requirements = []
    for name in files:
        if name.endswith(".txt"):
            requirements += parse_requirements(files[name].decode("utf-8", errors="replace"))
    statement = build_statement(
        BuildInputs(
            model=ref.model,
            version=ref.version,
            tag=ref.tag,
            commit=ref.commit,
            model_files=release_folder.model_digests(model_root, ref.model_path),
            data=_pinned_data(repo, ref.commit, lock),
            files=[release_folder.sha256_bytes(name, content) for name, content in files.items()],
            stages=_stages(repo, ref.commit),
            params=_used_params(lock),
            requirements=requirements,
            builder=builder_from_environ(environ, [r.name for r in requirements]),
            repository_uri=repository_uri,
            started_on=_now(),
        )
    )
    if rebuild is not None:
        statement["predicate"]["runDetails"]["byproducts"] = [
            {
                "name": "rebuild",
                "annotations": {
                    "identical": rebuild.identical,
                    "seconds": round(rebuild.seconds, 3),
                    "summary": summary(rebuild),
                },
            }
        ]
    provenance = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode("utf-8")
    folder = out / "release"
    release_folder.assemble(
        folder, model_root=model_root, model_path=ref.model_path, files=files,
        provenance=provenance,
    )  # fmt: skip
    return folder


def attest_release(
    repo: Path,
    *,
    tag: str,
    signing: Signing | None,
    dvc_remote: str | None = None,
    host: storage.AssetHost | None = None,
    require_reproducible: bool | None = None,
    repository_uri: str | None = None,
    environ: Mapping[str, str] | None = None,
    log: Log = print,
) -> AttestationResult | None:
    """Sign and attest the released version `tag`, after its tag (and release) exist.

    The model is fetched from the DVC remote into an empty cache, so the signed bytes
    are the remote's. The signature and the provenance go to the DVC remote and, with a
    `host`, onto the GitHub Release. With `require_reproducible` (default: the policy's
    `release.require_reproducible`) the version is rebuilt from scratch first; the result
    is in the provenance and in the release notes, and a version that does not rebuild
    identically fails (GateFailed).
    Idempotent: a version already attested in the DVC remote is not signed again (its
    files are attached to the release when they are missing there).
    Returns None, after saying why, when there is nothing to sign with.
    """
    environ = os.environ if environ is None else environ
    if signing is None:
        log(f"{tag}: not signed: {unsigned_reason(environ)}")
        return None
    ref = resolve_ref(repo, tag)
    remote = dvc_remote or sources.default_remote(repo)
    names = [SIGNATURE_FILE, PROVENANCE_FILE]
    with sources.scratch("mlgitops-attested-") as place:
        stored = storage.fetch_from_remote(repo, remote, ref.model, ref.version, names, place)
        if len(stored) == len(names):
            log(f"{tag}: already attested in DVC remote '{remote}'")
            attached = storage.attach_to_release(host, tag, list(stored.values())) if host else []
            where = storage.remote_location(ref.model, ref.version)
            return AttestationResult(tag, "(existing)", where, tuple(attached))
    if require_reproducible is None:
        require_reproducible = policy_requires_reproducible(repo)
    report = None
    if require_reproducible:
        from mlgitops.attest.rebuild import rebuild

        report = rebuild(repo, ref.commit, remote, log=log)
        log(f"{tag}: {summary(report)}")
    with sources.scratch("mlgitops-attest-") as place:
        model_root = sources.fetch_model(repo, ref.commit, ref.model_path, remote, place / "m")
        _check_pinned(model_root, ref)
        folder = build_release(
            repo, ref, model_root, place, environ=environ, rebuild=report,
            repository_uri=repository_uri,
        )  # fmt: skip
        started = time.monotonic()
        signature = place / SIGNATURE_FILE
        sign_folder(folder, signature, signing)
        log(f"{tag}: signed with {describe(signing)} in {time.monotonic() - started:.1f} s")
        outputs = [signature, folder / PROVENANCE_FILE]
        where = storage.store_in_remote(repo, remote, ref.model, ref.version, outputs)
        log(f"{tag}: signature and provenance stored in DVC remote '{remote}' ({where})")
        assets: list[str] = []
        if host is not None:
            assets = storage.attach_to_release(host, tag, outputs)
            if report is not None:
                _append_release_notes(host, tag, release_notes_section(report))
            log(f"{tag}: attached to the release: {', '.join(assets) or 'already there'}")
    violation = reproducibility_violation(require_reproducible, report)
    if violation:
        raise GateFailed(
            f"{tag}: {violation}",
            location=Location("governance/policy.yaml", key="release.require_reproducible"),
            hint="find the nondeterministic stage (seeds, threads, timestamps in outputs); "
            "the tag exists: deregister it with GTO if it must not be used",
        )
    return AttestationResult(tag, describe(signing), where, tuple(assets), report)


def _check_pinned(model_root: Path, ref: VersionRef) -> None:
    """Never sign a model file whose bytes are not those dvc.lock pins."""
    pinned = sources.pinned_md5(model_root, ref.model_path)
    model = model_root / ref.model_path
    if pinned and model.is_file() and release_folder.md5_file(model) != pinned:
        raise GateFailed(
            f"{ref.tag}: the DVC remote's copy of {ref.model_path} does not match its md5 "
            f"{pinned} in dvc.lock: not signed",
            hint="re-push the model from a good cache (dvc push), then re-run promote",
        )


def policy_requires_reproducible(repo: Path) -> bool:
    """`release.require_reproducible` of governance/policy.yaml (False when absent)."""
    path = repo / "governance" / "policy.yaml"
    if not path.exists():
        return False
    from mlgitops.io.policy_loader import load_policy

    release = load_policy(path, file="governance/policy.yaml").sections.get("release")
    return bool(release.get("require_reproducible", False)) if isinstance(release, dict) else False


def _append_release_notes(host: Any, tag: str, section: str) -> None:
    release = host.get_release_by_tag(tag)
    if release is not None and section.strip() not in release.body:
        host.update_release(release.id, release.name, release.body.rstrip() + "\n\n" + section)


# --- verify ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyOutcome:
    """What `verify_version` found: `verified` is True when no check failed."""

    ref: VersionRef
    passed: Sequence[str]
    problems: Sequence[Problem]
    rebuild: RebuildReport | None = None
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def verified(self) -> bool:
        return not self.problems

    @property
    def failed_checks(self) -> list[str]:
        return list(dict.fromkeys(p.check for p in self.problems))


def verify_version(
    repo: Path,
    ref: str,
    verification: Verification,
    *,
    dvc_remote: str | None = None,
    rebuild: bool = False,
    tolerance: float = 0.0,
    signature: Path | None = None,
    provenance: Path | None = None,
    log: Log = print,
) -> VerifyOutcome:
    """Verify a released version: its signature (key or identity), that its provenance
    describes the tag (commit, dvc.lock and .dvc hashes) and the model in the DVC remote,
    and with `rebuild` that it rebuilds identically from scratch.

    A failed check is a Problem in the outcome; not being able to check at all (no tag, no
    signature stored, an unreachable remote) raises InputError or ToolError.
    """
    version = resolve_ref(repo, ref)
    remote = dvc_remote or sources.default_remote(repo)
    problems: list[Problem] = []
    passed: list[str] = []
    with sources.scratch("mlgitops-verify-") as place:
        stored = storage.fetch_from_remote(
            repo, remote, version.model, version.version, [SIGNATURE_FILE, PROVENANCE_FILE],
            place / "stored",
        )  # fmt: skip
        signature = signature or stored.get(SIGNATURE_FILE)
        provenance = provenance or stored.get(PROVENANCE_FILE)
        if signature is None or provenance is None:
            missing = SIGNATURE_FILE if signature is None else PROVENANCE_FILE
            raise InputError(
                f"{version.tag} has no {missing} in DVC remote '{remote}' "
                f"({storage.remote_location(version.model, version.version)})",
                hint="was it promoted with a signing key or in Actions with id-token: write?",
            )
        model_root = sources.fetch_model(
            repo, version.commit, version.model_path, remote, place / "m"
        )
        folder = place / "release"
        lock = _yaml_at(repo, version.commit, "dvc.lock") or {}
        files = _release_files(repo, version.commit, lock)
        release_folder.assemble(
            folder, model_root=model_root, model_path=version.model_path, files=files,
            provenance=provenance.read_bytes(),
        )  # fmt: skip
        reason = verify_folder(folder, signature, verification)
        if reason is None:
            passed.append(CHECK_SIGNATURE)
        else:
            problems.append(Problem(CHECK_SIGNATURE, _short(reason)))
        try:
            claims = read_claims(json.loads(provenance.read_text(encoding="utf-8")))
        except (ValueError, StatementError) as error:
            problems.append(Problem(CHECK_PROVENANCE_TAG, f"unreadable provenance: {error}"))
        else:
            found = compare_claims(
                claims,
                tag=version.tag,
                commit=version.commit,
                data=_pinned_data(repo, version.commit, lock),
                model_files=release_folder.model_digests(model_root, version.model_path),
            )
            problems += found
            failed = {p.check for p in found}
            passed += [
                c
                for c in (CHECK_PROVENANCE_TAG, CHECK_PROVENANCE_LOCK, CHECK_MODEL_DIGEST)
                if c not in failed
            ]
    report = None
    if rebuild:
        from mlgitops.attest.rebuild import rebuild as run_rebuild

        report = run_rebuild(repo, version.commit, remote, tolerance=tolerance, log=log)
        if report.identical:
            passed.append(CHECK_REBUILD)
        else:
            problems.append(Problem(CHECK_REBUILD, summary(report)))
    return VerifyOutcome(version, tuple(passed), tuple(problems), report)


def _short(reason: str, limit: int = 600) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def require_verified(
    repo: Path,
    ref: str,
    verification: Verification | None,
    *,
    allow_unverified: bool = False,
    dvc_remote: str | None = None,
    log: Log = print,
) -> VerifyOutcome | None:
    """The gate for serve, predict and deploy: GateFailed unless `ref` verifies.

    `allow_unverified` (the caller's explicit override flag) skips the checks and logs a
    warning; without it, a caller with no key or identity to verify with is a UsageError.
    """
    if allow_unverified:
        log(f"warning: {ref} is used WITHOUT verification (--allow-unverified)")
        return None
    if verification is None:
        raise UsageError(
            f"{ref} must be verified before it is used",
            hint="pass --key PUBLIC.pem or --identity ID (see 'mlgitops verify --help'), "
            "or --allow-unverified to use it unverified",
        )
    outcome = verify_version(repo, ref, verification, dvc_remote=dvc_remote, log=log)
    if not outcome.verified:
        raise GateFailed(
            f"{outcome.ref.tag} does not verify: "
            + "; ".join(f"{p.check}: {p.message}" for p in outcome.problems),
            hint="use a version that verifies, or pass --allow-unverified knowingly",
        )
    return outcome
