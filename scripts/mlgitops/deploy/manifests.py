"""The desired state of a stage as plain data: KServe, Argo CD and Flux objects.

Pure: takes strings and settings, returns dicts (written as YAML by the service). What
KServe needs, read from kserve/kserve v0.20.0 and SeldonIO/MLServer 1.7.1:

- the storage initializer copies everything under `storageUri` into /mnt/models (an
  exact object is copied under its own base name), and for the `kserve-mlserver`
  runtime KServe sets MLSERVER_MODEL_URI=/mnt/models and MLSERVER_MODEL_NAME=<name of
  the InferenceService>;
- MLServer's scikit-learn runtime loads `model.joblib`, `model.pickle` or `model.pkl`
  from that folder, and a `model-settings.json` found there overrides the defaults.

A DVC object (`files/md5/ab/cdef…`) has no such name, and its folder holds other
objects, so it cannot be served alone: each deployed version is published as
`<remote>/models/<model>/<version>/{model.joblib,model-settings.json}` and `storageUri`
names that folder (with a trailing slash, so `v1.2.0` never also matches `v1.2.0-rc1`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mlgitops.deploy.settings import DeploySettings

MODEL_FILE = "model.joblib"
MODEL_SETTINGS_FILE = "model-settings.json"
PUBLISHED_PREFIX = "models"
SKLEARN_RUNTIME = "mlserver_sklearn.SKLearnModel"
DEPLOY_DIR = "deploy"
# InferenceService names end up inside longer Knative/Service names; KServe's docs keep
# them well under the 63-character DNS label limit.
MAX_NAME = 45
LABEL_PREFIX = "mlgitops"


class RenderError(ValueError):
    """The inputs cannot be rendered (e.g. a remote a cluster cannot read)."""


@dataclass(frozen=True)
class DeployedVersion:
    """The promoted version a stage serves."""

    model: str
    version: str
    tag: str
    commit: str
    md5: str


def dns_label(text: str, limit: int = MAX_NAME) -> str:
    """`text` as a DNS-1035 label (lowercase, digits, '-'), stable and at most `limit`."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"m-{label}".rstrip("-")
    if len(label) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        label = f"{label[: limit - 9].rstrip('-')}-{digest}"
    return label


def resource_name(model: str, stage: str) -> str:
    """Name of the InferenceService of `model` in `stage`."""
    return dns_label(f"{model}-{stage}")


def manifest_path(model: str, stage: str) -> str:
    """Repository path of the InferenceService of `model` in `stage`."""
    return f"{DEPLOY_DIR}/{stage}/{dns_label(model, 63)}.yaml"


def published_path(model: str, version: str) -> str:
    """Folder of the servable copy of `version`, relative to the DVC remote's root."""
    return f"{PUBLISHED_PREFIX}/{model.replace(':', '/')}/{version}"


def storage_uri(remote_url: str, model: str, version: str, *, azure_account: str | None) -> str:
    """The URI KServe's storage initializer reads `version` from.

    s3:// and gs:// URLs are used as DVC has them; DVC's azure://container/path becomes
    the blob endpoint KServe recognises, which needs the storage account's name. A local
    folder becomes a file:// URI: fine for a local cluster, not for a real one.
    """
    folder = published_path(model, version)
    url = remote_url.rstrip("/")
    scheme = urlsplit(url).scheme
    if scheme in ("s3", "gs"):
        return f"{url}/{folder}/"
    if scheme == "gcs":
        return f"gs://{url.removeprefix('gcs://')}/{folder}/"
    if scheme == "azure":
        if not azure_account:
            raise RenderError(
                "an azure:// DVC remote needs its storage account name for KServe's "
                "https://<account>.blob.core.windows.net URI"
            )
        return (
            f"https://{azure_account}.blob.core.windows.net/{url.removeprefix('azure://')}"
            f"/{folder}/"
        )
    if scheme in ("", "file"):
        path = url.removeprefix("file://")
        if not path.startswith("/"):
            raise RenderError(f"local DVC remote {remote_url!r} must be an absolute path here")
        return f"file://{path}/{folder}/"
    raise RenderError(
        f"KServe cannot read a {scheme}:// DVC remote; use s3, gcs or azure for deployments"
    )


def model_settings(version: str) -> dict[str, Any]:
    """MLServer's model-settings.json of a published version.

    No `name`: KServe's MLSERVER_MODEL_NAME (the InferenceService's name) fills it, so the
    one published copy serves every stage under that stage's own name.
    """
    return {
        "implementation": SKLEARN_RUNTIME,
        "parameters": {"uri": f"./{MODEL_FILE}", "version": version, "content_type": "pd"},
    }


def _labels(model: str, stage: str, version: str | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": dns_label(model, 63),
        "app.kubernetes.io/managed-by": "mlgitops",
        f"{LABEL_PREFIX}/stage": stage,
    }
    if version is not None:
        labels[f"{LABEL_PREFIX}/version"] = version.replace("+", "_")
    return labels


def inference_service(
    deployed: DeployedVersion,
    stage: str,
    uri: str,
    settings: DeploySettings,
    *,
    canary_percent: int | None,
) -> dict[str, Any]:
    """The InferenceService serving `deployed` in `stage`.

    `canary_percent` (1-99) sends that share to the new revision and keeps the rest on
    the previous one; None gives the new revision all traffic.
    """
    predictor: dict[str, Any] = {
        "minReplicas": settings.min_replicas,
        "maxReplicas": max(settings.max_replicas, settings.min_replicas, 1),
    }
    if canary_percent is not None:
        predictor["canaryTrafficPercent"] = canary_percent
    if settings.service_account:
        predictor["serviceAccountName"] = settings.service_account
    predictor["model"] = {
        "modelFormat": {"name": "sklearn", "version": "1"},
        "runtime": settings.runtime,
        "protocolVersion": "v2",
        "storageUri": uri,
        "resources": {"requests": dict(settings.requests), "limits": dict(settings.limits)},
    }
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": resource_name(deployed.model, stage),
            "namespace": settings.namespace,
            "labels": _labels(deployed.model, stage, deployed.version),
            "annotations": {
                f"{LABEL_PREFIX}/model": deployed.model,
                f"{LABEL_PREFIX}/tag": deployed.tag,
                f"{LABEL_PREFIX}/commit": deployed.commit,
                f"{LABEL_PREFIX}/md5": deployed.md5,
            },
        },
        "spec": {"predictor": predictor},
    }


def deployed_state(manifest: Mapping[str, Any] | None) -> tuple[str | None, int | None]:
    """(tag, canary percent) of a rendered InferenceService; (None, None) if absent."""
    if not isinstance(manifest, Mapping):
        return None, None
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    predictor = (manifest.get("spec") or {}).get("predictor") or {}
    canary = predictor.get("canaryTrafficPercent")
    return annotations.get(f"{LABEL_PREFIX}/tag"), canary if isinstance(canary, int) else None


def argocd_application(
    project: str, stage: str, repo_url: str, branch: str, settings: DeploySettings
) -> dict[str, Any]:
    """An Argo CD Application that keeps the cluster in step with `deploy/<stage>/`."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": dns_label(f"{project}-{stage}", 63),
            "namespace": "argocd",
            "labels": _labels(project, stage),
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": repo_url,
                "targetRevision": branch,
                "path": f"{DEPLOY_DIR}/{stage}",
            },
            "destination": {
                "server": "https://kubernetes.default.svc",
                "namespace": settings.namespace,
            },
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }


def flux_source(project: str, repo_url: str, branch: str) -> dict[str, Any]:
    """The Flux GitRepository every stage's Kustomization reads."""
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": dns_label(project, 63), "namespace": "flux-system"},
        "spec": {"interval": "1m", "url": repo_url, "ref": {"branch": branch}},
    }


def flux_kustomization(project: str, stage: str, settings: DeploySettings) -> dict[str, Any]:
    """A Flux Kustomization applying `deploy/<stage>/` from the GitRepository."""
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": dns_label(f"{project}-{stage}", 63), "namespace": "flux-system"},
        "spec": {
            "interval": "5m",
            "path": f"./{DEPLOY_DIR}/{stage}",
            "prune": True,
            "wait": True,
            "timeout": "10m",
            "targetNamespace": settings.namespace,
            "sourceRef": {"kind": "GitRepository", "name": dns_label(project, 63)},
        },
    }


def reconciler_files(
    project: str, stages: tuple[str, ...], repo_url: str, branch: str, settings: DeploySettings
) -> dict[str, dict[str, Any]]:
    """Repository path -> object of the files a user applies once per cluster."""
    files = {f"{DEPLOY_DIR}/flux/source.yaml": flux_source(project, repo_url, branch)}
    for stage in stages:
        files[f"{DEPLOY_DIR}/argocd/{stage}.yaml"] = argocd_application(
            project, stage, repo_url, branch, settings
        )
        files[f"{DEPLOY_DIR}/flux/{stage}.yaml"] = flux_kustomization(project, stage, settings)
    return files


def repository_url(server_url: str, repository: str) -> str:
    """The clone URL of `owner/name` on `server_url` (what Argo CD and Flux fetch)."""
    return f"{server_url.rstrip('/')}/{repository}.git"
