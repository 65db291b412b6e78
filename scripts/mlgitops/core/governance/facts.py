"""What the governance rules look at, gathered by `mlgitops.services.governance`.

Plain data: building these in a test is how a rule is exercised without a repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlgitops.core.governance.codeowners import CodeownersRule
from mlgitops.core.governance.results import Finding
from mlgitops.core.model_card import CardMetric, ModelCard


@dataclass(frozen=True)
class ParamChange:
    key: str  # dotted, e.g. train.n_estimators
    base: Any
    head: Any
    line: int | None


@dataclass(frozen=True)
class MetricsFacts:
    """Head metrics (from the workspace) and base metrics (None: no base to compare)."""

    file: str
    head: Mapping[str, Any] | None
    base: Mapping[str, Any] | None = None
    base_label: str | None = None
    problem: str | None = None  # why head is None
    params_file: str = "params.yaml"
    changed_params: tuple[ParamChange, ...] = ()


@dataclass(frozen=True)
class FairnessFacts:
    file: str
    column: str | None = None
    metric: str | None = None
    groups: Mapping[str, Mapping[str, Any]] | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ModelCardFacts:
    file: str
    card: ModelCard | None = None
    problem: Finding | None = None  # unreadable, no front matter, not strict YAML
    schema_problems: tuple[Finding, ...] = ()
    metrics: tuple[CardMetric, ...] = ()


@dataclass(frozen=True)
class GitFile:
    path: str
    size: int  # bytes


@dataclass(frozen=True)
class DvcFile:
    path: str
    license: Any  # meta.license as written; None when absent
    line: int | None  # line of meta.license (or of the file start)
    # Where people state this data's license when `mlgitops init` writes meta.license
    # (data/dataset.yaml for the template's data/raw/data.csv.dvc); None: the .dvc itself.
    stated_in: str | None = None


@dataclass(frozen=True)
class DataFacts:
    git_files: tuple[GitFile, ...]
    dvc_files: tuple[DvcFile, ...]
    dvc_status: Mapping[str, Any] | None = None  # `dvc status --json`; None: not checked
    # how HEAD's dvc.lock / tracked outputs differ from the workspace (see the service)
    lock_drift: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeFacts:
    changed_files: tuple[str, ...] | None  # None: no base to diff against
    labels: tuple[str, ...]
    labels_source: str  # "event payload", "--labels", "none"
    base_label: str | None = None
    codeowners_file: str | None = None
    codeowners: tuple[CodeownersRule, ...] = ()


@dataclass(frozen=True)
class ModelFacts:
    """Metrics and card of one more model (a second `artifacts:` entry of dvc.yaml)."""

    name: str
    metrics: MetricsFacts
    model_card: ModelCardFacts | None = None


@dataclass(frozen=True)
class GovernanceFacts:
    """Everything the rules look at. `metrics`/`model_card` are those of the first (often
    only) model; `model` names it when the repository declares several (`more_models`)."""

    metrics: MetricsFacts
    fairness: FairnessFacts | None = None
    model_card: ModelCardFacts | None = None
    data: DataFacts | None = None
    change: ChangeFacts | None = None
    model: str | None = None
    more_models: tuple[ModelFacts, ...] = ()
