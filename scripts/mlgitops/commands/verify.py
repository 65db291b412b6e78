"""`mlgitops verify <model>@vX.Y.Z | <model>#<stage>`: prove what a released version is.

Checks, each named when it fails:
  signature        the release folder (model from the DVC remote, the tag's dvc.lock,
                   params, locked requirements, provenance) matches the signature, made
                   by the given key (--key) or Sigstore identity (--identity/--issuer)
  provenance-tag   the provenance is of this tag and its commit
  provenance-lock  its data hashes are those of the tag's dvc.lock and .dvc files
  model-digest     its subject is the sha256 of the model fetched from the DVC remote
  rebuild          (--rebuild) a clean clone at the tag, inputs pulled from the DVC
                   remote, `dvc repro --force` with an empty cache, gives the same bytes

Exit 0: verified; 1: a check failed (named); 2: cannot verify (no tag, no signature
stored, remote unreachable, bad options).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlgitops.defaults import GITHUB_OIDC_ISSUER

# The signing library's types are imported where they are used, so that `verify --help`
# and `deploy --help` (which takes these arguments) start without them.
if TYPE_CHECKING:
    from mlgitops.attest.signing import Verification
from mlgitops.errors import GateFailed, InputError, Location, Outcome, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify a released model version: signature, provenance, rebuild",
        epilog=(
            "Exit codes: 0 verified, 1 a check failed (each failed check is named), 2 cannot\n"
            "verify (no signature stored, unknown version, bad input, or a tool failing)."
        ),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ref", metavar="MODEL@vX.Y.Z|MODEL#STAGE", help="the version to verify")
    add_verification_arguments(parser)
    parser.add_argument(
        "--rebuild", action="store_true", help="also rebuild the version from scratch"
    )
    parser.add_argument(
        "--metrics-tolerance",
        type=float,
        default=0.0,
        metavar="REL",
        help="with --rebuild: accept metrics files whose numbers differ by at most this "
        "relative amount (default 0: byte for byte)",
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository (default: .)")
    parser.add_argument("--dvc-remote", help="DVC remote holding the model (default: core.remote)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(handler=run)


def add_verification_arguments(parser: argparse.ArgumentParser, *, gate: bool = False) -> None:
    """--key | --identity [--issuer] [--trust-config]; with `gate` (serve, predict,
    deploy) also --allow-unverified. Read them back with `verification_from(args)`."""
    who = parser.add_mutually_exclusive_group()
    who.add_argument(
        "--key", type=Path, help="public key (PEM) of key-based signing (env MLGITOPS_VERIFY_KEY)"
    )
    who.add_argument(
        "--identity",
        help="Sigstore identity that must have signed, e.g. the promote workflow's "
        "https://github.com/OWNER/REPO/.github/workflows/ml-promote.yml@refs/heads/main",
    )
    parser.add_argument(
        "--issuer",
        default=GITHUB_OIDC_ISSUER,
        help=f"OIDC issuer of --identity (default: {GITHUB_OIDC_ISSUER})",
    )
    parser.add_argument(
        "--trust-config",
        type=Path,
        help="Sigstore client trust configuration (JSON): verifies keyless signatures "
        "offline; without it the public Sigstore trust root is fetched",
    )
    if gate:
        parser.add_argument(
            "--allow-unverified",
            action="store_true",
            help="use the version even if it is not signed or does not verify (logged)",
        )


def verification_from(args: argparse.Namespace, *, required: bool = True) -> Verification | None:
    """The key or identity the arguments name; None (when not `required`) if neither."""
    from mlgitops.attest.signing import IdentityVerification, KeyVerification

    if args.identity:
        return IdentityVerification(args.identity, args.issuer, args.trust_config)
    key = args.key or (Path(os.environ["MLGITOPS_VERIFY_KEY"]) if os.environ.get(
        "MLGITOPS_VERIFY_KEY") else None)  # fmt: skip
    if key is None:
        if not required:
            return None
        raise UsageError(
            "nothing to verify the signature with",
            hint="pass --key PUBLIC.pem, or --identity ID [--issuer URL] for keyless signing",
        )
    if not key.is_file():
        raise InputError("public key file not found", location=Location(str(key)))
    return KeyVerification(key)


def verified_reference(
    args: argparse.Namespace, repo: Path, verification: Verification | None
) -> str:
    """The gate of `serve` and `predict`, before anything is fetched or written: the tag
    that `args.model` names once it verifies (so the version used is the one verified),
    GateFailed when it does not, UsageError with nothing to verify with; with
    --allow-unverified, `args.model` as given, after a warning on stderr. The model is
    checked in the default DVC remote (core.remote), the one the fetch reads too."""
    from mlgitops.attest.service import require_verified

    def log(message: str) -> None:
        print(f"mlgitops: {message}", file=sys.stderr, flush=True)

    outcome = require_verified(
        repo, args.model, verification, allow_unverified=args.allow_unverified, log=log
    )
    if outcome is None:
        return str(args.model)
    log(f"{outcome.ref.tag} ({outcome.ref.commit[:12]}) verified: {', '.join(outcome.passed)}")
    return outcome.ref.tag


def run(args: argparse.Namespace) -> Outcome:
    from mlgitops.attest.service import verify_version
    from mlgitops.proc import git

    if args.metrics_tolerance < 0:
        raise UsageError("--metrics-tolerance must be 0 or more")
    verification = verification_from(args)
    assert verification is not None
    root = Path(git("rev-parse", "--show-toplevel", cwd=args.repo))

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    outcome = verify_version(
        root,
        args.ref,
        verification,
        dvc_remote=args.dvc_remote,
        rebuild=args.rebuild,
        tolerance=args.metrics_tolerance,
        log=log,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "ref": args.ref,
                    "tag": outcome.ref.tag,
                    "commit": outcome.ref.commit,
                    "verified": outcome.verified,
                    "passed": list(outcome.passed),
                    "failed": [{"check": p.check, "message": p.message} for p in outcome.problems],
                    "rebuild_seconds": outcome.rebuild.seconds if outcome.rebuild else None,
                },
                indent=2,
            )
        )
    else:
        for check in outcome.passed:
            print(f"ok      {check}")
        for problem in outcome.problems:
            print(f"FAILED  {problem.check}: {problem.message}")
    if not outcome.verified:
        raise GateFailed(
            f"{outcome.ref.tag} does not verify: failed {', '.join(outcome.failed_checks)}",
            hint="do not serve or deploy this version; see the FAILED lines above",
        )
    log(f"{outcome.ref.tag} ({outcome.ref.commit[:12]}) verified: {', '.join(outcome.passed)}")
    return Outcome.DONE
