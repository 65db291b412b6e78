"""Where a version's signature and provenance live: never in git history.

- In the DVC remote, next to the model's objects, at a versioned path:
  `<remote>/attestations/<model>/<vX.Y.Z>/{model.sig,provenance.intoto.json}`. DVC's
  object store is `<remote>/files/md5/`, which `dvc gc -c` alone cleans, so this folder
  is left alone; it is written once (an existing different file is a conflict).
- On the GitHub Release of the tag, as assets of the same names, for consumers who have
  no access to the DVC remote.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from mlgitops.attest.sources import remote_fs
from mlgitops.errors import GateFailed, MlgitopsError, ToolError

ATTESTATIONS_DIR = "attestations"


def remote_location(model: str, version: str) -> str:
    return f"{ATTESTATIONS_DIR}/{model}/{version}"


class AssetHost(Protocol):
    """What attestation needs from GitHub (mlgitops.github.client.PyGithubHost fits)."""

    def get_release_by_tag(self, tag: str) -> Any: ...
    def list_release_assets(self, release_id: int) -> Sequence[str]: ...
    def upload_release_asset(self, release_id: int, path: Path, name: str) -> str: ...


def store_in_remote(
    repo: Path, remote: str, model: str, version: str, files: Sequence[Path]
) -> str:
    """Upload `files` to the versioned folder of the DVC remote; its path in the remote.

    Re-running with the same bytes is a no-op; different bytes for an existing file are
    refused: a published attestation is never replaced.
    """
    fs, root = remote_fs(repo, remote)
    folder = fs.join(root, *remote_location(model, version).split("/"))
    try:
        fs.makedirs(folder, exist_ok=True)
        for file in files:
            target = fs.join(folder, file.name)
            if fs.exists(target):
                if fs.cat_file(target) == file.read_bytes():
                    continue
                raise GateFailed(
                    f"the DVC remote '{remote}' already holds a different {file.name} for "
                    f"{model} {version}; published attestations are never replaced",
                    hint=f"inspect {target}; delete it by hand only if it is known to be wrong",
                )
            fs.put_file(str(file), target)
    except MlgitopsError:
        raise
    except Exception as error:  # fsspec backends raise their own errors
        raise ToolError(
            f"could not write the attestation to DVC remote '{remote}': {error}"
        ) from error
    return folder


def fetch_from_remote(
    repo: Path, remote: str, model: str, version: str, names: Sequence[str], into: Path
) -> dict[str, Path]:
    """Download `names` from the version's folder in the DVC remote; the missing ones are
    left out of the result."""
    fs, root = remote_fs(repo, remote)
    folder = fs.join(root, *remote_location(model, version).split("/"))
    found = {}
    into.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            source = fs.join(folder, name)
            if fs.exists(source):
                fs.get_file(source, str(into / name))
                found[name] = into / name
    except Exception as error:  # fsspec backends raise their own errors
        raise ToolError(
            f"could not read the attestation from DVC remote '{remote}': {error}"
        ) from error
    return found


def attach_to_release(host: AssetHost, tag: str, files: Sequence[Path]) -> list[str]:
    """Upload `files` as assets of the tag's release (those already there are kept);
    the names uploaded."""
    release = host.get_release_by_tag(tag)
    if release is None:
        raise ToolError(
            f"the GitHub release of {tag} does not exist: its attestation cannot be attached",
            hint="re-run 'mlgitops promote' to finish the release",
        )
    present = set(host.list_release_assets(release.id))
    uploaded = []
    for file in files:
        if file.name not in present:
            host.upload_release_asset(release.id, file, file.name)
            uploaded.append(file.name)
    return uploaded
