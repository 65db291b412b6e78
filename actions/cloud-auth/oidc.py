"""Turn the job's GitHub OIDC token into the files and variables a cloud SDK reads.

No cloud API is called here: the SDK that DVC uses (botocore for S3, google-auth for
GCS, azure-identity for Azure Blob) exchanges the token itself, the standard way:

- AWS: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (AssumeRoleWithWebIdentity), audience
  `sts.amazonaws.com`.
- Google Cloud: GOOGLE_APPLICATION_CREDENTIALS pointing at an `external_account` file
  (workload identity federation with service account impersonation), audience
  `https://iam.googleapis.com/<provider>`.
- Azure: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE
  (WorkloadIdentityCredential of DefaultAzureCredential), audience
  `api://AzureADTokenExchange`.

Inputs from the environment: MLGITOPS_AWS_ROLE_ARN, MLGITOPS_GCP_PROVIDER,
MLGITOPS_GCP_SERVICE_ACCOUNT, MLGITOPS_AZURE_CLIENT_ID, MLGITOPS_AZURE_TENANT_ID, and the
runner's ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN (present only when
the job has `id-token: write`). Files go to $RUNNER_TEMP/mlgitops-cloud (mode 600),
variables to $GITHUB_ENV. Exit 2 with an `::error::` saying what to fix.
Standard library only: it runs before and without the mlgitops environment.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

AWS_AUDIENCE = "sts.amazonaws.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"
GCP_PROVIDER_RE = re.compile(
    r"projects/\d+/locations/global/workloadIdentityPools/[a-z0-9-]+/providers/[a-z0-9-]+"
)
AWS_ROLE_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com")


class Refused(Exception):
    """The inputs or the runner do not allow an OIDC exchange."""


@dataclass(frozen=True)
class Plan:
    cloud: str  # aws, gcp, azure or none
    audience: str = ""


def plan(env: dict[str, str]) -> Plan:
    """Which cloud the inputs name; refuses mixed or malformed inputs."""
    aws = env.get("MLGITOPS_AWS_ROLE_ARN", "").strip()
    provider = env.get("MLGITOPS_GCP_PROVIDER", "").strip()
    account = env.get("MLGITOPS_GCP_SERVICE_ACCOUNT", "").strip()
    client = env.get("MLGITOPS_AZURE_CLIENT_ID", "").strip()
    tenant = env.get("MLGITOPS_AZURE_TENANT_ID", "").strip()
    given = {"aws": aws, "gcp": provider or account, "azure": client or tenant}
    named = [cloud for cloud, value in given.items() if value]
    if not named:
        return Plan("none")
    if len(named) > 1:
        raise Refused(f"inputs for more than one cloud are set ({', '.join(named)}): set one")
    cloud = named[0]
    if cloud == "aws":
        if not AWS_ROLE_RE.fullmatch(aws):
            raise Refused(f"aws-role-arn {aws!r} is not a role ARN (arn:aws:iam::ID:role/NAME)")
        return Plan("aws", AWS_AUDIENCE)
    if cloud == "gcp":
        if not GCP_PROVIDER_RE.fullmatch(provider):
            raise Refused(
                "gcp-workload-identity-provider must be projects/NUMBER/locations/global/"
                f"workloadIdentityPools/POOL/providers/PROVIDER, not {provider!r}"
            )
        if not EMAIL_RE.fullmatch(account):
            raise Refused(f"gcp-service-account {account!r} is not a service account e-mail")
        return Plan("gcp", f"https://iam.googleapis.com/{provider}")
    if not (UUID_RE.fullmatch(client) and UUID_RE.fullmatch(tenant)):
        raise Refused("azure-client-id and azure-tenant-id must both be set, as GUIDs")
    return Plan("azure", AZURE_AUDIENCE)


def request_token(env: dict[str, str], audience: str) -> str:
    """The job's OIDC token for `audience`, from the runner's token endpoint."""
    url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL", "")
    bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
    if not url or not bearer:
        raise Refused(
            "this job has no OIDC token: its permissions need `id-token: write` (granted by the "
            "calling workflow too). Pull requests from forks never get one."
        )
    separator = "&" if "?" in url else "?"
    full = f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}"
    request = urllib.request.Request(full, headers={"Authorization": f"bearer {bearer}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            value = json.loads(response.read()).get("value")
    except (OSError, ValueError) as error:
        raise Refused(f"the OIDC token request failed: {error}") from error
    if not isinstance(value, str) or value.count(".") != 2:
        raise Refused("the OIDC token endpoint answered without a token")
    return value


def _private_file(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_credentials(
    env: dict[str, str], chosen: Plan, token: str, folder: Path
) -> dict[str, str]:
    """Write the token (and the Google external account file); return the variables to set."""
    token_file = folder / "oidc-token"
    _private_file(token_file, token)
    if chosen.cloud == "aws":
        session = f"mlgitops-{env.get('GITHUB_RUN_ID', 'local')}"
        return {
            "AWS_ROLE_ARN": env["MLGITOPS_AWS_ROLE_ARN"].strip(),
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ROLE_SESSION_NAME": session,
        }
    if chosen.cloud == "gcp":
        provider = env["MLGITOPS_GCP_PROVIDER"].strip()
        account = env["MLGITOPS_GCP_SERVICE_ACCOUNT"].strip()
        external_account = {
            "type": "external_account",
            "audience": f"//iam.googleapis.com/{provider}",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "service_account_impersonation_url": (
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
                f"{account}:generateAccessToken"
            ),
            "credential_source": {"file": str(token_file)},
        }
        credentials = folder / "gcp-external-account.json"
        _private_file(credentials, json.dumps(external_account, indent=2))
        return {"GOOGLE_APPLICATION_CREDENTIALS": str(credentials)}
    return {
        "AZURE_CLIENT_ID": env["MLGITOPS_AZURE_CLIENT_ID"].strip(),
        "AZURE_TENANT_ID": env["MLGITOPS_AZURE_TENANT_ID"].strip(),
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
    }


def main() -> int:
    env = dict(os.environ)
    try:
        chosen = plan(env)
        if chosen.cloud == "none":
            variables: dict[str, str] = {}
        else:
            token = request_token(env, chosen.audience)
            folder = Path(env.get("RUNNER_TEMP", "/tmp")) / "mlgitops-cloud"
            variables = write_credentials(env, chosen, token, folder)
    except Refused as error:
        print(f"::error title=OIDC credentials::{error}")
        return 2
    if variables and env.get("GITHUB_ENV"):
        with open(env["GITHUB_ENV"], "a", encoding="utf-8") as handle:
            handle.writelines(f"{name}={value}\n" for name, value in variables.items())
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            handle.write(f"cloud={chosen.cloud}\n")
    names = ", ".join(variables) or "nothing (no OIDC input set)"
    print(f"OIDC credentials for {chosen.cloud}: set {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
