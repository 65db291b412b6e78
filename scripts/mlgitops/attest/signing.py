"""Signing and verifying the release folder through the `model_signing` library's API.

Two ways, chosen by the caller:
- a key pair (EC P-256/384/521, unencrypted PEM): works with no network at all, used
  locally, in the offline demo and in tests;
- keyless Sigstore with the workflow's OIDC identity (GitHub Actions with
  `id-token: write`): signing always needs Fulcio and Rekor; verification works offline
  only with a trust configuration file (`trust_config`).

The signature is a Sigstore bundle (a DSSE envelope around an in-toto statement whose
subjects are the folder's files); it is written OUTSIDE the folder it covers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgitops.defaults import GITHUB_OIDC_ISSUER as GITHUB_OIDC_ISSUER  # re-exported
from mlgitops.errors import InputError, Location, ToolError, UsageError

# GitHub Actions sets these when the job has `permissions: id-token: write`.
ACTIONS_OIDC_ENV = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")


@dataclass(frozen=True)
class KeySigning:
    private_key: Path


@dataclass(frozen=True)
class KeylessSigning:
    """Sigstore with an identity token: explicit, else the ambient Actions credential."""

    identity_token: str | None = None
    trust_config: Path | None = None


Signing = KeySigning | KeylessSigning


@dataclass(frozen=True)
class KeyVerification:
    public_key: Path


@dataclass(frozen=True)
class IdentityVerification:
    identity: str
    issuer: str = GITHUB_OIDC_ISSUER
    trust_config: Path | None = None


Verification = KeyVerification | IdentityVerification


def oidc_available(environ: Mapping[str, str]) -> bool:
    return all(environ.get(name) for name in ACTIONS_OIDC_ENV)


def choose_signing(key: str | None, environ: Mapping[str, str]) -> Signing | None:
    """A key when one is given (option or MLGITOPS_SIGNING_KEY), else keyless when the
    Actions OIDC credential is there, else None (the version is released unsigned, and
    `unsigned_reason` says why). A key that cannot be used is an error here, before
    anything is tagged."""
    chosen = key or environ.get("MLGITOPS_SIGNING_KEY") or None
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise InputError("signing key file not found", location=Location(str(path)))
        if not signing_available():
            raise UsageError(
                "a signing key is given but the model-signing library is not installed",
                hint="pip install 'mlgitops[attest]' (in Actions: actions/setup with "
                "`profile: attest`)",
            )
        return KeySigning(path)
    if oidc_available(environ) and signing_available():
        return KeylessSigning()
    return None


def unsigned_reason(environ: Mapping[str, str]) -> str:
    """Why `choose_signing` found nothing to sign with."""
    if oidc_available(environ):
        return (
            "the model-signing library is not installed (the `attest` extra; in Actions, "
            "actions/setup with `profile: attest`)"
        )
    return (
        "no signing key (--signing-key or MLGITOPS_SIGNING_KEY) and no Actions OIDC "
        "credential (a job with `permissions: id-token: write`)"
    )


def make_key_pair(private: Path, public: Path) -> None:
    """An EC P-256 key pair in PEM, the private key unencrypted (what model-signing
    1.1.1 reads; its password option does not work). Same as
    `openssl ecparam -name prime256v1 -genkey -noout` and `openssl ec -pubout`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def signing_available() -> bool:
    return importlib.util.find_spec("model_signing") is not None


def _hashing() -> Any:
    from model_signing import hashing

    # Nothing in the release folder escapes the signature, `.git*` files included.
    return hashing.Config().set_ignored_paths(paths=[], ignore_git_paths=False)


def describe(signing: Signing) -> str:
    if isinstance(signing, KeySigning):
        return f"key {signing.private_key.name}"
    return "Sigstore keyless (workflow OIDC identity)"


def sign_folder(folder: Path, signature: Path, signing: Signing) -> None:
    """Sign every file of `folder` into the bundle `signature` (outside the folder)."""
    try:
        from model_signing import signing as ms_signing
    except ImportError as error:
        raise UsageError(
            f"signing needs the model-signing library ({error})",
            hint="pip install 'mlgitops[attest]'",
        ) from error

    config = ms_signing.Config().set_hashing_config(_hashing())
    try:
        if isinstance(signing, KeySigning):
            config.use_elliptic_key_signer(private_key=signing.private_key)
        else:
            config.use_sigstore_signer(
                use_ambient_credentials=signing.identity_token is None,
                identity_token=signing.identity_token,
                trust_config=signing.trust_config,
            )
        config.sign(folder, signature)
    except (ValueError, TypeError) as error:
        where = signing.private_key if isinstance(signing, KeySigning) else None
        raise InputError(
            f"cannot sign with {describe(signing)}: {error}",
            location=Location(str(where)) if where else None,
            hint="use an unencrypted EC P-256/384/521 private key in PEM "
            "(openssl ecparam -name prime256v1 -genkey -noout -out signing.key)",
        ) from error
    except Exception as error:  # network and Sigstore service failures, of many types
        raise ToolError(
            f"Sigstore signing failed ({type(error).__name__}): {error}",
            hint="keyless signing needs the network (Fulcio, Rekor) and "
            "`permissions: id-token: write` in the job; pass --signing-key to sign offline",
        ) from error


def verify_folder(folder: Path, signature: Path, verification: Verification) -> str | None:
    """None when `signature` covers exactly the files of `folder` and was made by the
    expected key or identity; otherwise why not."""
    try:
        from model_signing import verifying
    except ImportError as error:
        raise UsageError(
            f"verification needs the model-signing library ({error})",
            hint="pip install 'mlgitops[attest]'",
        ) from error

    config = verifying.Config().set_hashing_config(_hashing())
    try:
        if isinstance(verification, KeyVerification):
            config.use_elliptic_key_verifier(public_key=verification.public_key)
        else:
            config.use_sigstore_verifier(
                identity=verification.identity,
                oidc_issuer=verification.issuer,
                trust_config=verification.trust_config,
            )
    except (ValueError, OSError) as error:
        raise InputError(
            f"cannot use the verification key or trust configuration: {error}"
        ) from error
    except Exception as error:
        raise ToolError(
            f"cannot set up Sigstore verification ({type(error).__name__}): {error}",
            hint="offline, pass --trust-config FILE (a Sigstore ClientTrustConfig)",
        ) from error
    try:
        config.verify(folder, signature)
    except Exception as error:  # model_signing raises ValueError and library errors alike
        return f"{type(error).__name__}: {error}"
    return None
