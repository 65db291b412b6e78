"""The actions' hashed lock files stay in step with pyproject.toml."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from workflow_files import ROOT

PINNED_RE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.M)


def locked(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    return {canonicalize_name(n): version for n, version in PINNED_RE.findall(text)}


def test_lock_covers_runtime_and_train_dependencies() -> None:
    """Every dependency of mlgitops (and its [train] extra) is pinned, at an allowed version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = locked("actions.txt")
    wanted = [*project["dependencies"], *project["optional-dependencies"]["train"]]
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        assert name in pins, (
            f"{name} is missing from requirements/actions.txt: run requirements/lock"
        )
        assert spec.specifier.contains(pins[name]), f"{name}=={pins[name]} violates {spec}"


def test_every_pin_has_hashes() -> None:
    for name in ("actions.txt", "actions-build.txt"):
        text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
        blocks = re.split(r"\n(?=[A-Za-z0-9._-]+==)", text.split("\n", 2)[-1])
        for block in blocks:
            if PINNED_RE.match(block.strip()):
                assert "--hash=sha256:" in block, block.splitlines()[0]
    assert {"uv", "setuptools"} <= set(locked("actions-build.txt"))
    assert "mlgitops" not in locked("actions.txt")  # installed from the action's own ref
