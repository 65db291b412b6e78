"""Keyless (Sigstore) signing and verification, as far as they go without the network.

Signing always needs Fulcio and Rekor; here every Sigstore URL of the trust
configuration points at a closed port on 127.0.0.1, so the test proves that the keyless
path is taken, fails as "cannot reach a verdict" (exit 2) with a hint, and never tries
the internet. Verification runs offline with a trust configuration (Sigstore's public
trusted root, shipped inside the sigstore package): a bundle made by a key is refused.
What this cannot show offline: a real keyless signature verifying.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import pytest
import sigstore
from helpers.signing_keys import make_key_pair

from mlgitops.attest.signing import (
    IdentityVerification,
    KeylessSigning,
    KeySigning,
    choose_signing,
    sign_folder,
    verify_folder,
)
from mlgitops.errors import ToolError

STORE = Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
IDENTITY = "https://github.com/acme/models/.github/workflows/ml-promote.yml@refs/heads/main"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_trust_config(folder: Path) -> Path:
    """Sigstore's public trusted root, with every service URL on a closed local port."""
    signing = json.loads((STORE / "signing_config.v0.2.json").read_text())
    port = closed_port()
    for key in ("caUrls", "oidcUrls", "rekorTlogUrls", "tsaUrls"):
        for entry in signing[key]:
            entry["url"] = f"http://127.0.0.1:{port}/{key}"
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads((STORE / "trusted_root.json").read_text()),
        "signingConfig": signing,
    }
    path = folder / "trust_config.json"
    path.write_text(json.dumps(config))
    return path


def unsigned_token() -> str:
    """An OIDC-shaped JWT (not signed: nobody checks it before Fulcio would)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "sigstore",
        "sub": "repo:acme/models:ref:refs/heads/main",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "job_workflow_ref": "acme/models/.github/workflows/ml-promote.yml@refs/heads/main",
    }
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def release_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "release"
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "model.pkl").write_bytes(b"model bytes")
    (folder / "dvc.lock").write_text("schema: '2.0'\n")
    return folder


def test_keyless_is_chosen_in_actions_with_oidc_and_a_key_wins(tmp_path: Path) -> None:
    oidc = {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}
    assert choose_signing(None, oidc) == KeylessSigning()
    assert choose_signing(None, {}) is None
    assert choose_signing(None, {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://x"}) is None
    private, _ = make_key_pair(tmp_path, "k")
    assert choose_signing(str(private), oidc) == KeySigning(private)
    assert choose_signing(None, {**oidc, "MLGITOPS_SIGNING_KEY": str(private)}) == KeySigning(
        private
    )


def test_keyless_signing_stops_where_it_needs_the_network(tmp_path: Path) -> None:
    folder = release_folder(tmp_path)
    signing = KeylessSigning(unsigned_token(), local_trust_config(tmp_path))
    with pytest.raises(ToolError, match="Sigstore signing failed") as raised:
        sign_folder(folder, tmp_path / "model.sig", signing)
    assert raised.value.exit_code == 2
    assert "(NetworkError)" in str(raised.value)  # it got as far as calling the services
    assert "keyless signing needs the network" in str(raised.value)
    assert not (tmp_path / "model.sig").exists()


def test_keyless_verification_runs_offline_and_refuses_a_key_signature(tmp_path: Path) -> None:
    folder = release_folder(tmp_path)
    private, _ = make_key_pair(tmp_path, "k")
    sign_folder(folder, tmp_path / "model.sig", KeySigning(private))
    verification = IdentityVerification(IDENTITY, trust_config=local_trust_config(tmp_path))
    reason = verify_folder(folder, tmp_path / "model.sig", verification)
    assert reason is not None and "expected certificate in bundle" in reason
