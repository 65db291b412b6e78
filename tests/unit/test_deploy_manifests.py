"""Rendering of the deploy manifests and their validation against the vendored CRDs."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from mlgitops.deploy import manifests
from mlgitops.deploy.crds import crd_index, manifest_problems
from mlgitops.deploy.gate import percentile
from mlgitops.deploy.pr_body import DeployChange, render_body
from mlgitops.deploy.settings import DeploySettings, deploy_settings

DEPLOYED = manifests.DeployedVersion(
    "churn-model", "v1.2.0", "churn-model@v1.2.0", "a" * 40, "0123456789abcdef" * 2
)


@pytest.mark.parametrize(
    ("remote", "account", "expected"),
    [
        ("s3://bucket/dvc", None, "s3://bucket/dvc/models/churn-model/v1.2.0/"),
        ("s3://bucket/dvc/", None, "s3://bucket/dvc/models/churn-model/v1.2.0/"),
        ("gs://bucket", None, "gs://bucket/models/churn-model/v1.2.0/"),
        ("gcs://bucket/p", None, "gs://bucket/p/models/churn-model/v1.2.0/"),
        (
            "azure://container/dvc",
            "acct",
            "https://acct.blob.core.windows.net/container/dvc/models/churn-model/v1.2.0/",
        ),
        ("/srv/dvc-remote", None, "file:///srv/dvc-remote/models/churn-model/v1.2.0/"),
    ],
)
def test_storage_uri_names_the_published_folder(
    remote: str, account: str | None, expected: str
) -> None:
    assert manifests.storage_uri(remote, "churn-model", "v1.2.0", azure_account=account) == expected


@pytest.mark.parametrize(
    ("remote", "message"),
    [
        ("azure://container/dvc", "storage account name"),
        ("ssh://host/srv/dvc", "cannot read a ssh:// DVC remote"),
        ("webdav://host/dvc", "cannot read a webdav://"),
        ("relative/remote", "must be an absolute path"),
    ],
)
def test_remotes_a_cluster_cannot_read_are_refused(remote: str, message: str) -> None:
    with pytest.raises(manifests.RenderError, match=message):
        manifests.storage_uri(remote, "m", "v1.0.0", azure_account=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn-model-production", "churn-model-production"),
        ("Team/Churn_Model-staging", "team-churn-model-staging"),
        ("7up-staging", "m-7up-staging"),
    ],
)
def test_dns_label(text: str, expected: str) -> None:
    assert manifests.dns_label(text) == expected


def test_long_names_are_cut_with_a_stable_hash() -> None:
    long = "a-very-long-model-name-that-goes-on-and-on-forever-production"
    label = manifests.dns_label(long)
    assert len(label) <= manifests.MAX_NAME
    assert label == manifests.dns_label(long)
    assert label != manifests.dns_label(long.replace("forever", "for-ever"))
    assert label[-9] == "-" and not label.endswith("-")


def test_model_settings_leave_the_name_to_kserve() -> None:
    settings = manifests.model_settings("v1.2.0")
    assert "name" not in settings  # MLSERVER_MODEL_NAME (the InferenceService) fills it
    assert settings["parameters"]["uri"] == "./model.joblib"
    assert settings["parameters"]["version"] == "v1.2.0"


def _isvc(settings: DeploySettings, canary: int | None = None) -> dict:
    uri = manifests.storage_uri("s3://b/dvc", DEPLOYED.model, DEPLOYED.version, azure_account=None)
    return manifests.inference_service(DEPLOYED, "production", uri, settings, canary_percent=canary)


def test_inference_service_is_valid_and_carries_the_policy() -> None:
    settings = deploy_settings(
        {
            "namespace": "ml-prod",
            "service_account": "model-reader",
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}},
            "min_replicas": 2,
            "max_replicas": 4,
            "canary_traffic_percent": 20,
        }
    )
    isvc = _isvc(settings, settings.canary("production"))
    assert list(manifest_problems(isvc)) == []
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 20
    assert predictor["serviceAccountName"] == "model-reader"
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 4)
    assert predictor["model"]["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert predictor["model"]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert isvc["metadata"]["namespace"] == "ml-prod"
    assert manifests.deployed_state(isvc) == ("churn-model@v1.2.0", 20)
    assert settings.canary("staging") is None


def test_no_canary_when_the_policy_gives_everything() -> None:
    settings = deploy_settings({})
    assert settings.canary("production") is None
    assert "canaryTrafficPercent" not in _isvc(settings)["spec"]["predictor"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            lambda p: p.__setitem__("canaryTrafficPrecent", 10),
            "'canaryTrafficPrecent' was unexpected",
        ),
        (lambda p: p.__setitem__("canaryTrafficPercent", "10"), "'10' is not of type 'integer'"),
        (lambda p: p["model"].__setitem__("storageUri", 5), "5 is not of type 'string'"),
        (lambda p: p["model"]["modelFormat"].pop("name"), "'name' is a required property"),
        (
            lambda p: p["model"]["resources"]["limits"].__setitem__("cpu", "lots"),
            "spec.predictor.model.resources.limits.cpu",
        ),
    ],
)
def test_schema_catches_what_the_cluster_would_reject_or_drop(
    change: Callable[[dict[str, Any]], object], fragment: str
) -> None:
    isvc = copy.deepcopy(_isvc(DeploySettings()))
    change(isvc["spec"]["predictor"])
    problems = [str(p) for p in manifest_problems(isvc)]
    assert any(fragment in p for p in problems), problems


def test_metadata_names_must_be_dns_labels() -> None:
    isvc = _isvc(DeploySettings())
    isvc["metadata"]["name"] = "Churn_Model"
    assert any("metadata.name" in str(p) for p in manifest_problems(isvc))


def test_unknown_kind_is_a_problem() -> None:
    problems = [str(p) for p in manifest_problems({"apiVersion": "v1", "kind": "Service"})]
    assert problems and "no vendored schema for Service v1" in problems[0]


def test_reconciler_files_are_valid_and_follow_each_stage() -> None:
    settings = deploy_settings({"namespace": "ml"})
    files = manifests.reconciler_files(
        "churn", ("staging", "production"), "https://github.com/acme/churn.git", "main", settings
    )
    assert sorted(files) == [
        "deploy/argocd/production.yaml",
        "deploy/argocd/staging.yaml",
        "deploy/flux/production.yaml",
        "deploy/flux/source.yaml",
        "deploy/flux/staging.yaml",
    ]
    for name, document in files.items():
        assert list(manifest_problems(document)) == [], name
    app = files["deploy/argocd/production.yaml"]["spec"]
    assert app["source"] == {
        "repoURL": "https://github.com/acme/churn.git",
        "targetRevision": "main",
        "path": "deploy/production",
    }
    assert app["destination"]["namespace"] == "ml"
    kustomization = files["deploy/flux/staging.yaml"]["spec"]
    assert kustomization["path"] == "./deploy/staging"
    assert (
        kustomization["sourceRef"]["name"] == files["deploy/flux/source.yaml"]["metadata"]["name"]
    )
    broken = copy.deepcopy(files["deploy/flux/source.yaml"])
    broken["spec"]["url"] = "/srv/git/churn.git"
    assert any("spec.url" in str(p) for p in manifest_problems(broken))


def test_vendored_schemas_are_indexed_with_their_source_and_licence() -> None:
    folder = resources.files("mlgitops").joinpath("schemas/crds")
    for (api_version, kind), entry in crd_index().items():
        schema = json.loads(folder.joinpath(entry["schema"]).read_text(encoding="utf-8"))
        assert schema["title"] == f"{kind} {api_version}"
        assert entry["commit"] in schema["$comment"]
        assert len(entry["commit"]) == 40
        assert "Apache License" in folder.joinpath(entry["license"]).read_text(encoding="utf-8")
    assert set(crd_index()) == {
        ("serving.kserve.io/v1beta1", "InferenceService"),
        ("argoproj.io/v1alpha1", "Application"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    }


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([5.0], 99, 5.0), ([1, 2, 3, 4], 50, 2), (list(range(1, 101)), 99, 99), ([3, 1, 2], 100, 3)],
)
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_pr_body_escapes_repository_values() -> None:
    change = DeployChange(
        model="m<!--x-->",
        stage="production",
        tag="m<!--x-->@v1.0.0",
        commit="b" * 40,
        storage_uri="s3://b/`x`|y/",
        previous_tag=None,
        canary_percent=10,
        action="assign",
        files=("deploy/production/m.yaml",),
    )
    body = render_body(change, None, note="not required for this stage")
    assert "``s3://b/`x`\\|y/``" in body
    # Outside code spans no markup survives: the HTML comment is only ever inside one.
    assert body.count("<!--x-->") == body.count("`m<!--x-->")
    assert "10% to `m<!--x-->@v1.0.0`" in body
    assert "nothing deployed" in body
    assert "Gate: not required for this stage." in body


def test_gate_results_in_release_notes_replace_earlier_ones() -> None:
    from mlgitops.deploy.gate import GateResult, LoadResult, SmokeResult
    from mlgitops.deploy.pr_body import with_gate_section
    from mlgitops.deploy.settings import LoadTest

    def gate(p99: float) -> GateResult:
        load = LoadResult(10, 10, 10, 1.0, 2.0, p99)
        return GateResult(SmokeResult(True, 5, "v1.0.0", "ok"), load, 250, LoadTest())

    once = with_gate_section("## Notes\n", "production", gate(3.0), "http://hub/pull/1")
    twice = with_gate_section(once + "trailer\n", "production", gate(4.0), "http://hub/pull/2")
    assert twice.count("### Deployment gate: `production`") == 1
    assert "3.0 ms" not in twice and "2.0 ms / 4.0 ms" in twice
    assert "`http://hub/pull/2`" in twice and "pull/1" not in twice
    assert twice.startswith("## Notes\n") and twice.endswith("trailer\n")
    staging = with_gate_section(twice, "staging", gate(5.0), "http://hub/pull/3")
    assert staging.count("### Deployment gate:") == 2


def test_example_manifests_in_the_docs_are_current() -> None:
    """docs/examples/ is what the renderer writes (CI validates it with check-jsonschema)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "gen-deploy-examples"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
