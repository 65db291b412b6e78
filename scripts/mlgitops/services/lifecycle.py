"""The whole PR-to-release lifecycle, offline: what `mlgitops demo` runs.

Every step is the same `mlgitops` command a workflow runs, started as a subprocess
with the environment GitHub Actions would give it. "GitHub" is played by a bare git
repository (`origin.git`, where tags are pushed) and a LocalHub server (comments,
statuses, pull requests, releases), so nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml

from localhub.server import LocalHub  # the demo plays GitHub with it
from mlgitops.attest.signing import make_key_pair, signing_available
from mlgitops.errors import GateFailed, InputError, Location, ToolError
from mlgitops.proc import git, run

REPOSITORY = "acme/breast-cancer-classifier"
BOT_LOGIN = "github-actions[bot]"
BOT_TOKEN = "ghs_local_demo_token"
DEVELOPER_LOGIN = "data-scientist"
PR_NUMBER = 1
PR_BRANCH = "tune-random-forest"
PR_LABEL = "release:minor"


@dataclass
class Phase:
    title: str
    seconds: float = 0.0


@dataclass
class Lifecycle:
    """Runs the lifecycle in `workdir`, printing what a user would see on GitHub."""

    template_dir: Path
    workdir: Path
    out: TextIO = sys.stdout
    phases: list[Phase] = field(default_factory=list)

    @property
    def project(self) -> Path:
        return self.workdir / "breast-cancer-classifier"

    @property
    def origin(self) -> Path:
        return self.workdir / "origin.git"

    # -- output -------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def show(self, title: str, body: str) -> None:
        """Print a block the way GitHub would show it to a reviewer."""
        rule = "-" * 78
        self.say(f"\n{rule}\n{title}\n{rule}\n{body.rstrip()}\n{rule}")

    @contextmanager
    def phase(self, title: str) -> Iterator[None]:
        self.say(f"\n=== {len(self.phases) + 1}. {title}")
        phase = Phase(title)
        started = time.perf_counter()
        try:
            yield
        finally:
            phase.seconds = time.perf_counter() - started
            self.phases.append(phase)
            self.say(f"    ({phase.seconds:.1f} s)")

    # -- running things -----------------------------------------------------------------

    def mlgitops(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        allowed_exit_codes: tuple[int, ...] = (0,),
    ) -> tuple[int, str]:
        """Run `mlgitops ARGS` in the project, as a workflow step would."""
        result = run([sys.executable, "-m", "mlgitops", *args], self.project, env=env, check=False)
        self.say(f"    $ mlgitops {' '.join(args)}  -> exit {result.returncode}")
        if result.returncode not in allowed_exit_codes:
            raise ToolError(
                f"'mlgitops {' '.join(args)}' exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.returncode, result.stdout

    @property
    def signing_key(self) -> Path:
        return self.workdir / "signing.key"

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.project)

    def dvc(self, *args: str) -> str:
        return run([sys.executable, "-m", "dvc", *args], self.project).stdout

    def actions_env(
        self, hub: LocalHub, event_name: str, event: dict[str, object]
    ) -> dict[str, str]:
        """The variables GitHub Actions sets for a step, pointed at the local server."""
        run_dir = self.workdir / "runs" / f"{len(self.phases)}-{event_name}"
        run_dir.mkdir(parents=True, exist_ok=True)
        event_path = run_dir / "event.json"
        event_path.write_text(json.dumps(event, indent=2), encoding="utf-8")
        return {
            "GITHUB_API_URL": hub.api_url,
            "GITHUB_SERVER_URL": hub.server_url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_TOKEN": BOT_TOKEN,
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_SHA": self.git("rev-parse", "HEAD"),
            "GITHUB_STEP_SUMMARY": str(run_dir / "step_summary.md"),
            "GITHUB_OUTPUT": str(run_dir / "output.txt"),
            **(
                {"MLGITOPS_SIGNING_KEY": str(self.signing_key)} if self.signing_key.exists() else {}
            ),
        }

    # -- the phases ---------------------------------------------------------------------

    def run(self) -> int:
        started = time.perf_counter()
        with LocalHub(state_file=self.workdir / "github-state.json") as hub:
            hub.add_user(BOT_LOGIN, BOT_TOKEN, type="Bot")
            hub.add_user(DEVELOPER_LOGIN, "ghp_local_developer_token")
            hub.add_repo(REPOSITORY)
            self.say(f"Local GitHub-like API for {REPOSITORY}: {hub.api_url}")
            self.bake()
            self.initialise()
            self.train_baseline(hub)
            head_sha = self.open_pull_request(hub)
            verdict = self.review_pull_request(hub, head_sha)
            self.merge_and_promote(hub)
        self.summarise(time.perf_counter() - started, verdict)
        return 0

    def bake(self) -> None:
        with self.phase("Bake a repository from the template (cookiecutter --no-input)"):
            run(
                [
                    sys.executable, "-m", "cookiecutter", "--no-input",
                    "--output-dir", str(self.workdir), str(self.template_dir),
                    "project_name=Breast Cancer Classifier",
                ],
                self.workdir,
            )  # fmt: skip
            if not self.project.is_dir():
                raise ToolError(f"cookiecutter did not create {self.project}")
            self.say(f"    baked {self.project}")

    def initialise(self) -> None:
        with self.phase("Initialise: git, DVC, local DVC remote; 'GitHub' origin"):
            remote = self.workdir / "dvc-remote"
            self.mlgitops("init", ".", "--remote-url", str(remote))
            git(
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                str(self.origin),
                cwd=self.workdir,
            )
            self.git("remote", "add", "origin", str(self.origin))
            self.git("push", "--quiet", "origin", "main")
            self.say(f"    DVC remote: {remote}\n    origin:     {self.origin}")
            if signing_available():  # the [attest] extra: releases are signed and verified
                make_key_pair(self.signing_key, self.signing_key.with_suffix(".pub"))
                self.say(f"    signing key: {self.signing_key} (EC P-256, for this demo)")

    def train_baseline(self, hub: LocalHub) -> None:
        with self.phase("Train the baseline on main and promote it (dvc repro, push, tag)"):
            self.dvc("repro")
            self.git("add", "-A")
            self.git("commit", "--quiet", "-m", "Train baseline model")
            self.dvc("push")
            self.git("push", "--quiet", "origin", "main")
            env = self.actions_env(
                hub, "push", {"ref": "refs/heads/main", "after": self.git("rev-parse", "HEAD")}
            )
            _, output = self.mlgitops("promote", "--bump", "major", env=env)
            self.say(_indent(output))

    def open_pull_request(self, hub: LocalHub) -> str:
        with self.phase(f"Open PR #{PR_NUMBER}: change a training parameter"):
            self.git("switch", "--quiet", "-c", PR_BRANCH)
            before, after = self.change_params()
            self.dvc("repro")
            self.git("add", "-A")
            self.git("commit", "--quiet", "-m", f"Tune the model: {before} -> {after}")
            self.git("push", "--quiet", "origin", PR_BRANCH)
            head_sha = self.git("rev-parse", "HEAD")
            hub.add_pull(
                REPOSITORY, PR_NUMBER, head_sha=head_sha, base_ref="main",
                head_ref=PR_BRANCH, title="Tune the model", labels=[PR_LABEL],
                author=DEVELOPER_LOGIN,
            )  # fmt: skip
            self.say(f"    params: {before} -> {after}; head {head_sha[:12]}")
            return head_sha

    def change_params(self) -> tuple[str, str]:
        """Change one hyper-parameter of the default model in params.yaml."""
        params_path = self.project / "params.yaml"
        params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
        train = params.get("train", {})
        for key, new_value in (("n_estimators", 300), ("max_iter", 500), ("alpha", 0.5)):
            for section in (train, *[v for v in train.values() if isinstance(v, dict)]):
                if key in section and section[key] != new_value:
                    old_value = section[key]
                    text = params_path.read_text(encoding="utf-8")
                    needle = f"{key}: {old_value}"
                    if needle not in text:
                        continue
                    params_path.write_text(text.replace(needle, f"{key}: {new_value}", 1))
                    return f"{key}={old_value}", f"{key}={new_value}"
        raise InputError(
            "no tunable parameter found to change", location=Location(str(params_path))
        )

    def review_pull_request(self, hub: LocalHub, head_sha: str) -> int:
        with self.phase("CI on the PR: report, governance, one sticky comment"):
            event = {
                "action": "synchronize",
                "number": PR_NUMBER,
                "pull_request": {
                    "number": PR_NUMBER,
                    "head": {"sha": head_sha, "ref": PR_BRANCH, "repo": {"full_name": REPOSITORY}},
                    "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
                    "labels": [{"name": PR_LABEL}],
                },
                "repository": {"full_name": REPOSITORY},
            }
            env = self.actions_env(hub, "pull_request", event)
            reports = self.workdir / "runs" / "pr-reports"
            reports.mkdir(parents=True, exist_ok=True)
            report_md = reports / "report.md"
            governance_md = reports / "governance.md"
            self.mlgitops("report", "--base", "main", "--output", str(report_md), env=env)
            verdict, _ = self.mlgitops(
                "govern", "--base", "main", "--output", str(governance_md),
                env=env, allowed_exit_codes=(0, GateFailed.exit_code),
            )  # fmt: skip
            body = reports / "comment.md"
            body.write_text(
                report_md.read_text(encoding="utf-8")
                + "\n\n"
                + governance_md.read_text(encoding="utf-8"),
                encoding="utf-8",
            )
            # Run the comment step twice, as a second push to the PR would: one comment.
            for _ in range(2):
                self.mlgitops("comment", "--pr", str(PR_NUMBER), "--body-file", str(body), env=env)
            comments = hub.comments(REPOSITORY, PR_NUMBER)
            self.say(f"    comments on PR #{PR_NUMBER}: {len(comments)} (edited, not duplicated)")
            self.show(
                f"PR #{PR_NUMBER} comment by {comments[-1]['user']['login']}", comments[-1]["body"]
            )
            state = "success" if verdict == 0 else "failure"
            self.say(f"    governance status: {state}")
            return verdict

    def merge_and_promote(self, hub: LocalHub) -> None:
        with self.phase(f"Merge PR #{PR_NUMBER} and promote: verify data, tag, release"):
            self.git("switch", "--quiet", "main")
            self.git(
                "merge", "--quiet", "--no-ff", PR_BRANCH, "-m", f"Merge pull request #{PR_NUMBER}"
            )
            merge_sha = self.git("rev-parse", "HEAD")
            self.dvc("push")
            self.git("push", "--quiet", "origin", "main")
            hub.add_pull(
                REPOSITORY, PR_NUMBER, head_sha=self.git("rev-parse", PR_BRANCH), base_ref="main",
                head_ref=PR_BRANCH, title="Tune the model", labels=[PR_LABEL],
                author=DEVELOPER_LOGIN, merged=True, merge_commit_sha=merge_sha,
            )  # fmt: skip
            env = self.actions_env(hub, "push", {"ref": "refs/heads/main", "after": merge_sha})
            _, output = self.mlgitops("promote", env=env)
            self.say(_indent(output))
            # Promotion is idempotent: a re-run (a retried workflow) changes nothing.
            _, output = self.mlgitops("promote", env=env)
            self.say(_indent(output))
            tags = git("tag", "--list", cwd=self.origin).splitlines()
            self.say(f"    tags on origin: {', '.join(tags)}")
            if self.signing_key.exists():
                version = sorted(t for t in tags if "@v" in t)[-1]
                public = str(self.signing_key.with_suffix(".pub"))
                _, output = self.mlgitops("verify", version, "--key", public)
                self.say(_indent(output))
            releases = hub.releases(REPOSITORY)
            if releases:
                latest = releases[-1]
                self.show(f"Release {latest['tag_name']}: {latest['name']}", latest["body"])
            _, history = self.mlgitops("history")
            self.show("mlgitops history", history)

    def summarise(self, total_seconds: float, verdict: int) -> None:
        width = max(len(phase.title) for phase in self.phases)
        lines = [f"{'phase'.ljust(width)}  seconds"]
        lines += [f"{p.title.ljust(width)}  {p.seconds:7.1f}" for p in self.phases]
        lines.append(f"{'total'.ljust(width)}  {total_seconds:7.1f}")
        self.show("Lifecycle finished", "\n".join(lines))
        self.say(f"Repository: {self.project}")
        self.say(
            f"GitHub state (comments, releases, statuses): {self.workdir / 'github-state.json'}"
        )
        if verdict != 0:
            self.say("Governance failed on the PR: see the comment above.")


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines())


def default_template_dir() -> Path:
    """The template next to this package in a source checkout (`pip install -e .`)."""
    return Path(__file__).resolve().parents[3] / "template"


def prepare_workdir(path: Path | None, make_temp: Callable[[], str]) -> Path:
    """An empty folder to work in: the given one (must be empty or absent) or a new temp."""
    if path is None:
        return Path(make_temp())
    if path.exists() and any(path.iterdir()):
        raise InputError(
            "the output folder is not empty; choose another or remove it",
            location=Location(str(path)),
        )
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def prepare_environment() -> None:
    """git on PATH, no DVC analytics, and a commit identity on a machine without one."""
    if shutil.which("git") is None:
        raise ToolError("'git' is required on PATH")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("ITERATIVE_DO_NOT_TRACK", "1")
    configured = run(["git", "config", "user.email"], Path.cwd(), check=False).stdout.strip()
    if not configured:
        os.environ.setdefault("GIT_AUTHOR_NAME", "Data Scientist")
        os.environ.setdefault("GIT_AUTHOR_EMAIL", "data-scientist@example.com")
        os.environ.setdefault("GIT_COMMITTER_NAME", "Data Scientist")
        os.environ.setdefault("GIT_COMMITTER_EMAIL", "data-scientist@example.com")
