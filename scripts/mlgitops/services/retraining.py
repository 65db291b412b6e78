"""The retraining pull request: new data on a branch, pushed, proposed, linked to the issue.

When drift or decay is over the policy, `mlgitops drift --retrain-branch B
--open-pull-request` (1) commits the current data as the new version of the data file
on branch B (`services.drift.prepare_retraining`: `dvc add`, and `dvc repro` so that
the branch carries its own metrics and a matching dvc.lock), (2) pushes the DVC data
to the remote and the branch to `origin`, (3) opens a pull request from B, or updates
the open one, labelled with `monitoring.retrain_label`, and (4) links it from the drift
issue.

The branch belongs to the bot: each run rebuilds it from the base branch and pushes it
with a lease on the tip it saw, so a run replaces its own earlier proposal (the pull
request is updated, never duplicated) but fails instead of overwriting a push it did
not see. The pull request is found by its head branch and the bot's login.

From prediction logs, the new data is the reference data plus every labelled logged
row (inputs and label, the label under the target's name); rows whose inputs the log
left out or hashed cannot be training data and are counted, not used.
"""

from __future__ import annotations

import base64
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlgitops.core.log_drift import record_key
from mlgitops.core.markdown.escape import code
from mlgitops.errors import InputError, ToolError
from mlgitops.proc import dvc, git, run
from mlgitops.services.drift import DriftRun
from mlgitops.services.drift_sources import label_column, read_labels
from mlgitops.serving.predlog import ReadStats

RETRAIN_MARKER_PREFIX = "<!-- mlgitops:retrain"


class PullHost(Protocol):
    """The part of `mlgitops.github.client.GitHubHost` the retraining pull request needs."""

    def authenticated_login(self) -> str: ...

    def find_open_pull_request(self, head: str, author: str | None = None) -> Any: ...

    def create_pull_request(
        self, title: str, body: str, head: str, base: str, labels: list[str]
    ) -> Any: ...

    def update_pull_request(self, number: int, title: str, body: str) -> Any: ...

    def edit_issue(self, number: int, body: str) -> Any: ...


@dataclass(frozen=True)
class RetrainingData:
    """The CSV to commit as the new data version, and what went into it."""

    path: Path
    added_rows: int
    unusable_rows: int = 0


def retraining_data_from_logs(
    run_: DriftRun,
    labels_path: Path,
    labels_name: str,
    target_dir: Path,
    hashed: tuple[str, ...] = (),
) -> RetrainingData:
    """The reference data plus the labelled logged rows, written as one CSV (streamed).

    A row is unusable when an input of the training data is missing from its record or
    is one the policy hashes (`hashed`: a digest is no training value)."""
    if run_.source is None or run_.reference_frame is None:
        raise InputError("no prediction logs to build retraining data from")
    reference = run_.reference_frame
    target = label_column(labels_path)
    columns = [str(c) for c in reference.columns]
    if target not in columns:
        raise InputError(
            f"the label column '{target}' is not a column of the reference data",
            hint="name the label column of the labels CSV after the target column",
        )
    features = [c for c in columns if c != target]
    labels = read_labels(labels_path, labels_name)
    out = target_dir / "retraining-data.csv"
    reference.to_csv(out, index=False)
    added = unusable = 0
    used: set[tuple[str, int]] = set()
    with out.open("a", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        for records in run_.source.records(ReadStats()):
            for record in records:
                key = record_key(record)
                if key not in labels or key in used:
                    continue
                used.add(key)
                inputs = record.get("inputs") or {}
                if any(name not in inputs or name in hashed for name in features):
                    unusable += 1
                    continue
                row = {**inputs, target: labels[key]}
                writer.writerow(["" if row[c] is None else row[c] for c in columns])
                added += 1
    if not added:
        raise InputError(
            "no labelled logged row has every input of the training data: nothing to retrain on",
            hint="log the model's inputs (monitoring.log) and give labels for logged requests",
        )
    return RetrainingData(out, added, unusable)


# --------------------------------------------------------------------------- push


def _auth_env(repo: Path, remote: str, server_url: str, token: str | None) -> dict[str, str]:
    """Git config, through the environment, that sends `token` to `server_url` only.

    The checkout keeps no credentials (`persist-credentials: false`); the header
    lives in this one `git push` process and is never written to disk.
    """
    url = git("remote", "get-url", remote, cwd=repo, check=False)
    if not token or not url.startswith(server_url.rstrip("/") + "/"):
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{server_url.rstrip('/')}/.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def push_retraining(
    repo: Path,
    branch: str,
    *,
    remote: str = "origin",
    server_url: str = "https://github.com",
    token: str | None = None,
) -> None:
    """`dvc push` the branch's data and outputs, then push the branch with a lease."""
    dvc("push", "--quiet", cwd=repo)
    env = _auth_env(repo, remote, server_url, token)
    seen = run(
        ["git", "ls-remote", "--heads", remote, f"refs/heads/{branch}"], repo, env=env
    ).stdout.split()
    lease = f"refs/heads/{branch}:{seen[0] if seen else ''}"
    pushed = run(
        [
            "git",
            "push",
            "--quiet",
            f"--force-with-lease={lease}",
            remote,
            f"HEAD:refs/heads/{branch}",
        ],
        repo,
        env=env,
        check=False,
    )
    if pushed.returncode:
        raise ToolError(
            f"could not push branch '{branch}' to {remote}: {pushed.stderr.strip()}",
            hint="the token needs 'contents: write'; a push to the branch by someone else "
            "since this run read it is not overwritten: re-run",
        )


# --------------------------------------------------------------------------- pull request


def retrain_marker(run_: DriftRun) -> str:
    return run_.marker.replace("<!-- mlgitops:drift", RETRAIN_MARKER_PREFIX, 1)


def pull_request_body(
    run_: DriftRun, *, reference: str, data_path: str, issue_number: int | None, rows: str
) -> str:
    """The retraining pull request's body (fixed wording; names as inline code)."""
    report = run_.report
    reasons = []
    if report.drifted:
        names = [c.column for c in report.drifted_columns] + list(report.missing_columns)
        if report.prediction is not None and report.prediction.drifted:
            names.append("(predictions)")
        shown = ", ".join(code(name) for name in names[:10])
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        reasons.append(f"drift in {shown}{more}")
    if report.decayed:
        failed = [c.metric for c in report.decay if c.failed]
        reasons.append("performance decay in " + ", ".join(f"`{m}`" for m in failed))
    lines = [
        retrain_marker(run_),
        f"Monitoring found {' and '.join(reasons) or 'drift'} against {code(reference)}.",
        "",
        f"This branch replaces {code(data_path)} with {rows} (tracked by DVC, pushed to the "
        "remote) and retrains the pipeline (`dvc repro`). The report and governance checks "
        "of this pull request compare the retrained model with the base branch; merge it "
        "like any other to promote a new version.",
    ]
    if issue_number is not None:
        lines += ["", f"Refs #{issue_number}"]
    lines += [
        "",
        "---",
        "Updated in place by `mlgitops drift` on each run that finds drift; the branch is "
        "rebuilt from the base branch each time.",
    ]
    return "\n".join(lines) + "\n"


def publish_pull_request(
    host: PullHost,
    run_: DriftRun,
    *,
    branch: str,
    base: str,
    label: str,
    body: str,
) -> tuple[Any, bool]:
    """Open the retraining pull request, or update the open one; (pull request, created)."""
    title = f"Retrain {run_.model or 'the model'} on current data"
    existing = host.find_open_pull_request(branch, author=host.authenticated_login())
    if existing is not None:
        return host.update_pull_request(existing.number, title, body), False
    return host.create_pull_request(title, body, branch, base, [label]), True


def link_issue(host: PullHost, issue_number: int, issue_body: str, pull: Any) -> None:
    """Name the retraining pull request in the drift issue's body."""
    host.edit_issue(
        issue_number, f"{issue_body.rstrip()}\n\nRetraining pull request: #{pull.number}\n"
    )


@dataclass(frozen=True)
class Retraining:
    """What `propose_retraining` did: the branch and commit, and the pull request."""

    branch: str
    commit: str
    pull: Any = None
    created: bool = False


def propose_retraining(
    repo: Path,
    run_: DriftRun,
    *,
    branch: str,
    data_path: str,
    reference: str,
    current_file: Path | None,
    labels: tuple[Path, str] | None,
    hashed: tuple[str, ...] = (),
    base: str,
    push: bool,
    host: PullHost | None,
    label: str,
    issue: Any = None,
    issue_text: str | None = None,
    server_url: str = "https://github.com",
    token: str | None = None,
) -> Retraining:
    """Commit the new data on `branch`; push it; open or update the pull request (host)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlgitops-retrain-") as scratch:
        if current_file is not None:
            source, rows = current_file, "the current data"
        elif labels is not None:
            data = retraining_data_from_logs(
                run_, labels[0], labels[1], Path(scratch), hashed=hashed
            )
            source = data.path
            rows = f"the reference data and {data.added_rows} labelled logged rows" + (
                f" ({data.unusable_rows} more lacked logged inputs)" if data.unusable_rows else ""
            )
        else:
            raise InputError("retraining from prediction logs needs --labels")
        from mlgitops.services.drift import prepare_retraining

        subject = run_.model or "the model"
        why = f"{run_.report.verdict} against {reference}"
        commit = prepare_retraining(
            repo, source, data_path, branch, message=f"Retrain {subject} on current data ({why})"
        )
    if push or host is not None:
        push_retraining(repo, branch, server_url=server_url, token=token)
    if host is None:
        return Retraining(branch, commit)
    body = pull_request_body(
        run_,
        reference=reference,
        data_path=data_path,
        issue_number=None if issue is None else int(issue.number),
        rows=rows,
    )
    pull, created = publish_pull_request(
        host, run_, branch=branch, base=base, label=label, body=body
    )
    if issue is not None and issue_text is not None:
        link_issue(host, int(issue.number), issue_text, pull)
    return Retraining(branch, commit, pull, created)
