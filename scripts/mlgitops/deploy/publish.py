"""A servable copy of a promoted version, next to the DVC objects in the same remote.

`<remote>/models/<model>/<version>/model.joblib` is a byte-for-byte copy of the DVC
object the version's dvc.lock pins (re-hashed after the upload), with MLServer's
`model-settings.json` beside it. A published version is never overwritten: the same
bytes again is a no-op, different bytes an error. DVC's own layout (`files/md5/`, and
two-hex-digit folders of DVC 2) never uses `models/`, so `dvc gc --cloud` leaves it.

The remote is reached through DVC's own filesystem for it (dvc-s3, dvc-gs, dvc-azure),
so the credentials and endpoint settings of `.dvc/config(.local)` apply unchanged.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgitops.deploy.manifests import (
    MODEL_FILE,
    MODEL_SETTINGS_FILE,
    model_settings,
    published_path,
)
from mlgitops.errors import GateFailed, InputError, Location, ToolError
from mlgitops.io.workspace import Workspace

Log = Callable[[str], None]


@dataclass(frozen=True)
class Remote:
    """The DVC remote a version is published to, as KServe will address it."""

    name: str
    url: str  # s3://…, gs://…, azure://… as configured; an absolute folder for local
    azure_account: str | None = None


@dataclass(frozen=True)
class Published:
    remote: str
    folder: str
    created: bool  # False: it was already there, byte for byte


def model_hash(ws: Workspace, commit: str, model_path: str) -> str:
    """The md5 that dvc.lock (or a .dvc file) at `commit` pins `model_path` to."""
    for item in ws.data_hashes(commit):
        if item.kind == "out" and item.path == model_path:
            if item.md5.endswith(".dir"):
                raise InputError(
                    f"{model_path} is a directory; a scikit-learn model is served from one file",
                    location=Location("dvc.yaml", key="artifacts"),
                )
            return item.md5
    raise InputError(
        f"commit {commit[:12]} pins no hash for {model_path} (dvc.lock outs or {model_path}.dvc)",
        location=Location("dvc.lock"),
        hint="the model must be a DVC output of the promoted commit",
    )


def _open_remote(repo: Path, name: str | None) -> tuple[Any, Any, Remote]:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        dvc_repo = Repo(str(repo))
        remote = dvc_repo.cloud.get_remote(name)
        config = dvc_repo.config["remote"][remote.name]
    except DvcException as error:
        raise InputError(
            f"DVC remote: {error}", location=Location(".dvc/config", key="core.remote")
        ) from None
    url = str(config.get("url", ""))
    if "://" not in url:
        url = str(remote.path)
    return (
        remote.fs,
        remote.path,
        Remote(remote.name, url, config.get("account_name") or None),
    )


def remote_for(repo: Path, name: str | None = None) -> Remote:
    """The named (default: `core.remote`) DVC remote."""
    return _open_remote(repo, name)[2]


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish_version(
    repo: Path, remote_name: str | None, model: str, version: str, md5: str, log: Log
) -> Published:
    """Make `<remote>/models/<model>/<version>/` hold the model object `md5` and its
    model-settings.json; verify the upload by hash."""
    fs, base, remote = _open_remote(repo, remote_name)
    folder = fs.join(base, *published_path(model, version).split("/"))
    target = fs.join(folder, MODEL_FILE)
    settings_target = fs.join(folder, MODEL_SETTINGS_FILE)
    settings_text = json.dumps(model_settings(version), indent=2) + "\n"
    try:
        with tempfile.TemporaryDirectory(prefix="mlgitops-publish-") as scratch:
            local = Path(scratch) / MODEL_FILE
            created = False
            if fs.exists(target):
                fs.get_file(target, str(local))
                if _md5(local) != md5:
                    raise GateFailed(
                        f"{remote.url}/{published_path(model, version)}/{MODEL_FILE} exists "
                        f"with other content than {model} {version} (md5 {md5})",
                        hint="a published version is never overwritten; find out who wrote it",
                    )
            else:
                source = fs.join(base, "files", "md5", md5[:2], md5[2:])
                if not fs.exists(source):
                    raise GateFailed(
                        f"DVC remote '{remote.name}' has no object {md5} for {model} {version}",
                        hint="dvc push the model (promotion verifies this), then re-run",
                    )
                fs.get_file(source, str(local))
                if _md5(local) != md5:
                    raise GateFailed(
                        f"DVC remote '{remote.name}' returned corrupted data for {md5}"
                    )
                fs.makedirs(folder, exist_ok=True)
                fs.put_file(str(local), target)
                check = Path(scratch) / "check"
                fs.get_file(target, str(check))
                if _md5(check) != md5:
                    raise GateFailed(f"the upload of {target} does not match md5 {md5}")
                created = True
            settings_file = Path(scratch) / MODEL_SETTINGS_FILE
            settings_file.write_text(settings_text, encoding="utf-8")
            fs.put_file(str(settings_file), settings_target)
    except (OSError, ValueError) as error:
        raise ToolError(f"publishing to DVC remote '{remote.name}' failed: {error}") from error
    where = f"{remote.url.rstrip('/')}/{published_path(model, version)}/"
    log(f"{'published' if created else 'already published'}: {where}")
    return Published(remote.name, where, created)
