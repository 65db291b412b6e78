"""Stage assignment as a deployment: gate, publish, render `deploy/<stage>/`, deploy PR.

`Deployer.deploy` is the one entry point (`mlgitops deploy` calls it; so can anything
that changes a stage). In order, so that a failure leaves nothing half-done:

1. resolve the version: `--version` (an assignment), the previous one (`--rollback`),
   or the one the stage holds now (re-render, `--traffic`);
2. for an assignment to a gated stage: serve that version locally with MLServer and
   run the gate (smoke test, bounded load test); a failure stops here, nothing assigned;
3. publish the servable copy to the DVC remote and render + validate the manifests;
4. write the GTO stage tag(s) (assignment or rollback), through the promotion code;
5. commit the files under deploy/ on the branch `mlgitops/deploy/<model>-<stage>`
   (on HEAD, in a private index: the working tree stays as it is), push it, and open or
   update the deploy PR; without the GitHub API, write them into the working tree.

Every repository read goes through the promoter's one `Workspace` (git, DVC, tags).
"""

from __future__ import annotations

import importlib.util
import io
import math
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from mlgitops.core.artifacts import DeclaredModel
from mlgitops.core.tags import Version, format_tag
from mlgitops.core.versioning import ModelHistory
from mlgitops.deploy import crds, manifests
from mlgitops.deploy.gate import Column, GateResult, run_gate
from mlgitops.deploy.pr_body import DeployChange, gate_note, render_body, title, with_gate_section
from mlgitops.deploy.publish import model_hash, publish_version, remote_for
from mlgitops.deploy.settings import DeploySettings, deploy_settings
from mlgitops.errors import GateFailed, InputError, Location, ToolError, UsageError
from mlgitops.io.workspace import Workspace
from mlgitops.io.yaml_strict import parse_yaml
from mlgitops.services.promotion.promoter import Promoter, PromotionResult
from mlgitops.services.promotion.settings import POLICY_FILE

if TYPE_CHECKING:
    from mlgitops.attest.signing import Verification
    from mlgitops.core.policy import Policy

BRANCH_PREFIX = "mlgitops/deploy/"
GATE_ROWS = 50
TEST_SPLIT = "data/prepared/test.csv"
DATASET_FILE = "data/dataset.yaml"
# pandas dtype kind -> V2 tensor datatype of the smoke and load requests
V2_DATATYPES = {"f": "FP64", "i": "INT64", "u": "INT64", "b": "BOOL"}
HEADER = (
    "# Desired state rendered by `mlgitops deploy`; change it with a new deploy, not by hand.\n"
)

Log = Callable[[str], None]
# (repository, model, version) -> a running local server: (base URL, served model name)
ServeFn = Callable[[Path, str, str], AbstractContextManager[tuple[str, str]]]


class _Pull(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def html_url(self) -> str: ...


class _Release(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def body(self) -> str: ...


class DeployHost(Protocol):
    """What deploying needs from GitHub (mlgitops.github.client.PyGithubHost fits)."""

    def get_release_by_tag(self, tag: str) -> _Release | None: ...
    def update_release(self, release_id: int, name: str, body: str) -> Any: ...
    def find_open_pull_request(self, head: str, author: str | None = None) -> _Pull | None: ...
    def create_pull_request(
        self, title: str, body: str, head: str, base: str, labels: list[str]
    ) -> _Pull: ...
    def update_pull_request(self, number: int, title: str, body: str) -> _Pull: ...


@dataclass(frozen=True)
class DeployRequest:
    stage: str
    model: str | None = None
    version: str | None = None
    rollback: bool = False
    traffic: int | None = None
    dry_run: bool = False


@dataclass
class DeployOutcome:
    change: DeployChange
    gate: GateResult | None
    stage_result: PromotionResult | None = None
    branch: str | None = None
    pull_request_url: str | None = None
    body: str = ""


def read_deploy_settings(policy: Policy | None) -> DeploySettings:
    """`deploy:` of the policy (validated by its schema), or the defaults."""
    section = policy.sections.get("deploy") if policy is not None else None
    return deploy_settings(section if isinstance(section, dict) else None)


@dataclass(frozen=True)
class VerificationGate:
    """How the deployment gate checks a version's signature and provenance first:
    with `verification` (a key or identity), or not at all with `allow_unverified`."""

    verification: Verification | None = None
    allow_unverified: bool = False


@contextmanager
def serve_with_mlserver(repo: Path, model: str, version: str) -> Iterator[tuple[str, str]]:
    """The version served by MLServer on 127.0.0.1 (the `serve` extra), stopped after."""
    from mlgitops.serving.server import serve_version

    with serve_version(repo, format_tag(model, Version.parse(version))) as server:
        yield server.base_url, server.model


def available_server() -> ServeFn | None:
    """`serve_with_mlserver` where MLServer is installed, else None (the gate cannot run)."""
    return serve_with_mlserver if importlib.util.find_spec("mlserver") else None


def repository_url(ws: Workspace, repository: str | None, server_url: str, remote: str) -> str:
    """What Argo CD / Flux clone: the GitHub repository of the run, else the git remote."""
    if repository:
        return manifests.repository_url(server_url, repository)
    url = ws.git.remote_url(remote)
    if url is None:
        raise UsageError(
            f"no repository URL for Argo CD / Flux: GITHUB_REPOSITORY is unset and there is "
            f"no git remote '{remote}'",
            hint="set GITHUB_REPOSITORY=owner/name, or 'git remote add origin URL'",
        )
    scp_like = re.fullmatch(r"([^@/:]+@[^:/]+):(.+)", url)
    return f"ssh://{scp_like[1]}/{scp_like[2]}" if scp_like else url


def gate_rows(ws: Workspace, commit: str) -> tuple[list[dict[str, Any]], list[Column]]:
    """Rows of the version's test split without the target, and their V2 datatypes.

    The generated pipeline's layout: `data/prepared/test.csv` (a DVC output, read from
    the cache or the remote at `commit`) and the target named in `data/dataset.yaml`.
    """
    import dvc.api
    import pandas as pd

    dataset = ws.read(commit, DATASET_FILE)
    data = parse_yaml(dataset, file=f"{DATASET_FILE}@{commit[:12]}").data if dataset else None
    target = data.get("target") if isinstance(data, dict) else None
    try:
        text = dvc.api.read(TEST_SPLIT, repo=str(ws.root), rev=commit)
    except Exception as error:  # DVC raises many kinds; all mean "no test split"
        raise InputError(
            f"cannot read the test split of commit {commit[:12]}: {error}",
            location=Location(TEST_SPLIT),
        ) from None
    frame = pd.read_csv(io.StringIO(str(text))).head(GATE_ROWS)
    if target in frame.columns:
        frame = frame.drop(columns=[target])
    columns = [
        Column(str(name), V2_DATATYPES.get(dtype.kind, "BYTES"))
        for name, dtype in frame.dtypes.items()
    ]
    rows = [
        {column.name: _plain(value) for column, value in zip(columns, record, strict=True)}
        for record in frame.itertuples(index=False)
    ]
    return rows, columns


def _plain(value: Any) -> Any:
    """A JSON-ready cell: numpy scalars as Python ones, a missing value as null (NaN is
    not JSON)."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def _yaml(document: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _committed_yaml(ws: Workspace, commit: str, path: str) -> Any:
    """A manifest as `commit` has it (the state the cluster follows), or None."""
    text = ws.read(commit, path)
    try:
        return parse_yaml(text, file=path, written_by_dvc=True).data if text else None
    except InputError:
        return None  # unreadable: rendered afresh, as if nothing were deployed


@dataclass
class Deployer:
    """Deploy models of the promoter's workspace, by the policy's `deploy:` `settings`."""

    promoter: Promoter
    settings: DeploySettings = field(default_factory=DeploySettings)
    host: DeployHost | None = None
    serve: ServeFn | None = None
    verification: VerificationGate = field(default_factory=VerificationGate)
    repository: str | None = None
    server_url: str = "https://github.com"
    run_url: str | None = None
    log: Log = print

    @property
    def ws(self) -> Workspace:
        return self.promoter.ws

    @property
    def repo(self) -> Path:
        return self.ws.root

    def _head(self) -> str:
        commit = self.ws.git.head()
        if commit is None:
            raise InputError("the repository has no commit yet: nothing to deploy")
        return commit

    def automatic_request(self, model_name: str | None) -> DeployRequest | None:
        """What the policy's `deploy.auto_stage` asks for after a promotion: the model's
        latest version in that stage (None when the policy asks for nothing)."""
        settings = self.settings
        if settings.auto_stage is None:
            return None
        models = self.ws.models_to_release(self._head(), model_name)
        if len(models) != 1:
            raise UsageError("several models: pass --model to choose one")
        history = self.promoter.history(models[0].name)
        registered = [e.version for e in history.versions if not e.deregistered]
        if not registered:
            raise InputError(f"{models[0].name} has no registered version to deploy")
        return DeployRequest(
            stage=settings.auto_stage, model=models[0].name, version=str(max(registered))
        )

    def deploy(self, request: DeployRequest) -> DeployOutcome:
        release, settings = self.promoter.settings, self.settings
        release.check_stage(request.stage)
        head = self._head()
        models = self.ws.models_to_release(head, request.model)
        if len(models) != 1:
            names = ", ".join(m.name for m in models)
            raise UsageError(f"several models ({names}): pass --model to choose one")
        model = models[0]
        history = self.promoter.history(model.name)
        action, target = self._target(history, request)
        entry = history.find(target)
        assert entry is not None
        tag = format_tag(model.name, target)
        gated = settings.gated(request.stage)
        gate = None
        if action == "assign" and gated and not request.dry_run:
            self._verify(tag)
            gate = self._run_gate(model, str(target), entry.commit, settings)
            if not gate.passed:
                raise GateFailed(
                    f"deployment gate failed for {tag} -> {request.stage}: "
                    + "; ".join(gate.reasons),
                    hint="nothing was assigned or published",
                )
        md5 = model_hash(self.ws, entry.commit, model.path)
        remote = remote_for(self.repo, self.promoter.data_policy.remote)
        try:
            uri = manifests.storage_uri(
                remote.url, model.name, str(target), azure_account=remote.azure_account
            )
        except manifests.RenderError as error:
            raise InputError(
                str(error), location=Location(".dvc/config", key=f'remote "{remote.name}".url')
            ) from None
        path = manifests.manifest_path(model.name, request.stage)
        previous_tag, previous_canary = manifests.deployed_state(
            _committed_yaml(self.ws, head, path)
        )
        canary = self._canary(action, request, settings, previous_tag, previous_canary, tag)
        deployed = manifests.DeployedVersion(model.name, str(target), tag, entry.commit, md5)
        files = {
            path: manifests.inference_service(
                deployed, request.stage, uri, settings, canary_percent=canary
            )
        }
        remote_name = self.promoter.git_remote
        files |= manifests.reconciler_files(
            self.repo.name if not self.repository else self.repository.split("/")[-1],
            release.stages,
            repository_url(self.ws, self.repository, self.server_url, remote_name),
            self.ws.git.default_branch(remote_name),
            settings,
        )
        self._validate(files)
        change = DeployChange(
            model=model.name, stage=request.stage, tag=tag, commit=entry.commit,
            storage_uri=uri, previous_tag=previous_tag, canary_percent=canary,
            action=action, files=tuple(sorted(files)),
        )  # fmt: skip
        outcome = DeployOutcome(change, gate)
        note = gate_note(action, gated, request.dry_run)
        outcome.body = render_body(change, gate, note=note, run_url=self.run_url)
        if request.dry_run:
            self.log(f"dry run: would deploy {tag} to {request.stage} ({action}); nothing written")
            return outcome
        publish_version(self.repo, remote.name, model.name, str(target), md5, self.log)
        outcome.stage_result = self._write_stage(model, request, action, target, entry.commit)
        texts = {name: _yaml(document) for name, document in files.items()}
        if self.host is None:
            # No pull request to carry the change: the working tree does, for review.
            for name, text in texts.items():
                destination = self.repo / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_text(text, encoding="utf-8")
            self.log(
                f"wrote {', '.join(sorted(texts))}; no GitHub API (GITHUB_REPOSITORY, "
                "GITHUB_TOKEN): commit them, or open the deploy PR by hand"
            )
        else:
            self._open_pull_request(outcome, texts, head, remote_name)
        return outcome

    # -- steps ---------------------------------------------------------------------------
    def _target(self, history: ModelHistory, request: DeployRequest) -> tuple[str, Version]:
        current = history.current(request.stage)
        if request.rollback:
            if request.version or request.traffic is not None:
                raise UsageError("--rollback takes neither --version nor --traffic")
            previous = history.previous(request.stage)
            if current is None or previous is None:
                raise GateFailed(
                    f"{history.model} has no earlier version in {request.stage!r} to roll back to"
                )
            return "rollback", previous
        if request.version:
            target = Version.parse(request.version)
            found = history.find(target)
            if found is None or found.deregistered:
                known = ", ".join(str(v.version) for v in history.versions) or "none"
                raise InputError(
                    f"{history.model} {target} is not a registered version",
                    hint=f"known versions: {known}",
                )
            if request.traffic is not None and target != current:
                raise UsageError("--traffic changes the version a stage already holds")
            if target != current:
                return "assign", target
            return ("traffic" if request.traffic is not None else "render"), target
        if current is None:
            raise InputError(
                f"{history.model} has no version in {request.stage!r}",
                hint="pass --version vX.Y.Z to assign one",
            )
        return ("traffic" if request.traffic is not None else "render"), current

    @staticmethod
    def _canary(
        action: str,
        request: DeployRequest,
        settings: DeploySettings,
        previous_tag: str | None,
        previous_canary: int | None,
        tag: str,
    ) -> int | None:
        if request.traffic is not None:
            return request.traffic if request.traffic < 100 else None
        if action == "rollback" or previous_tag is None:
            return None  # nothing to share traffic with, or back to safety at once
        if previous_tag == tag:
            return previous_canary  # a re-render keeps the traffic split
        return settings.canary(request.stage)

    def _verify(self, tag: str) -> None:
        """The version's signature and provenance, before it is served even locally:
        GateFailed when they do not verify (nothing assigned), unless allowed unverified."""
        from mlgitops.attest.service import require_verified

        verified = require_verified(
            self.repo, tag, self.verification.verification,
            allow_unverified=self.verification.allow_unverified,
            dvc_remote=self.promoter.data_policy.remote, log=self.log,
        )  # fmt: skip
        if verified is not None:
            self.log(f"gate: {tag} verified ({', '.join(verified.passed)})")

    def _run_gate(
        self, model: DeclaredModel, version: str, commit: str, settings: DeploySettings
    ) -> GateResult:
        if self.serve is None:
            raise ToolError(
                "the deployment gate needs MLServer: install mlgitops[serve]",
                hint="or skip the gate for a non-production stage (deploy.gate_stages)",
            )
        rows, columns = gate_rows(self.ws, commit)
        self.log(f"gate: serving {model.name} {version} on 127.0.0.1")
        with self.serve(self.repo, model.name, version) as (url, served_name):
            result = run_gate(
                url, served_name, rows, columns, version,
                objective_ms=settings.latency_p99_ms, bounds=settings.load_test,
            )  # fmt: skip
        self.log("gate: " + ("passed" if result.passed else "FAILED: " + "; ".join(result.reasons)))
        return result

    def _validate(self, files: dict[str, dict[str, Any]]) -> None:
        problems = [
            f"{name}: {problem}"
            for name, document in files.items()
            for problem in crds.manifest_problems(document)
        ]
        if problems:
            raise InputError(
                "rendered manifests break their CRD schema: " + "; ".join(problems[:10]),
                hint=f"check the deploy: section of {POLICY_FILE} and the repository URL",
            )

    def _write_stage(
        self,
        model: DeclaredModel,
        request: DeployRequest,
        action: str,
        target: Version,
        commit: str,
    ) -> PromotionResult | None:
        if action == "assign":
            return self.promoter.assign_stage(
                model, request.stage, version=str(target), commit=commit
            )
        if action == "rollback":
            return self.promoter.rollback(model, request.stage)
        return None

    def _open_pull_request(
        self, outcome: DeployOutcome, texts: dict[str, str], head: str, remote: str
    ) -> None:
        change = outcome.change
        branch = BRANCH_PREFIX + manifests.dns_label(f"{change.model}-{change.stage}", 63)
        commit = self.ws.git.commit_files(head, texts, title(change))
        if commit is None:
            self.log("deploy/ already matches: no deploy PR needed")
            return
        self.ws.git.force_push_branch(remote, commit, branch)
        outcome.branch = branch
        self.log(f"pushed {branch} ({commit[:12]})")
        if self.host is None:
            self.log("no GitHub API (GITHUB_REPOSITORY/GITHUB_TOKEN): open the deploy PR by hand")
            return
        base = self.ws.git.default_branch(remote)
        existing = self.host.find_open_pull_request(branch)
        if existing is not None:
            pull = self.host.update_pull_request(existing.number, title(change), outcome.body)
        else:
            pull = self.host.create_pull_request(title(change), outcome.body, branch, base, [])
        outcome.pull_request_url = pull.html_url
        self.log(f"deploy PR: {pull.html_url}")
        if outcome.gate is not None:
            self._note_in_release(change.tag, change.stage, outcome.gate, pull.html_url)

    def _note_in_release(self, tag: str, stage: str, gate: GateResult, pull_url: str) -> None:
        """Add (or replace) the stage's gate results in the version's GitHub Release."""
        assert self.host is not None
        release = self.host.get_release_by_tag(tag)
        if release is None:
            return
        body = with_gate_section(release.body, stage, gate, pull_url)
        if body != release.body:
            self.host.update_release(release.id, release.name, body)
            self.log(f"gate results added to the release of {tag}")
