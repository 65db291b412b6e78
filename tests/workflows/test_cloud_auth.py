"""OIDC credentials for the DVC remote: the job's token turned into what each cloud SDK reads.

The runner's token endpoint is a real HTTP server on 127.0.0.1 that answers like GitHub's
(`ACTIONS_ID_TOKEN_REQUEST_URL?api-version=2.0&audience=...`, bearer token, `{"value"}`);
the script runs as the action runs it, in its own process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from workflow_files import ROOT

SCRIPT = ROOT / "actions" / "cloud-auth" / "oidc.py"
BEARER = "runner-request-token"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvY2h1cm46ZW52aXJvbm1lbnQ6bWwtcHJvbW90ZSJ9.c2ln"
ROLE = "arn:aws:iam::123456789012:role/dvc-remote-read"
PROVIDER = "projects/123456/locations/global/workloadIdentityPools/github/providers/acme"
ACCOUNT = "dvc-read@acme-ml.iam.gserviceaccount.com"
CLIENT = "11111111-2222-3333-4444-555555555555"
TENANT = "66666666-7777-8888-9999-000000000000"


class TokenEndpoint:
    """GitHub's OIDC token endpoint as the runner sees it; records the audiences asked for."""

    def __init__(self) -> None:
        self.audiences: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                if self.headers.get("Authorization") != f"bearer {BEARER}":
                    self.send_response(401)
                    self.end_headers()
                    return
                endpoint.audiences.append(query["audience"][0])
                body = json.dumps({"value": JWT, "count": 1}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token?api-version=2.0"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TokenEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint() as server:
        yield server


def run(
    tmp_path: Path, endpoint: TokenEndpoint | None, **inputs: str
) -> tuple[int, str, dict[str, str]]:
    github_env = tmp_path / "github-env"
    github_env.write_text("", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLGITOPS_")}
    env.pop("ACTIONS_ID_TOKEN_REQUEST_URL", None)
    env.pop("ACTIONS_ID_TOKEN_REQUEST_TOKEN", None)
    env.update(RUNNER_TEMP=str(tmp_path), GITHUB_ENV=str(github_env), GITHUB_RUN_ID="42")
    if endpoint is not None:
        env.update(ACTIONS_ID_TOKEN_REQUEST_URL=endpoint.url, ACTIONS_ID_TOKEN_REQUEST_TOKEN=BEARER)
    env.update({f"MLGITOPS_{key.upper()}": value for key, value in inputs.items()})
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    variables = dict(
        line.split("=", 1) for line in github_env.read_text(encoding="utf-8").splitlines()
    )
    return result.returncode, result.stdout, variables


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_aws_gets_a_web_identity_token_file(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    code, stdout, variables = run(tmp_path, endpoint, aws_role_arn=ROLE)
    assert code == 0, stdout
    assert endpoint.audiences == ["sts.amazonaws.com"]
    assert variables["AWS_ROLE_ARN"] == ROLE
    assert variables["AWS_ROLE_SESSION_NAME"] == "mlgitops-42"
    token = Path(variables["AWS_WEB_IDENTITY_TOKEN_FILE"])
    assert token.read_text(encoding="utf-8") == JWT and private(token)


def test_gcp_gets_an_external_account_file(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    code, stdout, variables = run(
        tmp_path, endpoint, gcp_provider=PROVIDER, gcp_service_account=ACCOUNT
    )
    assert code == 0, stdout
    assert endpoint.audiences == [f"https://iam.googleapis.com/{PROVIDER}"]
    credentials = Path(variables["GOOGLE_APPLICATION_CREDENTIALS"])
    assert private(credentials)
    account = json.loads(credentials.read_text(encoding="utf-8"))
    assert account["type"] == "external_account"
    assert account["audience"] == f"//iam.googleapis.com/{PROVIDER}"
    assert account["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert account["token_url"] == "https://sts.googleapis.com/v1/token"
    assert account["service_account_impersonation_url"].endswith(
        f"/serviceAccounts/{ACCOUNT}:generateAccessToken"
    )
    assert Path(account["credential_source"]["file"]).read_text(encoding="utf-8") == JWT


def test_azure_gets_a_federated_token_file(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    code, stdout, variables = run(
        tmp_path, endpoint, azure_client_id=CLIENT, azure_tenant_id=TENANT
    )
    assert code == 0, stdout
    assert endpoint.audiences == ["api://AzureADTokenExchange"]
    assert (variables["AZURE_CLIENT_ID"], variables["AZURE_TENANT_ID"]) == (CLIENT, TENANT)
    assert Path(variables["AZURE_FEDERATED_TOKEN_FILE"]).read_text(encoding="utf-8") == JWT


def test_nothing_is_asked_without_inputs(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    code, stdout, variables = run(tmp_path, endpoint)
    assert code == 0, stdout
    assert variables == {} and endpoint.audiences == []


def test_a_job_without_id_token_permission_is_told_what_to_grant(tmp_path: Path) -> None:
    code, stdout, variables = run(tmp_path, None, aws_role_arn=ROLE)
    assert code == 2
    assert "need `id-token: write`" in stdout and "forks never get one" in stdout
    assert variables == {}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"aws_role_arn": "dvc-read"}, "is not a role ARN"),
        ({"gcp_provider": "pool/provider", "gcp_service_account": ACCOUNT}, "must be projects/"),
        ({"gcp_provider": PROVIDER, "gcp_service_account": "me@example.com"}, "service account"),
        ({"azure_client_id": CLIENT}, "must both be set"),
        ({"aws_role_arn": ROLE, "azure_client_id": CLIENT}, "more than one cloud"),
    ],
)
def test_bad_inputs_are_refused_before_any_token(
    tmp_path: Path, endpoint: TokenEndpoint, inputs: dict[str, str], message: str
) -> None:
    code, stdout, variables = run(tmp_path, endpoint, **inputs)
    assert code == 2
    assert message in stdout
    assert variables == {} and endpoint.audiences == []
