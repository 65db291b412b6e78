"""`python -m localhub --port N --state FILE`: run the GitHub-like server alone.

Prints one JSON line `{"api_url": ...}` once it listens, then serves until interrupted.
Seed and inspect it over HTTP: POST /_localhub/users {"login", "token", "type"},
POST /_localhub/repos {"full_name"}, POST /_localhub/pulls {"repo", "number", "head_sha", ...},
POST /_localhub/comments, POST /_localhub/faults, GET /_localhub/state, GET /_localhub/requests.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence

from localhub.server import LocalHub


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localhub")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", help="JSON file loaded at start and saved after each write")
    parser.add_argument("--user", action="append", default=[], metavar="LOGIN:TOKEN")
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME")
    args = parser.parse_args(argv)

    hub = LocalHub(host=args.host, port=args.port, state_file=args.state)
    for spec in args.user:
        login, _, token = spec.partition(":")
        if not token:
            parser.error(f"--user wants LOGIN:TOKEN, got {spec!r}")
        hub.add_user(login, token, type="Bot" if login.endswith("[bot]") else "User")
    for full_name in args.repo:
        hub.add_repo(full_name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with hub:
        print(json.dumps({"api_url": hub.api_url, "port": hub.port}), flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
