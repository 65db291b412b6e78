"""Rebuild a version from scratch and compare it with what the tag recorded.

A clean `git clone` checked out at the tag's commit, a DVC cache that starts EMPTY, the
inputs (`.dvc`-tracked data) pulled from the DVC remote, then `dvc repro --force`: every
stage runs, nothing is reused from a cache or a run-cache. The rebuilt dvc.lock's output
hashes are then compared with the tag's (reproducibility.compare_rebuild).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from mlgitops.attest.reproducibility import RebuildReport, compare_rebuild
from mlgitops.attest.sources import scratch, write_isolated_config
from mlgitops.core.markdown.release import DataHash, data_hashes_from_lock
from mlgitops.errors import InputError, Location, ToolError
from mlgitops.proc import run


def _lock_hashes(path: Path) -> list[DataHash]:
    try:
        return data_hashes_from_lock(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"cannot read dvc.lock: {error}", location=Location(str(path))) from error


def _metrics_files(work: Path) -> list[str]:
    """The `metrics:` outputs of dvc.yaml's stages (relative paths)."""
    try:
        stages = (yaml.safe_load((work / "dvc.yaml").read_text(encoding="utf-8")) or {}).get(
            "stages"
        ) or {}
    except (OSError, yaml.YAMLError):
        return []
    found = []
    for stage in stages.values():
        for entry in (stage or {}).get("metrics") or ():
            found += list(entry) if isinstance(entry, dict) else [str(entry)]
    return found


def _read_metrics(work: Path, names: list[str]) -> dict[str, Any]:
    values = {}
    for name in names:
        try:
            values[name] = json.loads((work / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return values


def rebuild(
    repo: Path, commit: str, remote: str, *, tolerance: float = 0.0, log: Any = print
) -> RebuildReport:
    """Rebuild `commit` in a scratch clone with an empty cache; compare its outputs."""
    with scratch("mlgitops-rebuild-") as place:
        work = place / "clone"
        run(["git", "clone", "--quiet", "--no-checkout", "--no-hardlinks", str(repo), str(work)],
            place)  # fmt: skip
        run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", commit], work)
        original = _lock_hashes(work / "dvc.lock")
        metric_names = _metrics_files(work)
        metrics_original = _read_metrics(work, metric_names)
        write_isolated_config(repo, work, place / "cache", remote)
        # No run-cache either: --force re-runs every stage, --no-run-cache ignores saved runs.
        inputs = run(["git", "ls-files", "*.dvc", "**/*.dvc"], work).stdout.split()
        started = time.monotonic()
        if inputs:
            log(f"rebuild: pulling {len(inputs)} input(s) from DVC remote '{remote}'")
            run(["dvc", "pull", "--quiet", "-r", remote, *inputs], work,
                hint="the rebuild needs the tag's input data in the DVC remote")  # fmt: skip
        log(f"rebuild: dvc repro --force at {commit[:12]}")
        result = run(["dvc", "repro", "--force", "--quiet", "--no-run-cache"], work, check=False)
        seconds = time.monotonic() - started
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ToolError(
                f"the rebuild of {commit[:12]} failed: 'dvc repro --force' exited "
                f"{result.returncode}: {detail[-1] if detail else ''}",
                hint="run it yourself in a clean clone to see the stage's output",
            )
        rebuilt = _lock_hashes(work / "dvc.lock")
        return compare_rebuild(
            original,
            rebuilt,
            seconds=seconds,
            metrics_original=metrics_original,
            metrics_rebuilt=_read_metrics(work, metric_names),
            tolerance=tolerance,
        )
