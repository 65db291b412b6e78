"""Offline validation of rendered manifests against the vendored CRD schemas.

The schemas under `mlgitops/schemas/crds/` are the `openAPIV3Schema` of each upstream
CRD, unchanged (see its README for repository, tag and commit). Kubernetes would prune
a field a CRD does not declare; here such a field is an error instead, as with
`kubectl apply --validate=strict`, because a misspelt key (`canaryTrafficPrecent`)
would otherwise pass silently and do nothing in the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft4Validator

CRD_PACKAGE = "mlgitops"
CRD_DIR = "schemas/crds"


@dataclass(frozen=True)
class ManifestProblem:
    """One violation: which object, where in it, and what is wrong."""

    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path or '(top level)'}: {self.message}"


def _crd_file(name: str) -> str:
    return resources.files(CRD_PACKAGE).joinpath(f"{CRD_DIR}/{name}").read_text(encoding="utf-8")


@cache
def crd_index() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the index entry of its vendored schema."""
    entries = json.loads(_crd_file("index.json"))
    return {(entry["apiVersion"], entry["kind"]): entry for entry in entries}


def _strict(node: Any) -> Any:
    """The schema with unknown fields forbidden where the CRD lists its fields."""
    if isinstance(node, dict):
        out = {key: _strict(value) for key, value in node.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@cache
def _validator(api_version: str, kind: str) -> Draft4Validator:
    entry = crd_index()[(api_version, kind)]
    schema = _strict(json.loads(_crd_file(entry["schema"])))
    # metadata is `type: object` in every CRD; the API server checks it against
    # ObjectMeta, whose fields we use are these.
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
            "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    return Draft4Validator(schema)


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def manifest_problems(manifest: Mapping[str, Any]) -> Iterator[ManifestProblem]:
    """Every way `manifest` breaks the schema of its kind (unknown kinds included)."""
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    label = f"{kind or '?'} {(manifest.get('metadata') or {}).get('name', '?')}"
    if (api_version, kind) not in crd_index():
        known = ", ".join(f"{k} {v}" for v, k in sorted(crd_index()))
        yield ManifestProblem(label, "", f"no vendored schema for {kind} {api_version} ({known})")
        return
    validator = _validator(str(api_version), str(kind))
    for error in sorted(validator.iter_errors(manifest), key=lambda e: _path(e.absolute_path)):
        yield ManifestProblem(label, _path(error.absolute_path), error.message)
