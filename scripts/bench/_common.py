"""What every benchmark shares: this environment's tools first on PATH, no analytics,
a git identity, and no real GitHub credentials.

Benchmarks run as `python scripts/bench/<name>.py`, so this folder is on sys.path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "DVC_NO_ANALYTICS": "1",
    "ITERATIVE_DO_NOT_TRACK": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
for _name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY"):
    ENV.pop(_name, None)
