"""Expensive, read-only test inputs built once per test run, shared by every worker.

pytest-xdist runs test files in two processes; a session fixture is per process, so a
trained repository or a whole demo run would otherwise be built by each worker that
needs it. `build_once(name, build)` builds into a folder under the run's shared
directory, guarded by a file lock: the first caller builds, later callers (in any
worker) wait for it and get the same folder. Treat the result as read-only.

The shared directory is made by the controlling pytest process (`pytest_configure` in
tests/conftest.py calls `create_run_directory`) and handed to the workers through the
environment, so it is removed once, after every worker is done.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

ENV = "MLGITOPS_TEST_SHARED_DIR"


def create_run_directory() -> Path | None:
    """Make the run's shared directory unless a parent process made one; the new one."""
    if os.environ.get(ENV):
        return None
    folder = Path(tempfile.mkdtemp(prefix="mlgitops-tests-shared-"))
    os.environ[ENV] = str(folder)
    return folder


def _run_directory() -> Path:
    folder = os.environ.get(ENV)
    if not folder:  # imported outside pytest: a private directory of this process
        folder = str(create_run_directory())
    return Path(folder)


def build_once(name: str, build: Callable[[Path], None]) -> Path:
    """The folder `build(folder)` filled, built by the first caller of this run.

    A build that raises leaves nothing behind, so the next caller tries again (and
    fails the same way, in its own test).
    """
    key = hashlib.sha256(name.encode()).hexdigest()[:16]
    root = _run_directory()
    # Built in place, not renamed after: what it holds may record its own absolute path
    # (a DVC remote's URL, for one).
    folder, built = root / key, root / f"{key}.built"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            try:
                build(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            built.touch()
    return folder
