"""`mlgitops.core` is pure: importing it (every submodule) loads no I/O library.

Checked in a fresh interpreter, because this test process has long imported yaml, dvc and
PyGithub through other tests; `sys.modules` there says what the core alone pulls in.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import mlgitops.core

FORBIDDEN = ("yaml", "jsonschema", "dvc", "git", "github", "scmrepo", "dulwich", "gto")

_PROBE = """
import importlib, json, pkgutil, sys
import pytest

import mlgitops.core
names = ["mlgitops.core"] + [
    m.name for m in pkgutil.walk_packages(mlgitops.core.__path__, "mlgitops.core.")
]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def core_imports() -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    found: dict[str, list[str]] = json.loads(result.stdout)
    return found


def test_core_and_every_submodule_load_no_io_library(core_imports: dict[str, list[str]]) -> None:
    found = core_imports
    offending = sorted(name for name in found["loaded"] if name.split(".")[0] in FORBIDDEN)
    assert offending == []


def test_probe_walks_the_whole_core_package(core_imports: dict[str, list[str]]) -> None:
    """The probe above must not pass by importing nothing: it sees the subpackages."""
    expected = {m.name for m in pkgutil.walk_packages(mlgitops.core.__path__, "mlgitops.core.")}
    imported = set(core_imports["imported"])
    assert {"mlgitops.core.governance.rules", "mlgitops.core.policy"} <= imported
    assert expected <= imported


def test_probe_would_see_a_forbidden_import() -> None:
    """The same probe, run on an I/O module, reports yaml: the check can fail."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys, mlgitops.io.yaml_strict; print('yaml' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "True"
