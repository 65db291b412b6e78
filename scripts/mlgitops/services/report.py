"""Build the PR report: which base, which metrics, which params, which history.

The base of each model is the merge-base of the head with the target branch. When the
merge-base has no metrics for a model (first PR, new model, renamed metrics file), the
last promoted version tag `<model>@vX.Y.Z` is the base instead, and the report says
so; when there is none either, the head values are shown alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgitops.core.chart import PlotChange, compare_plots
from mlgitops.core.diff import Directions, diff_metrics, diff_params
from mlgitops.core.markdown.escape import code
from mlgitops.core.markdown.report import HistoryPoint, ModelReport, Report, Revision
from mlgitops.core.metrics import with_dropped_values
from mlgitops.core.versioning import VersionEntry
from mlgitops.defaults import DEFAULT_HISTORY
from mlgitops.errors import InputError
from mlgitops.io.workspace import Workspace
from mlgitops.io.yaml_strict import parse_yaml, read_text

DEFAULT_POLICY = Path("governance/policy.yaml")
MAX_METRICS_BYTES = 16 * 1024 * 1024
DEFAULT_TARGETS = ("main", "master")
NO_BASE = Revision("none", None, "none")


@dataclass(frozen=True)
class ReportRequest:
    base: str | None = None  # target branch (or any ref); merge-base with head is used
    head: str | None = None  # None: the working tree (after `dvc repro`)
    policy: Path | None = None  # default governance/policy.yaml when present
    history: int = DEFAULT_HISTORY
    plots: bool = True  # which plot data changed; confusion matrices as tables


@dataclass(frozen=True)
class _Model:
    name: str
    metrics_file: str | None


def _models(ws: Workspace, rev: str | None) -> list[_Model]:
    artifacts = [a for a in ws.declared_models(rev) if a.metrics]
    if artifacts:
        return [_Model(a.name, a.metrics) for a in artifacts]
    return [_Model("metrics", None)]  # no registry entry: every DVC metric of the repo


def _metrics_file_at(ws: Workspace, rev: str, model: _Model) -> str | None:
    """The model's metrics file as declared at `rev` (it may have been renamed since)."""
    artifact = next((a for a in ws.declared_models(rev) if a.name == model.name), None)
    if artifact is not None and artifact.metrics:
        return artifact.metrics
    return model.metrics_file


def _metrics(ws: Workspace, rev: str | None, metrics_file: str | None) -> dict[str, Any] | None:
    found = ws.metrics(rev, (metrics_file,) if metrics_file else ())
    if rev is None and metrics_file:
        raw = _raw_metrics_file(ws.root, metrics_file)
        if raw:
            return with_dropped_values(found or {}, raw)
    return found


def _raw_metrics_file(root: Path, name: str) -> dict[str, Any] | None:
    """The working tree's metrics file as written, for the values DVC drops (null)."""
    path = root / name
    if path.suffix not in {".json", ".yaml", ".yml"} or not path.is_file():
        return None
    if not path.resolve().is_relative_to(root.resolve()):
        return None  # a path leading out of the repository is not read
    try:
        text = read_text(path, file=name, max_bytes=MAX_METRICS_BYTES)
        data = json.loads(text) if path.suffix == ".json" else parse_yaml(text, file=name).data
    except (InputError, ValueError):
        return None  # DVC has already said what is wrong with it
    return data if isinstance(data, dict) else None


def _promoted(ws: Workspace, model: str) -> list[VersionEntry]:
    """Registered versions of `model`, oldest first (deregistered ones left out)."""
    return [v for v in ws.history(model).versions if not v.deregistered]


def _directions(ws: Workspace, policy: Path | None) -> tuple[Directions, str | None]:
    """higher_is_better lookup from the policy, and a note when it cannot be used."""
    path = policy if policy is not None else ws.root / DEFAULT_POLICY
    if not path.is_absolute():
        path = ws.root / path
    if not path.exists():
        if policy is not None:
            raise InputError(f"policy file {policy} not found")
        return None, None
    from mlgitops.io.policy_loader import load_metric_directions

    try:
        directions = load_metric_directions(path)
    except InputError as error:
        return None, (
            f"The policy could not be read, so changes have no direction: {code(str(error))}"
        )
    lookup: Callable[[str], bool | None] = directions.get
    return lookup, None


def _target(request: ReportRequest, ws: Workspace) -> tuple[str, str] | None:
    """(name, commit) of the branch the PR targets."""
    if request.base:
        return ws.git.resolve(request.base)
    env_base = os.environ.get("GITHUB_BASE_REF")  # set on pull_request events
    for candidate in ([env_base] if env_base else []) + list(DEFAULT_TARGETS):
        try:
            return ws.git.resolve(candidate)
        except InputError:
            continue
    return None


def build_report(ws: Workspace, request: ReportRequest) -> Report:
    """Compare head with its base for every model of the repository."""
    notes: list[str] = []
    if ws.git.ensure_history():
        notes.append("The clone was shallow; its history and tags were fetched.")
    directions, policy_note = _directions(ws, request.policy)
    if policy_note:
        notes.append(policy_note)

    if request.head:
        head_name, head_sha = ws.git.resolve(request.head)
        head = Revision(head_name, head_sha, "ref")
        head_rev: str | None = head_sha
        head_commit: str | None = head_sha
    else:
        head_commit = ws.git.head()
        label = "working tree" + (
            " (uncommitted changes)" if head_commit and ws.git.is_dirty() else ""
        )
        head = Revision(label, head_commit, "workspace")
        head_rev = None

    target = _target(request, ws)
    merge_base = None
    if target is not None and head_commit is not None:
        merge_base = ws.git.merge_base(target[1], head_commit)
        if merge_base is None:
            raise InputError(
                f"'{target[0]}' and the head share no history: no merge-base to compare with"
            )
    base = Revision(target[0], merge_base, "merge-base") if target and merge_base else NO_BASE
    if target is None:
        notes.append(
            "No target branch found (pass `--base`); comparing with the last promoted versions."
        )

    wanted_models = _models(ws, head_rev)
    versions_of = {
        model.name: _promoted(ws, model.name) if model.name != "metrics" else []
        for model in wanted_models
    }
    keep = max(request.history, 0)
    recent = [
        v.commit for versions in versions_of.values() for v in versions[len(versions) - keep :]
    ]
    # dvc.yaml at every revision in one `git cat-file --batch`, then ONE DVC pass for the
    # metrics and params of every revision and the plots of the head and its base.
    ws.git.read_files((rev, "dvc.yaml") for rev in (merge_base, *recent) if rev)
    plots_of = [head_rev, merge_base] if request.plots else []
    ws.prefetch([head_rev, merge_base, *recent], plots_of=plots_of)

    models: list[ModelReport] = []
    fallback_rev: Revision | None = None
    for model in wanted_models:
        head_metrics = _metrics(ws, head_rev, model.metrics_file)
        versions = versions_of[model.name]
        model_base, base_metrics, note = base, None, None
        if merge_base is not None:
            base_metrics = _metrics(ws, merge_base, _metrics_file_at(ws, merge_base, model))
        if base_metrics is None:
            model_base, note = (
                NO_BASE,
                "No metrics at the merge-base and no promoted version yet: head values only.",
            )
            if merge_base is None:
                note = "No base revision and no promoted version yet: head values only."
            for version in reversed(versions):
                found = _metrics(ws, version.commit, _metrics_file_at(ws, version.commit, model))
                if found is not None:
                    model_base = Revision(version.tag, version.commit, "promoted")
                    base_metrics = found
                    where = code(base.label) if merge_base else "The base"
                    note = (
                        f"{where} has no metrics for this model; compared with the last "
                        f"promoted version {code(version.tag)}."
                    )
                    fallback_rev = fallback_rev or model_base
                    break
        if head_metrics is None:
            note = (note + " " if note else "") + (
                "The head has no metrics for this model: run `dvc repro` first."
            )
        history = []
        for version in versions[len(versions) - keep :] if keep else []:
            found = _metrics(ws, version.commit, _metrics_file_at(ws, version.commit, model))
            if found is not None:
                history.append(HistoryPoint(str(version.version), found))
        if history and head_metrics is not None:
            history.append(HistoryPoint("head", head_metrics))
        models.append(
            ModelReport(
                name=model.name,
                base=model_base,
                deltas=tuple(diff_metrics(base_metrics, head_metrics or {}, directions)),
                metrics_file=model.metrics_file,
                history=tuple(history),
                note=note,
            )
        )

    head_params = ws.params(head_rev) or {}
    params_base: Revision | None = None
    base_params = ws.params(merge_base) if merge_base else None
    if base_params is not None:
        params_base = base
    elif fallback_rev is not None and fallback_rev.sha:
        base_params = ws.params(fallback_rev.sha)
        params_base = fallback_rev if base_params is not None else None
    params = tuple(diff_params(base_params, head_params)) if params_base else ()

    plots: tuple[PlotChange, ...] = ()
    plots_base = params_base
    if request.plots:
        base_rev = plots_base.sha if plots_base else None
        plot_data = ws.plots([head_rev, base_rev] if base_rev else [head_rev])
        plots = tuple(
            compare_plots(plot_data.get(base_rev) if base_rev else None, plot_data[head_rev])
        )
    return Report(head, base, tuple(models), params, params_base, tuple(notes), plots, plots_base)
