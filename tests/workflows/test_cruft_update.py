"""`cruft update` moves the reusable workflows' pin to the release it updates to.

cruft keeps the answers of .cruft.json and re-renders with them, so an answer would keep
an old ref forever. The pin is therefore not an answer: `template_ref` is empty by default
("the release generated from") and each render takes `_release_ref`, a private variable
that cruft never saves as an answer, from the template version it renders. An explicit
`template_ref` (a SHA) is a deliberate pin and stays.

Real cruft, real git: this checkout becomes a template repository with two release tags.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from act_harness import copy_checkout, git
from workflow_files import TEMPLATE_REF

pytestmark = pytest.mark.slow

CRUFT = str(Path(sys.executable).parent / "cruft")
SLUG = "breast-cancer-classifier"
USES_RE = re.compile(r"uses: [\w.-]+/[\w.-]+/\.github/workflows/(ml-[a-z]+)\.yml@(\S+)")
NEXT = "v9.9.0"


def cruft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([CRUFT, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def pins(repo: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((repo / ".github" / "workflows").glob("*.yml")):
        found.update(USES_RE.findall(path.read_text(encoding="utf-8")))
    assert set(found) == {"ml-pr", "ml-promote", "ml-comment", "ml-monitor", "ml-deploy"}, found
    return found


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as a template repository: TEMPLATE_REF, then a later release NEXT."""
    repo = copy_checkout(tmp_path_factory.mktemp("template-repo") / "ml-gitops-template")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@localhost")
    git(repo, "config", "user.name", "dev")
    commit_all(repo, "Release")
    git(repo, "tag", TEMPLATE_REF)
    return repo


def release_next(template: Path) -> None:
    config = template / "template" / "cookiecutter.json"
    text = config.read_text(encoding="utf-8")
    changed = text.replace(f'"_release_ref": "{TEMPLATE_REF}"', f'"_release_ref": "{NEXT}"')
    assert changed != text
    config.write_text(changed, encoding="utf-8")
    commit_all(template, f"Release {NEXT}")
    git(template, "tag", NEXT)


def bake(template: Path, out: Path, **answers: str) -> Path:
    args = ["create", str(template), "--directory", "template", "--no-input"]
    args += ["--checkout", TEMPLATE_REF, "--output-dir", str(out)]
    if answers:
        args += ["--extra-context", json.dumps(answers)]
    cruft(*args, cwd=out.parent)
    repo = out / SLUG
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@localhost")
    git(repo, "config", "user.name", "dev")
    commit_all(repo, "Generated")
    return repo


def test_cruft_update_moves_the_pin_and_keeps_a_deliberate_one(
    template: Path, tmp_path: Path
) -> None:
    following = bake(template, tmp_path / "following")
    sha = git(template, "rev-parse", f"{TEMPLATE_REF}^{{commit}}")
    pinned = bake(template, tmp_path / "pinned", template_ref=sha)
    assert set(pins(following).values()) == {TEMPLATE_REF}
    assert set(pins(pinned).values()) == {sha}
    state = json.loads((following / ".cruft.json").read_text(encoding="utf-8"))
    assert state["context"]["cookiecutter"]["template_ref"] == ""

    release_next(template)
    for repo in (following, pinned):
        cruft("update", "--skip-apply-ask", "--checkout", NEXT, cwd=repo)
        commit_all(repo, f"Update to {NEXT}")

    assert set(pins(following).values()) == {NEXT}
    readme = (following / "README.md").read_text(encoding="utf-8")
    assert f"at `{NEXT}`" in readme
    assert set(pins(pinned).values()) == {sha}  # an explicit answer is the user's choice

    # Back to following releases, the documented way.
    cruft(
        "update", "--skip-apply-ask", "--checkout", NEXT,
        "--variables-to-update", json.dumps({"template_ref": ""}),
        cwd=pinned,
    )  # fmt: skip
    assert set(pins(pinned).values()) == {NEXT}
