"""The actions' hashed lock files stay in step with pyproject.toml, and every install
the actions run is hash-checked."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from workflow_files import ACTIONS, ROOT, load

PINNED_RE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.M)
# actions/setup's `profile` input: its lock file and the extras it holds, each profile
# the one before it plus an extra.
PROFILES = {
    "train": ("actions.txt", ["train"]),
    "attest": ("actions-attest.txt", ["train", "attest"]),
    "serve": ("actions-serve.txt", ["train", "attest", "serve"]),
}
LOCKS = [lock for lock, _ in PROFILES.values()]
INSTALL_SH = ROOT / "actions" / "setup" / "install.sh"


def locked(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    return {canonicalize_name(n): version for n, version in PINNED_RE.findall(text)}


def blocks(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Package name -> (version, its hashes). (Markers may differ between profiles: a
    package one extra needs everywhere is conditional in a profile without it.)"""
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9._-]+==)", text):
        match = PINNED_RE.match(block)
        if match:
            hashes = frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", block))
            found[canonicalize_name(match[1])] = (match[2], hashes)
    return found


@pytest.mark.parametrize("profile", PROFILES)
def test_lock_covers_the_profiles_dependencies(profile: str) -> None:
    """Every dependency of mlgitops and of the profile's extras is pinned, at an allowed
    version, and at the version of requirements/constraints.txt (what the tests run)."""
    lock, extras = PROFILES[profile]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = locked(lock)
    wanted = [*project["dependencies"]]
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        assert name in pins, f"{name} is missing from requirements/{lock}: run requirements/lock"
        assert spec.specifier.contains(pins[name]), f"{name}=={pins[name]} violates {spec}"
    constraints = locked("constraints.txt")
    differ = {n: (v, constraints[n]) for n, v in pins.items() if constraints.get(n, v) != v}
    assert not differ, f"requirements/{lock} differs from constraints.txt: {differ}"
    assert "mlgitops" not in pins  # installed from the action's own ref


def test_each_profile_extends_the_one_before_it_with_the_same_pins() -> None:
    """A package shared by two profiles has the same version and hashes in both, and
    the heavy extras stay out of the lighter profiles (PR jobs install no MLServer)."""
    train, attest, serve = (blocks(lock) for lock in LOCKS)
    for smaller, larger in [(train, attest), (attest, serve)]:
        assert set(smaller) < set(larger)
        assert {n: b for n, b in larger.items() if n in smaller} == smaller
    assert {"model-signing", "pyopenssl"} <= set(attest) - set(train)
    assert {"mlserver", "mlserver-sklearn"} <= set(serve) - set(attest)


@pytest.mark.parametrize("name", [*LOCKS, "actions-build.txt"])
def test_every_pin_has_hashes(name: str) -> None:
    for package, (version, hashes) in blocks(name).items():
        assert hashes, f"{package}=={version} has no hash in requirements/{name}"


def test_build_lock_holds_the_installer_and_build_tools() -> None:
    assert {"uv", "setuptools"} <= set(locked("actions-build.txt"))


def test_lock_script_compiles_every_profile() -> None:
    """requirements/lock writes each lock, each profile constrained by the one before."""
    script = (ROOT / "requirements" / "lock").read_text(encoding="utf-8")
    for lock, extras in PROFILES.values():
        assert f"-o requirements/{lock}" in script
        assert " ".join(f"--extra {extra}" for extra in extras) in script, lock
    assert "-c requirements/actions.txt -o requirements/actions-attest.txt" in script
    assert "-c requirements/actions-attest.txt -o requirements/actions-serve.txt" in script


def shell_commands(text: str) -> list[str]:
    """Logical lines of a bash script: continuations joined, `name=(...)` arrays expanded
    where they are used as "${name[@]}", comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    arrays: dict[str, str] = {}
    commands = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for name, value in arrays.items():
            line = line.replace(f'"${{{name}[@]}}"', value)
        definition = re.fullmatch(r"(\w+)=\((.*)\)", line)
        if definition:
            arrays[definition[1]] = definition[2]
            continue
        commands.append(line)
    return commands


def action_scripts() -> dict[str, str]:
    """Every script the actions run: their `run:` steps and their shell files."""
    scripts = {}
    for path in ACTIONS:
        for i, step in enumerate(load(path)["runs"].get("steps", [])):
            if "run" in step:
                scripts[f"{path.relative_to(ROOT)} step {i}"] = step["run"]
    for path in sorted((ROOT / "actions").rglob("*.sh")):
        scripts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return scripts


INSTALL_RE = re.compile(r"\bpip3?\s+install\b|\bpip\s+sync\b")


def test_every_install_in_the_actions_is_hash_checked() -> None:
    """No `pip install` / `uv pip install` of packages without --require-hashes anywhere
    in actions/; the one exception is mlgitops itself, from the action's own checkout,
    with --no-deps (a local folder has no hash to check)."""
    installs = {}
    for where, script in action_scripts().items():
        for command in shell_commands(script):
            if INSTALL_RE.search(command):
                installs.setdefault(where, []).append(command)
    assert set(installs) == {"actions/setup/install.sh"}, installs
    checked = [c for c in installs["actions/setup/install.sh"] if "--require-hashes" in c]
    others = [c for c in installs["actions/setup/install.sh"] if c not in checked]
    assert len(checked) == 3  # uv into a temporary folder, the build tools, the profile lock
    assert all(" -r " in c and "--no-deps" in c for c in checked), checked
    (local,) = others
    assert local.endswith('--no-deps --no-build-isolation --reinstall "$source_dir"'), local
    # Python files of the actions install nothing either.
    for path in (ROOT / "actions").rglob("*.py"):
        assert not INSTALL_RE.search(path.read_text(encoding="utf-8")), path


def test_setup_chooses_the_lock_of_its_profile_input() -> None:
    action = load(ROOT / "actions" / "setup" / "action.yml")
    assert action["inputs"]["profile"]["default"] == "train"  # pull requests stay light
    (install,) = [s for s in action["runs"]["steps"] if s.get("id") == "install"]
    assert install["env"]["MLGITOPS_PROFILE"] == "${{ inputs.profile }}"
    script = INSTALL_SH.read_text(encoding="utf-8")
    case = script[script.index('case "$profile" in') : script.index("esac")]
    assert re.findall(r"^\s*([\w |*]+)\)", case, re.M) == ["train", "attest | serve", "*"]
    assert 'train) lock="$source_dir/requirements/actions.txt"' in case
    assert 'lock="$source_dir/requirements/actions-$profile.txt"' in case
    # The tool-cache environment is keyed by the profile and the hash of its lock.
    (key,) = [c for c in shell_commands(script) if c.startswith("key=")]
    assert "$profile" in key and 'cat "$build_lock" "$lock"' in key


def test_setup_refuses_an_unknown_profile(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(INSTALL_SH)],
        env={"PATH": "/usr/bin:/bin", "MLGITOPS_SOURCE": str(ROOT), "MLGITOPS_PROFILE": "gpu",
             "RUNNER_TOOL_CACHE": str(tmp_path)},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "::error title=Unknown profile::profile 'gpu' is not one of train, attest, serve" in (
        result.stdout
    )
    assert not any(tmp_path.iterdir())  # nothing installed


@pytest.mark.parametrize(
    ("workflow", "profile"),
    [
        ("ml-pr.yml", None),
        ("ml-comment.yml", None),
        ("ml-promote.yml", "attest"),  # signs each release
        ("ml-deploy.yml", "serve"),  # the gate serves with MLServer and verifies first
        ("ml-monitor.yml", "train"),  # drift and the retraining pipeline: neither
    ],
)
def test_each_job_installs_its_profile(workflow: str, profile: str | None) -> None:
    (job,) = load(ROOT / ".github" / "workflows" / workflow)["jobs"].values()
    (setup,) = [s for s in job["steps"] if str(s.get("uses", "")).endswith("/actions/setup")]
    assert setup["with"].get("profile") == profile
