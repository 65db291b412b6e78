"""Drift monitoring: load reference and current data, judge them, open or update one issue.

The reference is the data a promoted model was trained on: the DVC-tracked data file
(default `data/raw/data.csv`) at a git revision, usually a version tag such as
`churn-model@v1.2.0`. It is read with DVC's own API at that revision, so it comes
from the local cache or, in a fresh CI clone, from the DVC remote.

The current data is a CSV file or a folder of prediction logs, on disk or DVC-tracked
and not checked out yet (read through DVC like the reference); it is streamed in chunks
(`services.drift_sources`), whatever its size.

When drift exceeds the policy, one issue per model and data path is opened and,
on later runs, edited in place: it is found by a hidden marker in its body (and the
policy's issue label), never created twice while it is open. When a run finds no
drift, an open issue is left as it is: closing it is a person's decision.

Retraining: with `--retrain-branch NAME`, a run that finds drift or decay also bumps the
data version on a new local branch (`prepare_retraining`): the new data replaces the
reference data file, `dvc add` records its new hash in the `.dvc` file (its `meta:` such
as the license is kept), the pipeline is reproduced, and that is committed. Pushing it
and proposing it as a pull request is `services.retraining`.
"""

from __future__ import annotations

import io
import math
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from mlgitops.core.drift import DriftPolicy, DriftReport, StreamingDrift
from mlgitops.core.log_drift import LogWindow
from mlgitops.core.markdown.drift import (
    GITHUB_BODY_LIMIT,
    drift_marker,
    issue_title,
    render_markdown,
)
from mlgitops.core.monitoring import DecayRule, LogPolicy, MonitoringPolicy
from mlgitops.core.tags import parse_tag
from mlgitops.errors import InputError, Location, ToolError
from mlgitops.proc import dvc, git, run
from mlgitops.services.drift_sources import (
    CurrentSource,
    open_current,
    read_labels,
    read_reference_extras,
)
from mlgitops.serving.predlog import ReadStats

DEFAULT_POLICY_PATH = "governance/policy.yaml"
DEFAULT_DATA_PATH = "data/raw/data.csv"
# The reference (the training data of a version) is loaded whole, up to this size; the
# current side is streamed in chunks (services.drift_sources), whatever its size.
MAX_CSV_BYTES = 512 * 1024 * 1024

# `<model>#<stage>`: the version currently in a stage (GTO's tags add `#<counter>`).
_STAGE_REFERENCE = re.compile(r"^(?P<model>[A-Za-z0-9][A-Za-z0-9_/-]*)#(?P<stage>[A-Za-z0-9_-]+)$")


class IssueHost(Protocol):
    """The part of `mlgitops.github.client.GitHubHost` drift needs."""

    def authenticated_login(self) -> str: ...

    def find_open_issue(
        self, marker: str, label: str | None = None, author: str | None = None
    ) -> Any: ...

    def create_issue(self, title: str, body: str, labels: list[str]) -> Any: ...

    def edit_issue(self, number: int, body: str) -> Any: ...


# --------------------------------------------------------------------------- policy

_DRIFT_KEYS = {
    "psi_max",
    "ks_pvalue_min",
    "chi2_pvalue_min",
    "columns",
    "exclude",
    "categorical",
    "bins",
    "issue_label",
}


def load_drift_policy(path: Path, *, required: bool = False) -> DriftPolicy:
    """The `drift:` section of a policy file, with defaults for what it leaves out.

    A missing file gives the defaults unless `required` (the user named the file).
    The rest of the policy is validated by `mlgitops.io.policy_loader.load_policy`; the keys of
    `drift:` are checked here (see `DriftPolicy` for their meaning and defaults).
    """
    if not path.exists():
        if required:
            raise InputError("policy file not found", location=Location(str(path)))
        return DriftPolicy()
    from mlgitops.io.policy_loader import load_policy

    policy = load_policy(path)
    raw = policy.sections.get("drift")
    if raw is None:
        return DriftPolicy()
    return drift_policy_from_mapping(raw, lambda *key: policy.location("drift", *key))


def drift_policy_from_mapping(
    raw: Any, locate: Callable[..., Location | None] = lambda *key: None
) -> DriftPolicy:
    """Validate a `drift:` mapping; raise InputError at the offending key."""
    if not isinstance(raw, Mapping):
        raise InputError("'drift' must be a mapping of thresholds", location=locate())
    unknown = sorted(str(key) for key in raw if key not in _DRIFT_KEYS)
    if unknown:
        raise InputError(
            f"unknown drift key '{unknown[0]}'",
            location=locate(unknown[0]),
            hint=f"known keys: {', '.join(sorted(_DRIFT_KEYS))}",
        )

    def number(key: str, default: float, low: float, high: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"'{key}' must be a number", location=locate(key))
        if not (low <= value <= high) or (isinstance(value, float) and math.isnan(value)):
            raise InputError(f"'{key}' must be between {low:g} and {high:g}", location=locate(key))
        return float(value)

    def names(key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"'{key}' must be a list of column names", location=locate(key))
        return tuple(value)

    columns: tuple[str, ...] | None = None
    if raw.get("columns", "all") != "all":
        columns = names("columns")
    bins = raw.get("bins", 10)
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 100:
        raise InputError("'bins' must be an integer from 2 to 100", location=locate("bins"))
    label = raw.get("issue_label", "drift")
    if not isinstance(label, str) or not label.strip() or len(label) > 50:
        raise InputError(
            "'issue_label' must be a label name of 1 to 50 characters",
            location=locate("issue_label"),
        )
    return DriftPolicy(
        psi_max=number("psi_max", 0.2, 0.0, 1e6),
        ks_pvalue_min=number("ks_pvalue_min", 0.01, 0.0, 1.0),
        chi2_pvalue_min=number("chi2_pvalue_min", 0.01, 0.0, 1.0),
        columns=columns,
        exclude=names("exclude"),
        categorical=names("categorical"),
        bins=bins,
        issue_label=label,
    )


def load_monitoring_policy(path: Path) -> MonitoringPolicy:
    """The `monitoring:` section (validated by the policy schema), defaults when absent."""
    if not path.exists():
        return MonitoringPolicy()
    from mlgitops.io.policy_loader import load_policy

    raw = load_policy(path).sections.get("monitoring")
    return monitoring_policy_from_mapping(raw or {})


def monitoring_policy_from_mapping(raw: Mapping[str, Any]) -> MonitoringPolicy:
    """A schema-valid `monitoring:` mapping as a `MonitoringPolicy`."""
    latency = raw.get("latency") or {}
    decay = tuple(
        DecayRule(str(name), absolute=rule.get("absolute"), relative=rule.get("relative"))
        for name, rule in (raw.get("decay") or {}).items()
    )
    return MonitoringPolicy(
        log=LogPolicy.from_dict(raw.get("log") or {}),
        min_samples=int(raw.get("min_samples", 1)),
        prediction_drift=bool(raw.get("prediction_drift", True)),
        decay=decay,
        latency_p50_ms=latency.get("p50_ms"),
        latency_p99_ms=latency.get("p99_ms"),
        retrain_label=str(raw.get("retrain_label", "retrain")),
    )


# --------------------------------------------------------------------------- data


def repo_root(start: Path) -> Path:
    """The top of the git work tree that holds `start`."""
    top = git(
        "rev-parse",
        "--show-toplevel",
        cwd=start,
        check=False,
    )
    if not top or not Path(top).is_dir():
        raise InputError(
            "not inside a git repository", location=Location(str(start)), hint="run it in the repo"
        )
    return Path(top)


def resolve_revision(repo: Path, reference: str) -> str:
    """The commit of a revision: a tag, branch or commit, or `<model>#<stage>`.

    `<model>#<stage>` (e.g. `churn-model#production`) is the version the model's GTO
    tags currently assign to that stage, so a scheduled job needs no version number.
    """
    if not reference or reference.startswith("-"):
        raise InputError(f"not a git revision: {reference!r}")
    sha = git("rev-parse", "--verify", "--quiet", f"{reference}^{{commit}}", cwd=repo, check=False)
    stage = _STAGE_REFERENCE.match(reference)
    if not sha and stage:  # an existing tag of that name (old GTO style) wins
        return _stage_commit(repo, stage.group("model"), stage.group("stage"))
    if not sha:
        raise InputError(
            f"unknown revision '{reference}'",
            hint="give a version tag such as '<model>@v1.0.0', '<model>#<stage>' or a commit; "
            "in CI check out with 'fetch-depth: 0' so that tags are present",
        )
    return sha


def _stage_commit(repo: Path, model: str, stage: str) -> str:
    from mlgitops.core.versioning import build_history
    from mlgitops.io.git import Git

    history = build_history(model, Git(repo).tag_refs())
    version = history.current(stage)
    entry = history.find(version) if version is not None else None
    if entry is None:
        raise InputError(
            f"no version of '{model}' is in stage '{stage}'",
            hint=f"promote one first ('mlgitops promote'), or check 'mlgitops history {model}'",
        )
    return entry.commit


def model_from_reference(reference: str) -> str | None:
    """The model of a GTO tag (`m@v1.0.0`, `m#prod#1`) or a `m#prod` reference, else None."""
    parsed = parse_tag(reference)
    if parsed is not None:
        return parsed.artifact
    stage = _STAGE_REFERENCE.match(reference)
    return stage.group("model") if stage else None


def _parse_csv(text: str, name: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise InputError("the CSV file is empty", location=Location(name)) from None
    except pd.errors.ParserError as error:
        raise InputError(f"not a valid CSV file: {error}", location=Location(name)) from None
    if len(frame.columns) != len(set(frame.columns)):
        raise InputError("duplicate column names", location=Location(name))
    return frame


def _decode(data: bytes, name: str) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise InputError(
            f"file is {len(data)} bytes, over the limit of {MAX_CSV_BYTES}",
            location=Location(name),
            hint="sample the current data before comparing",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start})", location=Location(name)) from None


def read_dvc_bytes(repo: Path, path: str, rev: str | None, *, rev_name: str | None = None) -> bytes:
    """A file of the repository at `rev` (None: the work tree), through DVC's API.

    DVC serves git-tracked files too; DVC-tracked ones come from the cache or the remote.
    """
    import dvc.api
    from dvc.exceptions import DvcException, PathMissingError

    where = f"{path} at {rev_name or rev[:12]}" if rev else path
    try:
        data = dvc.api.read(path, repo=str(repo), rev=rev, mode="rb")
    except (PathMissingError, FileNotFoundError):
        if _tracked_by_dvc(repo, path, rev):
            # DVC reports data it cannot download as a missing path: say what it is.
            raise ToolError(
                f"DVC-tracked '{path}' at {rev_name or rev or 'the work tree'} is in neither "
                "the DVC cache nor the remote",
                hint="push the data of every promoted version ('dvc push --all-tags'), and "
                "check the remote settings and credentials of this checkout",
            ) from None
        raise InputError(
            f"'{path}' does not exist in the repository"
            + (f" at revision {rev[:12]}" if rev else ""),
            hint="pass --reference-path for data stored elsewhere",
        ) from None
    except DvcException as error:
        raise ToolError(
            f"DVC could not read {where}: {error}",
            hint="check that the DVC remote is configured and reachable ('dvc pull' works)",
        ) from None
    if not isinstance(data, bytes):
        raise ToolError(f"DVC returned text instead of bytes for {where}")
    return data


def _tracked_by_dvc(repo: Path, path: str, rev: str | None) -> bool:
    """Whether `path.dvc` exists at `rev` (None: in the work tree)."""
    if rev is None:
        return (repo / f"{path}.dvc").is_file()
    return run(["git", "cat-file", "-e", f"{rev}:{path}.dvc"], repo, check=False).returncode == 0


def read_reference(repo: Path, rev: str, path: str, rev_name: str | None = None) -> pd.DataFrame:
    """The reference CSV: `path` as committed at `rev`."""
    name = f"{path}@{rev_name or rev[:12]}"
    return _parse_csv(_decode(read_dvc_bytes(repo, path, rev, rev_name=rev_name), name), name)


# --------------------------------------------------------------------------- service


@dataclass(frozen=True)
class DriftRun:
    """What one `mlgitops drift` run found and rendered."""

    report: DriftReport
    model: str | None
    marker: str
    reference_sha: str
    source: CurrentSource | None = None
    reference_frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)


def run_drift(
    repo: Path,
    reference: str,
    current: str,
    policy: DriftPolicy,
    *,
    reference_path: str = DEFAULT_DATA_PATH,
    model: str | None = None,
    cwd: Path | None = None,
    monitoring: MonitoringPolicy | None = None,
    labels_path: str | None = None,
) -> DriftRun:
    """Load the reference, stream the current side through it; no GitHub calls here."""
    monitoring = monitoring or MonitoringPolicy()
    cwd = cwd or repo
    sha = resolve_revision(repo, reference)
    reference_frame = read_reference(repo, sha, reference_path, rev_name=reference)
    source = open_current(repo, current, cwd)
    model = model or model_from_reference(reference)
    names = {"reference": f"{reference}:{reference_path}", "current": current}
    if source.kind == "csv":
        if labels_path:
            raise InputError(
                "--labels joins prediction logs on request id; the current data is a CSV",
                location=Location(labels_path),
            )
        drift = StreamingDrift(reference_frame, policy)
        for chunk in source.csv_chunks():
            drift.update(chunk)
        if drift.rows == 0:
            raise InputError("the current data has no rows", location=Location(current))
        report = replace(drift.finish(names), min_samples=monitoring.min_samples)
    else:
        predictions, metrics, classification = read_reference_extras(
            lambda path: read_dvc_bytes(repo, path, sha, rev_name=reference)
        )
        labels = None
        if labels_path:
            labels = read_labels(cwd / labels_path, labels_path)
        window = LogWindow(
            reference_frame,
            policy,
            monitoring,
            reference_predictions=predictions,
            classification=True if classification is None else classification,
            reference_metrics=metrics,
            labels=labels,
        )
        stats = ReadStats()
        for records in source.records(stats):
            window.add(records)
        report = window.finish(names, log=asdict(stats))
    key = f"{model or 'data'}:{reference_path}"
    return DriftRun(
        report=report,
        model=model,
        marker=drift_marker(key),
        reference_sha=sha,
        source=source,
        reference_frame=reference_frame,
    )


def issue_body(run: DriftRun, run_url: str | None = None) -> str:
    """The drift issue's body: the report plus where it came from."""
    footer = (
        "This issue is updated in place by `mlgitops drift` on each run that finds drift. "
        "Retrain on fresh data, or adjust `drift:` in `governance/policy.yaml` through a "
        "reviewed pull request, then close it."
    )
    if run_url:
        footer += f" Last run: {run_url}"
    room = GITHUB_BODY_LIMIT - len(footer) - 16
    body = render_markdown(run.report, marker=run.marker, max_chars=room)
    return f"{body}\n---\n{footer}\n"


def publish_issue(host: IssueHost, run: DriftRun, run_url: str | None = None) -> tuple[Any, bool]:
    """Open the drift issue, or edit the open one; returns (issue, created)."""
    label = run.report.policy.issue_label
    body = issue_body(run, run_url)
    # Found by marker and author, not by label: an issue whose label was removed must not
    # be duplicated, and a marker pasted into somebody else's issue must not capture us.
    existing = host.find_open_issue(run.marker, author=host.authenticated_login())
    if existing is not None:
        return host.edit_issue(existing.number, body), False
    return host.create_issue(issue_title(run.model, run.report), body, [label]), True


# --------------------------------------------------------------------------- retraining


def check_retraining(repo: Path, current_file: Path | None, branch: str) -> None:
    """Refuse, before any work, what `prepare_retraining` could not do safely.

    An invalid or existing branch, uncommitted changes to tracked files (they would be
    carried onto the branch) or current data that is not a file on disk (None: the
    data is built later, from prediction logs and labels).
    """
    if run(["git", "check-ref-format", "--branch", branch], repo, check=False).returncode:
        raise InputError(f"'{branch}' is not a valid branch name")
    if git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=repo, check=False):
        raise InputError(
            f"branch '{branch}' already exists", hint="pick a new name, e.g. with the date"
        )
    if git("status", "--porcelain", "--untracked-files=no", cwd=repo):
        raise InputError(
            "the work tree has uncommitted changes; commit or discard them first",
            location=Location(str(repo)),
        )
    if current_file is not None and not current_file.is_file():
        raise InputError(
            "a retraining branch needs --current to be a CSV file on disk",
            location=Location(str(current_file)),
        )


# Commits made where git has no identity (a CI runner) are the Actions bot's.
BOT_IDENTITY = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


def prepare_retraining(
    repo: Path, current_file: Path, data_path: str, branch: str, *, message: str
) -> str:
    """Commit `current_file` as the new version of `data_path` on a new branch.

    Returns the new commit. The `.dvc` file keeps its `meta:` (license, source); the data
    itself goes to the DVC cache, to be pushed by the caller. With a `dvc.yaml`, the
    pipeline is reproduced on the new data and its tracked results (dvc.lock, metrics,
    model card) are committed too, so the pull request's report and governance checks
    see a branch whose results come from its own data.
    """
    check_retraining(repo, current_file, branch)
    target = repo / data_path
    git("switch", "--quiet", "--create", branch, cwd=repo)
    if not target.exists() or not target.samefile(current_file):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(current_file, target)
    dvc("add", "--quiet", data_path, cwd=repo)
    git("add", f"{data_path}.dvc", cwd=repo)
    if not git("diff", "--cached", "--name-only", cwd=repo):
        git("switch", "--quiet", "-", cwd=repo)
        git("branch", "--quiet", "-D", branch, cwd=repo)
        raise InputError(
            f"the current data is identical to the committed '{data_path}': nothing to retrain on"
        )
    if (repo / "dvc.yaml").is_file():
        dvc("repro", "--quiet", cwd=repo)
        git("add", "--update", cwd=repo)
    identity: list[str] = []
    if not git("config", "user.email", cwd=repo, check=False):
        identity = ["-c", f"user.name={BOT_IDENTITY[0]}", "-c", f"user.email={BOT_IDENTITY[1]}"]
    git(*identity, "commit", "--quiet", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)
