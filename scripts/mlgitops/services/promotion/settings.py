"""What the policy says about releases: the default bump and the stage order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgitops.core.versioning import Bump, parse_bump
from mlgitops.errors import InputError, Location

if TYPE_CHECKING:
    from mlgitops.core.policy import Policy

POLICY_FILE = "governance/policy.yaml"


@dataclass(frozen=True)
class ReleaseSettings:
    default_bump: Bump = Bump.MINOR
    stages: tuple[str, ...] = ("staging", "production")

    def check_stage(self, stage: str) -> None:
        if stage not in self.stages:
            raise InputError(
                f"unknown stage {stage!r}: the policy's release.stages are "
                f"{', '.join(self.stages)}",
                location=Location(POLICY_FILE, key="release.stages"),
            )


def read_policy(root: Path) -> Policy | None:
    """governance/policy.yaml, validated; None when the repository has none. Read once
    per command: release settings and the deploy section both come from this one."""
    path = root / POLICY_FILE
    if not path.exists():
        return None
    from mlgitops.io.policy_loader import load_policy

    return load_policy(path, file=POLICY_FILE)


def release_settings(policy: Policy | None) -> ReleaseSettings:
    """`release.default_bump` and `release.stages` of the policy (defaults without one)."""
    if policy is None:
        return ReleaseSettings()
    try:
        bump = parse_bump(policy.release.default_bump)
    except ValueError as error:
        raise InputError(str(error), location=policy.location("release", "default_bump")) from None
    return ReleaseSettings(bump, tuple(policy.release.stages))
