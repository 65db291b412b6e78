"""The governance policy as data, and where each of its keys was written.

Built by `mlgitops.io.policy_loader` from `governance/policy.yaml`, or directly in code
(tests, other front ends): nothing here parses YAML or validates a schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlgitops.defaults import DEFAULT_POLICY_PATH
from mlgitops.errors import Location

POLICY_VERSIONS = (1,)

PathKey = tuple[str | int, ...]


def dotted(path: Sequence[str | int]) -> str:
    """`('metrics', 'accuracy', 'min')` -> `metrics.accuracy.min`; indices as `[0]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


@dataclass(frozen=True)
class SourceMap:
    """The file a value came from and the line (1-based) of every key path in it."""

    file: str
    lines: Mapping[PathKey, int] = field(default_factory=dict)

    def line_of(self, *path: str | int) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        key: PathKey = tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def location(self, *path: str | int) -> Location:
        """`file:line (key 'a.b')` for annotations and error messages."""
        return Location(self.file, self.line_of(*path), dotted(path) or None)


@dataclass(frozen=True)
class MaxRegression:
    """Largest allowed worsening vs the base, in metric units or as a fraction of the base."""

    kind: str  # "absolute" | "relative"
    amount: float


@dataclass(frozen=True)
class MetricRule:
    name: str
    higher_is_better: bool
    min: float | None = None
    max: float | None = None
    max_regression: MaxRegression | None = None


@dataclass(frozen=True)
class FairnessPolicy:
    metric: str
    max_gap: float
    report: str = "reports/fairness.json"
    min_group_size: int = 0


@dataclass(frozen=True)
class ModelCardPolicy:
    path: str = "MODEL_CARD.md"
    required_sections: tuple[str, ...] = ()
    metrics_must_match: bool = True


@dataclass(frozen=True)
class DataPolicy:
    allowed_licenses: tuple[str, ...] | None = None  # None: licenses are not checked
    max_git_file_kb: float = 512
    dataset_paths: tuple[str, ...] = ("data/",)
    require_clean_dvc_status: bool = True


@dataclass(frozen=True)
class ChangeControlPolicy:
    protected_paths: tuple[str, ...]
    approval_label: str = "governance-approved"
    accept_codeowners_review: bool = False


@dataclass(frozen=True)
class ReleasePolicy:
    default_bump: str = "minor"
    stages: tuple[str, ...] = ("staging", "production")


@dataclass(frozen=True)
class Policy:
    """A validated policy.

    `source` locates its keys for annotations (empty when built in code); `sections` keeps
    the top-level mappings as written, for sections read elsewhere (`drift:`).
    """

    version: int
    metrics: Mapping[str, MetricRule]
    source: SourceMap = SourceMap(DEFAULT_POLICY_PATH)
    fairness: FairnessPolicy | None = None
    model_card: ModelCardPolicy | None = None
    data: DataPolicy | None = None
    change_control: ChangeControlPolicy | None = None
    release: ReleasePolicy = ReleasePolicy()
    sections: Mapping[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.source.file

    def metric_direction(self, name: str) -> bool | None:
        """True if higher is better, False if lower is better, None if the policy is silent."""
        rule = self.metrics.get(name)
        return None if rule is None else rule.higher_is_better

    def line_of(self, *path: str | int) -> int | None:
        return self.source.line_of(*path)

    def location(self, *path: str | int) -> Location:
        return self.source.location(*path)
