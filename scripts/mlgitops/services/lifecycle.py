"""The whole lifecycle offline, from pull request to release, deployment, serving and
monitoring: what `mlgitops demo` runs.

Every step is the same `mlgitops` command a workflow runs, started as a subprocess
with the environment GitHub Actions would give it. "GitHub" is played by a bare git
repository (`origin.git`, where tags are pushed) and a LocalHub server (comments,
statuses, pull requests, releases), so nothing leaves the machine. MLServer (the
deployment gate, `mlgitops serve`) listens on 127.0.0.1 only, and every server the demo
starts is stopped before it returns, whatever happens.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from localhub.server import LocalHub  # the demo plays GitHub with it
from mlgitops.attest.signing import make_key_pair, signing_available
from mlgitops.core.input_schema import schema_from_dict
from mlgitops.errors import GateFailed, InputError, Location, ToolError
from mlgitops.proc import git, run
from mlgitops.serving.client import infer_body, post_json

REPOSITORY = "acme/breast-cancer-classifier"
BOT_LOGIN = "github-actions[bot]"
BOT_TOKEN = "ghs_local_demo_token"
DEVELOPER_LOGIN = "data-scientist"
GOVERNANCE_CHECK = "ml / governance"
RETRAIN_BRANCH = "retrain/breast-cancer-classifier"
# Drifted traffic: rows of the test split with every feature scaled, a bounded count.
DRIFT_ROWS = 200
DRIFT_ROWS_PER_REQUEST = 10
DRIFT_SCALE = 1.6
SERVE_READY_SECONDS = 180.0
ANNOTATION = re.compile(r"^::(?P<level>error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


@dataclass(frozen=True)
class PullRequest:
    """A simulated pull request: params.yaml edits (dotted key -> value) and the verdict
    the story needs from governance (the demo fails if the gate says otherwise)."""

    number: int
    branch: str
    title: str
    label: str
    changes: tuple[tuple[str, object], ...]
    should_pass: bool


# Measured on the bundled Breast Cancer data (seed 42): the default random forest has
# accuracy 0.9737, f1 0.9630, recall 0.9286, roc_auc 0.9931; a logistic regression with
# C=0.3 has 0.9825, 0.9756, 0.9524, 0.9980 and the same precision (1.0).
IMPROVING_PR = PullRequest(
    number=1,
    branch="logistic-regression",
    title="Switch to a regularised logistic regression",
    label="release:minor",
    changes=(("train.model", "logistic_regression"), ("train.logistic_regression.C", 0.3)),
    should_pass=True,
)
# C=0.01 keeps every metric above its floor but costs 0.095 recall, 0.035 accuracy and
# 0.053 f1 against main, over the policy's max_regression for each of them, and widens
# the accuracy gap between tumour-size groups to 0.106 (max_gap 0.10).
BLOCKED_PR = PullRequest(
    number=2,
    branch="stronger-regularisation",
    title="Regularise more: C 0.3 -> 0.01",
    label="release:patch",
    changes=(("train.logistic_regression.C", 0.01),),
    should_pass=False,
)


@dataclass(frozen=True)
class Served:
    """A `mlgitops serve` process of the demo, listening on 127.0.0.1."""

    model: str
    base_url: str
    log_folder: Path | None

    @property
    def infer_url(self) -> str:
        return f"{self.base_url}/v2/models/{self.model}/infer"


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
            # One phase after another; each reads what it needs from the repository and
            # the local server, so a new phase is one more line.
            self.bake()
            self.initialise()
            self.train_baseline(hub)
            for pull in (IMPROVING_PR, BLOCKED_PR):
                head_sha = self.open_pull_request(hub, pull)
                passed = self.review_pull_request(hub, pull, head_sha)
                if passed != pull.should_pass:
                    expected = "pass" if pull.should_pass else "fail"
                    raise GateFailed(
                        f"governance was expected to {expected} on PR #{pull.number}"
                        f" ({pull.title}) and did not: see its comment above"
                    )
                if passed:
                    self.merge_and_promote(hub, pull)
                else:
                    self.say(f"    PR #{pull.number} stays open: the required check failed.")
                    self.git("switch", "--quiet", "main")
                    self.dvc("checkout", "--quiet")  # main's model and reports again
            with ExitStack() as servers:  # every server started below is stopped
                self.deploy_versions(hub)
                self.show_history()
                served = self.serve_production(servers, "the production version", log=False)
                before = self.send_one_request(served)
                servers.close()
                self.roll_back(hub)
                served = self.serve_production(servers, "after the rollback", log=True)
                after = self.send_one_request(served)
                if after == before:
                    raise GateFailed(f"the rollback left production serving {after}")
                self.say(f"    production served {before}, now {after}")
                self.send_drifted_traffic(served)
                servers.close()
            self.monitor_and_retrain(hub)
        self.summarise(time.perf_counter() - started)
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

    def open_pull_request(self, hub: LocalHub, pull: PullRequest) -> str:
        with self.phase(f"Open PR #{pull.number}: {pull.title}"):
            self.git("switch", "--quiet", "-c", pull.branch, "main")
            params_path = self.project / "params.yaml"
            text = params_path.read_text(encoding="utf-8")
            for key, value in pull.changes:
                text = set_param(text, key, value, file=str(params_path))
            params_path.write_text(text, encoding="utf-8")
            self.dvc("repro")
            self.git("add", "-A")
            self.git("commit", "--quiet", "-m", pull.title)
            self.git("push", "--quiet", "origin", pull.branch)
            head_sha = self.git("rev-parse", "HEAD")
            hub.add_pull(
                REPOSITORY, pull.number, head_sha=head_sha, base_ref="main",
                head_ref=pull.branch, title=pull.title, labels=[pull.label],
                author=DEVELOPER_LOGIN,
            )  # fmt: skip
            changes = ", ".join(f"{key}={value}" for key, value in pull.changes)
            self.say(f"    params.yaml: {changes}; head {head_sha[:12]}")
            return head_sha

    def review_pull_request(self, hub: LocalHub, pull: PullRequest, head_sha: str) -> bool:
        """CI on the PR; True when the governance check passed."""
        with self.phase(f"CI on PR #{pull.number}: report, governance, one sticky comment"):
            event = {
                "action": "synchronize",
                "number": pull.number,
                "pull_request": {
                    "number": pull.number,
                    "head": {
                        "sha": head_sha,
                        "ref": pull.branch,
                        "repo": {"full_name": REPOSITORY},
                    },
                    "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
                    "labels": [{"name": pull.label}],
                },
                "repository": {"full_name": REPOSITORY},
            }
            env = self.actions_env(hub, "pull_request", event)
            reports = self.bodies_dir / f"pr-{pull.number}"
            reports.mkdir(parents=True, exist_ok=True)
            report_md = reports / "report.md"
            governance_md = reports / "governance.md"
            self.mlgitops("report", "--base", "main", "--output", str(report_md), env=env)
            verdict, annotations = self.mlgitops(
                "govern", "--base", "main", "--output", str(governance_md),
                "--annotations", "always",
                env=env, allowed_exit_codes=(0, GateFailed.exit_code),
            )  # fmt: skip
            passed = verdict == 0
            body = reports / "comment.md"
            body.write_text(
                report_md.read_text(encoding="utf-8")
                + "\n\n"
                + governance_md.read_text(encoding="utf-8"),
                encoding="utf-8",
            )
            # On the first PR, run the comment step twice, as a second push would: still
            # one comment.
            for _ in range(2 if pull.number == IMPROVING_PR.number else 1):
                self.mlgitops(
                    "comment", "--pr", str(pull.number), "--body-file", str(body), env=env
                )
            comments = hub.comments(REPOSITORY, pull.number)
            self.say(f"    comments on PR #{pull.number}: {len(comments)} (edited, not duplicated)")
            self.show(
                f"PR #{pull.number} comment by {comments[-1]['user']['login']}",
                comments[-1]["body"],
            )
            # The governance job's outcome is the PR's required check.
            state = "success" if passed else "failure"
            self.set_status(hub, head_sha, state, "every policy rule passed" if passed else
                            "a policy rule failed: merging is blocked")  # fmt: skip
            self.say(f"    check {GOVERNANCE_CHECK}: {state}")
            if not passed:
                self.show(
                    f"PR #{pull.number}, Files changed: annotations of {GOVERNANCE_CHECK}",
                    self.annotations_text(annotations),
                )
            return passed

    def set_status(self, hub: LocalHub, sha: str, state: str, description: str) -> None:
        request = urllib.request.Request(
            f"{hub.api_url}/repos/{REPOSITORY}/statuses/{sha}",
            data=json.dumps(
                {"state": state, "context": GOVERNANCE_CHECK, "description": description}
            ).encode(),
            headers={"Authorization": f"Bearer {BOT_TOKEN}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # local server only
            response.read()

    def annotations_text(self, stdout: str) -> str:
        """`::error file=F,line=N,title=T::message` as GitHub shows it: under the line."""
        shown = []
        for raw in stdout.splitlines():
            match = ANNOTATION.match(raw.strip())
            if match is None:
                continue
            props = dict(item.split("=", 1) for item in match["props"].split(",") if "=" in item)
            file, line = _unescape(props.get("file", "")), props.get("line")
            where = f"{file}:{line}" if line else file or "(no file)"
            source = ""
            if file and line and line.isdigit():
                lines = (self.project / file).read_text(encoding="utf-8").splitlines()
                if 0 < int(line) <= len(lines):
                    source = f"\n      {int(line):>4} | {lines[int(line) - 1]}"
            title = _unescape(props.get("title", match["level"]))
            shown.append(f"❌ {where}{source}\n      {title}: {_unescape(match['message'])}")
        return "\n".join(shown) or "(no annotations)"

    def merge_and_promote(self, hub: LocalHub, pull: PullRequest) -> None:
        with self.phase(f"Merge PR #{pull.number} and promote: verify data, tag, release"):
            self.git("switch", "--quiet", "main")
            self.git(
                "merge", "--quiet", "--no-ff", pull.branch,
                "-m", f"Merge pull request #{pull.number} from {pull.branch}",
            )  # fmt: skip
            merge_sha = self.git("rev-parse", "HEAD")
            self.dvc("push")
            self.git("push", "--quiet", "origin", "main")
            hub.add_pull(
                REPOSITORY, pull.number, head_sha=self.git("rev-parse", pull.branch),
                base_ref="main", head_ref=pull.branch, title=pull.title, labels=[pull.label],
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
                (self.bodies_dir / "release.md").write_text(latest["body"], encoding="utf-8")
                self.show(f"Release {latest['tag_name']}: {latest['name']}", latest["body"])

    # -- deployment, serving, monitoring --------------------------------------------------

    @property
    def model(self) -> str:
        """The model's name, from its version tags on origin (`<model>@vX.Y.Z`)."""
        tags = [t for t in git("tag", "--list", cwd=self.origin).splitlines() if "@v" in t]
        if not tags:
            raise ToolError("no version tag on origin: nothing to deploy")
        return tags[0].split("@")[0]

    def versions(self) -> list[str]:
        tags = git("tag", "--list", f"{self.model}@v*", cwd=self.origin).splitlines()
        return sorted((t.split("@")[1] for t in tags), key=_semver)

    def verification_flags(self) -> list[str]:
        """The demo's public key when releases are signed; else the gate is told, loudly."""
        if self.signing_key.exists():
            return ["--key", str(self.signing_key.with_suffix(".pub"))]
        return ["--allow-unverified"]

    def deploy_versions(self, hub: LocalHub) -> None:
        """Each version to staging, then production: the production assignments pass the
        deployment gate (signature, then a real MLServer on 127.0.0.1) and open deploy PRs."""
        with self.phase("Deploy each version: staging, then production (gate, deploy PR)"):
            for version in self.versions():
                for stage in ("staging", "production"):
                    env = self.actions_env(hub, "workflow_dispatch", {"inputs": {
                        "stage": stage, "version": version}})  # fmt: skip
                    _, output = self.mlgitops(
                        "deploy", "--model", self.model, "--stage", stage,
                        "--version", version, *self.verification_flags(), env=env,
                    )  # fmt: skip
                    self.say(_indent(output))
                    pull = self.deploy_pull_request(hub, stage)
                    if stage == "production" and version == self.versions()[-1]:
                        self.show_deploy_pull_request(pull)
                    self.merge_deploy_pull_request(hub, pull)

    def deploy_pull_request(self, hub: LocalHub, stage: str) -> dict[str, Any]:
        """The open deploy PR of `stage` on the local server, as the API returns it."""
        branch_end = f"{self.model}-{stage}"
        pulls = [
            p for p in hub.pulls(REPOSITORY)
            if p["head"]["ref"].endswith(branch_end) and p["state"] == "open"
        ]  # fmt: skip
        if len(pulls) != 1:
            raise ToolError(f"expected one open deploy PR for {stage}, found {len(pulls)}")
        return pulls[0]

    def merge_deploy_pull_request(self, hub: LocalHub, pull: dict[str, Any]) -> None:
        """Merge the deploy PR as a reviewer would: main then holds the stage's desired
        state, which is what Argo CD or Flux would apply (no cluster here)."""
        branch = pull["head"]["ref"]
        self.git("fetch", "--quiet", "origin", branch)
        self.git(
            "merge", "--quiet", "--no-ff", "FETCH_HEAD",
            "-m", f"Merge pull request #{pull['number']} from {branch}",
        )  # fmt: skip
        self.git("push", "--quiet", "origin", "main")
        merge_sha = self.git("rev-parse", "HEAD")
        hub.add_pull(
            REPOSITORY, int(pull["number"]), head_sha=pull["head"]["sha"], base_ref="main",
            head_ref=branch, title=pull["title"], body=pull["body"] or "",
            author=pull["user"]["login"], merged=True, merge_commit_sha=merge_sha,
        )  # fmt: skip
        self.say(f"    merged deploy PR #{pull['number']} ({branch}) into main")

    def show_deploy_pull_request(self, pull: dict[str, Any]) -> None:
        self.show(
            f"Deploy PR #{pull['number']} ({pull['head']['ref']} -> {pull['base']['ref']}):"
            f" {pull['title']}",
            pull["body"] or "",
        )

    def serve_production(self, servers: ExitStack, why: str, *, log: bool) -> Served:
        """`mlgitops serve <model>#production` in the background until its model is ready."""
        with self.phase(f"Serve {why} (mlgitops serve, MLServer on 127.0.0.1)"):
            port = _free_port()
            reference = f"{self.model}#production"
            log_folder = self.workdir / "prediction-logs" if log else None
            args = ["serve", "--model", reference, "--host", "127.0.0.1", "--port", str(port)]
            args += ["--prediction-log", str(log_folder)] if log_folder else ["--no-prediction-log"]
            args += self.verification_flags()  # serve refuses a version that does not verify
            serve_log = self.workdir / "runs" / f"{len(self.phases)}-serve.log"
            serve_log.parent.mkdir(parents=True, exist_ok=True)
            stream = serve_log.open("w", encoding="utf-8")
            servers.callback(stream.close)
            process = subprocess.Popen(
                [sys.executable, "-m", "mlgitops", *args],
                cwd=self.project, stdout=stream, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            servers.callback(self._stop, process, args)
            self.say(f"    $ mlgitops {' '.join(args)} &  (pid {process.pid}, log {serve_log})")
            served = Served(self.model, f"http://127.0.0.1:{port}", log_folder)
            self._wait_ready(process, served, serve_log)
            for line in serve_log.read_text(encoding="utf-8").splitlines():
                if " verified: " in line or "WITHOUT verification" in line:
                    self.say(f"    {line}")
            self.say(f"    {served.base_url}/v2/models/{self.model}/ready -> 200")
            return served

    def _wait_ready(self, process: subprocess.Popen[bytes], served: Served, log: Path) -> None:
        deadline = time.monotonic() + SERVE_READY_SECONDS
        url = f"{served.base_url}/v2/models/{served.model}/ready"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ToolError(
                    f"mlgitops serve exited {process.returncode}:\n"
                    + log.read_text(encoding="utf-8")
                )
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # 127.0.0.1 only
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise ToolError(f"{url} was not ready within {SERVE_READY_SECONDS:.0f} s; see {log}")

    def _stop(self, process: subprocess.Popen[bytes], args: list[str]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self.say(f"    stopped: mlgitops {' '.join(args)}  -> exit {process.returncode}")

    def test_rows(self) -> list[dict[str, str]]:
        with (self.project / "data" / "prepared" / "test.csv").open(encoding="utf-8") as file:
            return list(csv.DictReader(file))

    def request_body(self, rows: list[dict[str, str]], scale: float = 1.0) -> dict[str, object]:
        """A V2 request for `rows`, every numeric feature multiplied by `scale`."""
        schema_file = self.project / "models" / "schema.json"
        schema = schema_from_dict(json.loads(schema_file.read_text(encoding="utf-8")))
        columns: dict[str, list[object]] = {}
        for column in schema.columns:
            numeric = column.type in ("integer", "float")
            cells: list[object] = []
            for row in rows:
                cell = row[column.name]
                if not numeric or cell == "":
                    cells.append(cell or None)
                elif column.type == "integer":
                    cells.append(round(float(cell) * scale))
                else:
                    cells.append(float(cell) * scale)
            columns[column.name] = cells
        return infer_body(schema, columns)

    def send_one_request(self, served: Served) -> str:
        """POST one V2 inference request; the version that answered it."""
        with self.phase("One V2 inference request (POST /v2/models/<model>/infer)"):
            body = {"id": "demo-1", **self.request_body(self.test_rows()[:1])}
            status, answer = post_json(served.infer_url, body)
            self.say(f"    POST {served.infer_url} -> {status}")
            if status != 200 or not isinstance(answer, dict):
                raise ToolError(f"the served model answered {status}: {answer}")
            self.show("V2 inference response", json.dumps(answer, indent=2))
            return str(answer.get("model_version"))

    def roll_back(self, hub: LocalHub) -> None:
        with self.phase("Roll production back (mlgitops deploy --rollback): deploy PR"):
            env = self.actions_env(hub, "workflow_dispatch", {"inputs": {"stage": "production"}})
            _, output = self.mlgitops(
                "deploy", "--model", self.model, "--stage", "production", "--rollback", env=env
            )
            self.say(_indent(output))
            pull = self.deploy_pull_request(hub, "production")
            self.show_deploy_pull_request(pull)
            self.merge_deploy_pull_request(hub, pull)

    def send_drifted_traffic(self, served: Served) -> None:
        with self.phase(f"Drifted traffic: {DRIFT_ROWS} test rows, features x{DRIFT_SCALE}"):
            rows = self.test_rows()
            rows = [rows[i % len(rows)] for i in range(DRIFT_ROWS)]
            labels = ["request_id,row," + self.target]
            started = time.perf_counter()
            for start in range(0, DRIFT_ROWS, DRIFT_ROWS_PER_REQUEST):
                batch = rows[start : start + DRIFT_ROWS_PER_REQUEST]
                request_id = f"drift-{start // DRIFT_ROWS_PER_REQUEST}"
                body = {"id": request_id, **self.request_body(batch, DRIFT_SCALE)}
                status, answer = post_json(served.infer_url, body)
                if status != 200:
                    raise ToolError(f"the served model answered {status}: {answer}")
                if (start // DRIFT_ROWS_PER_REQUEST) % 2 == 0:  # ground truth for half
                    labels += [f"{request_id},{n},{row[self.target]}" for n, row in
                               enumerate(batch)]  # fmt: skip
            seconds = time.perf_counter() - started
            self.labels_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
            requests = DRIFT_ROWS // DRIFT_ROWS_PER_REQUEST
            self.say(f"    {requests} requests of {DRIFT_ROWS_PER_REQUEST} rows to "
                     f"{served.infer_url}: all 200 in {seconds:.1f} s")  # fmt: skip
            self.say(f"    labels for {len(labels) - 1} rows: {self.labels_file}")
            assert served.log_folder is not None
            segments = sorted(p.name for p in served.log_folder.rglob("*") if p.is_file())
            self.say(f"    prediction log {served.log_folder}: {', '.join(segments)}")

    @property
    def labels_file(self) -> Path:
        return self.workdir / "labels.csv"

    @property
    def target(self) -> str:
        """The label column: the last column of the prepared data (the pipeline's target)."""
        with (self.project / "data" / "prepared" / "test.csv").open(encoding="utf-8") as file:
            return next(csv.reader(file))[-1]

    def monitor_and_retrain(self, hub: LocalHub) -> None:
        with self.phase("Monitor: drift issue and retraining PR (mlgitops drift)"):
            env = self.actions_env(hub, "schedule", {"schedule": "0 6 * * *"})
            verdict, _ = self.mlgitops(
                "drift", "--reference", f"{self.model}#production", "--model", self.model,
                "--current", str(self.workdir / "prediction-logs"),
                "--labels", str(self.labels_file), "--open-issue",
                "--retrain-branch", RETRAIN_BRANCH, "--open-pull-request",
                env=env, allowed_exit_codes=(0, GateFailed.exit_code),
            )  # fmt: skip
            if verdict != GateFailed.exit_code:
                raise GateFailed("the drifted traffic was expected to be judged drift")
            issues = hub.issues(REPOSITORY)
            pulls = [p for p in hub.pulls(REPOSITORY) if p["head"]["ref"] == RETRAIN_BRANCH]
            if len(issues) != 1 or len(pulls) != 1:
                raise ToolError(
                    f"expected one drift issue and one retraining PR, found {len(issues)}"
                    f" and {len(pulls)}"
                )
            issue, pull = issues[0], pulls[0]
            self.show(f"Issue #{issue['number']}: {issue['title']}", issue["body"])
            self.show(
                f"Retraining PR #{pull['number']} ({RETRAIN_BRANCH} -> {pull['base']['ref']}):"
                f" {pull['title']}",
                pull["body"] or "",
            )
        retraining = PullRequest(
            number=int(pull["number"]), branch=RETRAIN_BRANCH, title=str(pull["title"]),
            label=str(pull["labels"][0]["name"]) if pull["labels"] else "retrain",
            changes=(), should_pass=True,
        )  # fmt: skip
        self.git("switch", "--quiet", RETRAIN_BRANCH)
        self.dvc("checkout", "--quiet")
        passed = self.review_pull_request(hub, retraining, self.git("rev-parse", "HEAD"))
        self.say(
            f"    retraining PR #{retraining.number}: governance passed, ready for review"
            if passed
            else f"    retraining PR #{retraining.number} stays open: the required check failed."
        )
        self.git("switch", "--quiet", "main")
        self.dvc("checkout", "--quiet")

    def show_history(self) -> None:
        with self.phase("Versions and stages (mlgitops history)"):
            _, history = self.mlgitops("history")
            self.show("mlgitops history", history)

    @property
    def bodies_dir(self) -> Path:
        """The markdown bodies posted to "GitHub", kept for reading and rendering."""
        return self.workdir / "bodies"

    def summarise(self, total_seconds: float) -> None:
        width = max(len(phase.title) for phase in self.phases)
        lines = [f"{'phase'.ljust(width)}  seconds"]
        lines += [f"{p.title.ljust(width)}  {p.seconds:7.1f}" for p in self.phases]
        lines.append(f"{'total'.ljust(width)}  {total_seconds:7.1f}")
        self.show("Lifecycle finished", "\n".join(lines))
        self.say(f"Repository: {self.project}")
        self.say(
            f"GitHub state (comments, releases, statuses): {self.workdir / 'github-state.json'}"
        )
        self.say(f"Posted markdown bodies: {self.bodies_dir}")


def set_param(text: str, dotted: str, value: object, *, file: str) -> str:
    """params.yaml with `dotted` (e.g. `train.logistic_regression.C`) set to `value`,
    edited in place so that the file's comments and order stay as the user wrote them."""
    lines = text.splitlines(keepends=True)
    start, end, indent = 0, len(lines), -1
    keys = dotted.split(".")
    for depth, key in enumerate(keys):
        pattern = re.compile(rf"^(?P<indent> *){re.escape(key)}:(?P<rest>.*)$")
        for number in range(start, end):
            match = pattern.match(lines[number].rstrip("\n"))
            if match and len(match["indent"]) > indent:
                indent = len(match["indent"])
                if depth == len(keys) - 1:
                    shown = yaml.safe_dump(value, default_flow_style=True).strip()
                    shown = shown.removesuffix("\n...").strip()
                    comment = re.search(r"\s+#.*$", match["rest"])
                    lines[number] = (
                        f"{match['indent']}{key}: {shown}{comment.group(0) if comment else ''}\n"
                    )
                    return "".join(lines)
                start = number + 1
                end = next(
                    (
                        n
                        for n in range(start, end)
                        if lines[n].strip()
                        and not lines[n].lstrip().startswith("#")
                        and len(lines[n]) - len(lines[n].lstrip(" ")) <= indent
                    ),
                    end,
                )
                break
        else:
            raise InputError(f"no key '{dotted}' to change", location=Location(file, key=dotted))
    raise InputError(f"no key '{dotted}' to change", location=Location(file, key=dotted))


def _unescape(text: str) -> str:
    """Undo the workflow-command escaping of annotation properties and messages."""
    for escaped, char in (("%2C", ","), ("%3A", ":"), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split("."))


def _free_port() -> int:
    """A port nobody listens on now, on 127.0.0.1 (MLServer binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
