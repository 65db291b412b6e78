"""The policy's `deploy:` section as a frozen dataclass (defaults as in the schema)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_RESOURCES = {"cpu": "1", "memory": "2Gi"}


@dataclass(frozen=True)
class LoadTest:
    requests: int = 200
    concurrency: int = 2
    max_seconds: float = 60.0


@dataclass(frozen=True)
class DeploySettings:
    namespace: str = "models"
    runtime: str = "kserve-mlserver"
    service_account: str | None = None
    requests: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_RESOURCES))
    limits: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_RESOURCES))
    min_replicas: int = 1
    max_replicas: int = 1
    canary_traffic_percent: int = 100
    canary_stages: tuple[str, ...] = ("production",)
    gate_stages: tuple[str, ...] = ("production",)
    auto_stage: str | None = None
    latency_p99_ms: float = 500.0
    load_test: LoadTest = LoadTest()

    def gated(self, stage: str) -> bool:
        return stage in self.gate_stages

    def canary(self, stage: str) -> int | None:
        """The canary share of a new version in `stage`; None when it gets all traffic."""
        if stage in self.canary_stages and self.canary_traffic_percent < 100:
            return self.canary_traffic_percent
        return None


def deploy_settings(section: Mapping[str, Any] | None) -> DeploySettings:
    """Settings from a schema-validated `deploy:` mapping (None: all defaults)."""
    raw = dict(section or {})
    resources = raw.get("resources") or {}
    load = raw.get("load_test") or {}
    return DeploySettings(
        namespace=raw.get("namespace", "models"),
        runtime=raw.get("runtime", "kserve-mlserver"),
        service_account=raw.get("service_account"),
        requests=dict(resources.get("requests", DEFAULT_RESOURCES)),
        limits=dict(resources.get("limits", DEFAULT_RESOURCES)),
        min_replicas=int(raw.get("min_replicas", 1)),
        max_replicas=int(raw.get("max_replicas", 1)),
        canary_traffic_percent=int(raw.get("canary_traffic_percent", 100)),
        canary_stages=tuple(raw.get("canary_stages", ("production",))),
        gate_stages=tuple(raw.get("gate_stages", ("production",))),
        auto_stage=raw.get("auto_stage"),
        latency_p99_ms=float(raw.get("latency_p99_ms", 500)),
        load_test=LoadTest(
            requests=int(load.get("requests", 200)),
            concurrency=int(load.get("concurrency", 2)),
            max_seconds=float(load.get("max_seconds", 60)),
        ),
    )
