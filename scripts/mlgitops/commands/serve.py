"""`mlgitops serve`: serve a promoted version with MLServer (Open Inference Protocol V2).

Exit codes: 0 stopped by the user (Ctrl-C, SIGTERM), 1 the version does not verify
(signature or provenance, the failed checks named; MLServer is not started) or the
fetched model is not the version (md5 differs from its dvc.lock), 2 bad input (unknown
version, no input schema, nothing to verify with) or a tool failure, including MLServer
exiting on its own, whatever its exit code.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from mlgitops.commands.predict import add_log_and_repo_arguments
from mlgitops.commands.verify import (
    add_verification_arguments,
    verification_from,
    verified_reference,
)
from mlgitops.errors import Outcome, ToolError, UsageError

if TYPE_CHECKING:
    from mlgitops.serving.settings import ServeOptions

DESCRIPTION = """\
Serve a promoted model version with MLServer: the version (`<model>@vX.Y.Z`, or the one a
stage holds: `<model>#production`) must verify first, as `mlgitops verify` checks it
(signature by --key or --identity, provenance against its tag, dvc.lock and the model in
the DVC remote; --allow-unverified skips that, with a warning), or MLServer is not
started. Then it is fetched through DVC and checked against dvc.lock, MLServer's
settings are written (settings.json, model-settings.json), and MLServer starts with the
V2 endpoints: /v2/health/live, /v2/health/ready, /v2/models/<model>/ready,
/v2/models/<model> (metadata), /v2/models/<model>/infer and POST /v2/repository/index.
Every request is checked against the input schema of the version before it can join a
batch: a missing, extra or mistyped input, an unknown category or a missing value gets a
400 naming the input and row; an oversized body a 413.

Exit codes: 0 stopped with Ctrl-C or SIGTERM, 1 the version does not verify or the
model's bytes are not the version's, 2 bad input, nothing to verify with, or a tool
failure (MLServer exiting on its own included)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a promoted version with MLServer (V2 protocol)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, metavar="REF", help="'<model>@vX.Y.Z' or '<model>#<stage>'"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (default: %(default)s)")
    parser.add_argument(
        "--grpc-port", type=int, default=0, metavar="PORT", help="gRPC port (default: a free one)"
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=8,
        metavar="N",
        help="adaptive batching: requests per batch, 1 turns it off (default: %(default)s)",
    )
    parser.add_argument(
        "--max-batch-time",
        type=float,
        default=0.01,
        metavar="SECONDS",
        help="adaptive batching: longest wait for a batch to fill (default: %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=1024 * 1024,
        metavar="N",
        help="largest request body accepted (default: %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="where the settings and model files go (default: a temporary folder)",
    )
    add_verification_arguments(parser, gate=True)
    add_log_and_repo_arguments(parser)
    parser.set_defaults(handler=run)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def run(args: argparse.Namespace) -> Outcome:
    """Verify, fetch, check, start MLServer, wait until the user stops it."""
    from mlgitops.io.git import Git
    from mlgitops.serving.settings import ServeOptions

    if not 0 <= args.port <= 65535 or not 0 <= args.grpc_port <= 65535:
        raise UsageError("ports are numbers from 0 to 65535 (0: a free one)")
    if args.max_batch_size < 1 or args.max_batch_time < 0 or args.max_body_bytes < 1024:
        raise UsageError(
            "--max-batch-size must be at least 1, --max-batch-time at least 0, "
            "--max-body-bytes at least 1024"
        )
    try:
        from mlgitops.serving.server import start_server
    except ImportError as error:
        raise ToolError(
            f"serving needs MLServer: {error}", hint="pip install 'mlgitops[serve]'"
        ) from None
    options = ServeOptions(
        host=args.host,
        http_port=args.port,
        grpc_port=args.grpc_port,
        max_batch_size=args.max_batch_size,
        max_batch_time=args.max_batch_time,
        max_body_bytes=args.max_body_bytes,
    )
    verification = verification_from(args, required=False)
    repo = Git.find((Path.cwd() / args.repo).resolve()).root
    reference = verified_reference(args, repo, verification)
    if not args.no_prediction_log:
        options = _with_prediction_log(options, repo, args.prediction_log)
    workdir = Path(args.workdir).resolve() if args.workdir else None
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    server = None
    try:
        server = start_server(repo, reference, options, workdir=workdir)
        version = server.version
        print(
            f"mlgitops: serving {version.tag} ({version.commit[:12]}, md5 {version.md5}) at "
            f"{server.base_url} (ready in {server.ready_at - server.started_at:.1f} s)\n"
            f"  infer:    POST {server.infer_url}\n"
            f"  metadata: GET  {server.base_url}/v2/models/{version.model}\n"
            f"  MLServer log: {server.log_path}; stop with Ctrl-C",
            file=sys.stderr,
            flush=True,
        )
        while server.running():
            time.sleep(0.5)
        raise ToolError(
            f"MLServer exited with code {server.process.returncode} while serving "
            f"{version.tag}; see its log {server.log_path}"
        )
    except (_Stop, KeyboardInterrupt):
        print("mlgitops: stopping MLServer", file=sys.stderr)
        return Outcome.DONE
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.stop()


def _with_prediction_log(options: ServeOptions, repo: Path, folder: str | None) -> ServeOptions:
    """Log every answered request (`mlgitops.serving.predlog`): the MLServer process
    reads the settings from its environment; hashing without a salt is refused here."""
    import dataclasses
    import os

    from mlgitops.services.drift import load_monitoring_policy
    from mlgitops.serving.predlog import HOOK, SETTINGS_ENV, hook_settings, logger_for

    log = load_monitoring_policy(repo / "governance" / "policy.yaml").log
    where = Path(folder).resolve() if folder else repo / log.folder
    logger_for(where, log, os.environ)
    os.environ[SETTINGS_ENV] = hook_settings(where, log)
    print(f"mlgitops: logging predictions to {where}", file=sys.stderr)
    return dataclasses.replace(options, prediction_logger=HOOK)
