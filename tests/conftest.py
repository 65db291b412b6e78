"""Shared test set-up: no analytics, a fixed git identity, no global git config leaks."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

import pytest
from helpers.shared import create_run_directory

from localhub.server import LocalHub

# Set at import time so that every subprocess (dvc, git, cookiecutter) inherits them.
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["ITERATIVE_DO_NOT_TRACK"] = "1"
os.environ.setdefault("GIT_AUTHOR_NAME", "Test Author")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "author@example.com")
os.environ.setdefault("GIT_COMMITTER_NAME", "Test Author")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "author@example.com")
# `dvc`, `cookiecutter` and the `python` that DVC stages call must be this environment's,
# also when the tests run as `.venv/bin/python -m pytest` without activating it.
_interpreter_bin = os.path.dirname(sys.executable)
if not os.environ.get("PATH", "").startswith(_interpreter_bin + os.pathsep):
    os.environ["PATH"] = _interpreter_bin + os.pathsep + os.environ.get("PATH", "")
# cookiecutter and cruft keep a replay file per template in the home folder; two test
# processes (pytest-xdist workers) baking at once would write the same file. Each
# process gets its own, and the developer's ~/.cookiecutterrc is not read.
_cookiecutter_home = tempfile.mkdtemp(prefix="mlgitops-tests-cookiecutter-")
atexit.register(shutil.rmtree, _cookiecutter_home, ignore_errors=True)
_cookiecutter_config = os.path.join(_cookiecutter_home, "config.yaml")
with open(_cookiecutter_config, "w", encoding="utf-8") as _config:
    json.dump(  # JSON is YAML: cookiecutter reads this file with a YAML parser
        {
            "replay_dir": os.path.join(_cookiecutter_home, "replay"),
            "cookiecutters_dir": os.path.join(_cookiecutter_home, "templates"),
        },
        _config,
    )
os.environ["COOKIECUTTER_CONFIG"] = _cookiecutter_config
# A run inside GitHub Actions must not make the tests write annotations or outputs.
for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_EVENT_PATH"):
    os.environ.pop(name, None)


def pytest_configure(config: pytest.Config) -> None:
    # In the controlling process, before any xdist worker starts (they inherit it).
    shared = create_run_directory()
    if shared is not None:
        config.add_cleanup(lambda: shutil.rmtree(shared, ignore_errors=True))


@pytest.fixture(autouse=True)
def _no_github_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests pass tokens explicitly; a developer's real token must never be used."""
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)


@pytest.fixture
def localhub() -> Iterator[LocalHub]:
    """A running GitHub-like server (real HTTP, fresh state per test); see scripts/localhub."""
    with LocalHub() as hub:
        yield hub


# The longest test files first, so that two workers (`--dist loadfile`) do not end the
# run with one of them alone on a long file; the demo before the files that read it.
# Measured with `--durations`; the rest keep their order after these, and the files that
# read the demo's run come last, when it is long done (else a worker waits for it).
LONGEST_FIRST = (
    "tests/integration/test_demo.py",
    "tests/template/test_runnable.py",
    "tests/integration/test_promotion.py",
    "tests/workflows/test_e2e_act.py",
    "tests/integration/test_attest.py",
    "tests/template/test_policy_govern.py",
    "tests/integration/test_deploy_baked.py",
    "tests/serving/test_serve.py",
    "tests/workflows/test_pull_data.py",
    "tests/template/test_model_card_text.py",
)
LAST = ("tests/render/test_bodies.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    stale = [p for p in (*LONGEST_FIRST, *LAST) if not (config.rootpath / p).is_file()]
    if stale:  # a renamed file would silently lose its place
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FIRST or LAST names no file: {stale}")
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    rank.update((path, len(LONGEST_FIRST) + 1) for path in LAST)
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(LONGEST_FIRST)))
