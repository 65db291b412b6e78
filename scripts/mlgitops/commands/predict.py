"""`mlgitops predict`: batch predictions of a promoted version for a CSV file.

Exit codes: 0 written, 1 the version does not verify (signature or provenance, the
failed checks named) or the fetched model is not the version (md5 differs from its
dvc.lock), 2 bad input (a row or column that does not match the input schema, an
unknown version, nothing to verify with) or a tool failure (DVC cannot fetch the model).
Nothing is written unless the version verifies and every row is valid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlgitops.commands.verify import (
    add_verification_arguments,
    verification_from,
    verified_reference,
)
from mlgitops.errors import Outcome

DESCRIPTION = """\
Predict with a promoted model version: the version `<model>@vX.Y.Z`, or the one a stage
holds (`<model>#production`), must verify first, as `mlgitops verify` checks it (its
signature by --key or --identity, its provenance against its tag, dvc.lock and the
model in the DVC remote); --allow-unverified skips that, with a warning. Its model is
then fetched through DVC (local cache, then the DVC remote) and checked against the md5
in dvc.lock at its commit. Every row of the input
CSV is checked against the input schema recorded with that version (columns, types,
categories, missing values); a problem names its line, row and column, and nothing is
written. The output has one row per input row: `prediction`, `probability_<class>`
per class for a classifier, and `model_version`.

Exit codes: 0 written, 1 the version does not verify or the model's bytes are not the
version's, 2 bad input, nothing to verify with, or a tool failure."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="batch predictions of a promoted version for a CSV file",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="REF",
        help="the version: '<model>@vX.Y.Z' or '<model>#<stage>'",
    )
    parser.add_argument("--input", required=True, metavar="FILE", help="CSV file of rows")
    parser.add_argument("--output", required=True, metavar="FILE", help="CSV file to write")
    add_verification_arguments(parser, gate=True)
    add_log_and_repo_arguments(parser)
    parser.set_defaults(handler=run)


def add_log_and_repo_arguments(parser: argparse.ArgumentParser) -> None:
    """--prediction-log, --no-prediction-log and --repo: the same for predict and serve."""
    parser.add_argument(
        "--prediction-log",
        metavar="DIR",
        help="folder of the prediction logs (default: monitoring.log.folder of the policy, "
        "under the repository)",
    )
    parser.add_argument(
        "--no-prediction-log", action="store_true", help="do not log the predictions"
    )
    parser.add_argument(
        "--repo", default=".", metavar="DIR", help="the repository (default: current directory)"
    )


def run(args: argparse.Namespace) -> Outcome:
    """Verify the version, fetch it, check the input, predict, write the output."""
    from mlgitops.io.git import Git
    from mlgitops.serving.predict import predict_version

    verification = verification_from(args, required=False)
    cwd = Path.cwd()
    repo = Git.find((cwd / args.repo).resolve()).root
    reference = verified_reference(args, repo, verification)
    logger = None
    if not args.no_prediction_log:
        import os

        from mlgitops.services.drift import load_monitoring_policy
        from mlgitops.serving.predlog import logger_for

        log = load_monitoring_policy(repo / "governance" / "policy.yaml").log
        folder = cwd / args.prediction_log if args.prediction_log else repo / log.folder
        logger = logger_for(folder, log, os.environ)
    try:
        result = predict_version(
            repo, reference, cwd / args.input, cwd / args.output, logger=logger
        )
    finally:
        if logger is not None:
            logger.close()
    print(
        f"mlgitops: {result.rows} rows predicted by {result.version.tag} "
        f"({result.version.commit[:12]}) -> {args.output}",
        file=sys.stderr,
    )
    return Outcome.DONE
