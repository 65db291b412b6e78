"""Did a version rebuild identically? Pure comparison, the governance rule, and the line
the release notes show.

Every output of the pipeline is compared by the hash DVC records in dvc.lock (md5 of the
bytes), metrics and plots included, so "identical" means byte for byte. A metrics file
whose bytes differ may still pass when every number in it is within `tolerance`
(relative), for pipelines whose library is documented as nondeterministic (e.g.
multi-threaded XGBoost/LightGBM histogram building, or GPU training); the template's
scikit-learn pipeline is deterministic (fixed `random_state`, `n_jobs=1`), so its
default tolerance is 0: bytes must match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlgitops.core.markdown.release import DataHash
from mlgitops.core.metrics import flatten


@dataclass(frozen=True)
class RebuildReport:
    """The outcome of a rebuild from scratch."""

    identical: bool
    seconds: float
    differences: Sequence[str] = field(default_factory=tuple)
    within_tolerance: Sequence[str] = field(default_factory=tuple)  # metrics files
    tolerance: float = 0.0


def _numbers_close(left: Any, right: Any, tolerance: float) -> bool:
    flat_left, flat_right = flatten(left), flatten(right)
    if flat_left.keys() != flat_right.keys():
        return False
    for key, value in flat_left.items():
        other = flat_right[key]
        if isinstance(value, bool) or isinstance(other, bool):
            if value != other:
                return False
        elif isinstance(value, int | float) and isinstance(other, int | float):
            if not math.isclose(value, other, rel_tol=tolerance, abs_tol=0.0):
                return False
        elif value != other:
            return False
    return True


def compare_rebuild(
    original: Sequence[DataHash],
    rebuilt: Sequence[DataHash],
    *,
    seconds: float,
    metrics_original: Mapping[str, Any] | None = None,
    metrics_rebuilt: Mapping[str, Any] | None = None,
    tolerance: float = 0.0,
) -> RebuildReport:
    """Compare the outputs (dvc.lock `outs`) of the tag with those of the rebuild.

    `metrics_*` map metrics file → parsed values; a metrics file whose hash differs is
    accepted when every value is within `tolerance` (relative, > 0 only).
    """
    before = {(h.stage, h.path): h.md5 for h in original if h.kind == "out"}
    after = {(h.stage, h.path): h.md5 for h in rebuilt if h.kind == "out"}
    differences = []
    tolerated = []
    for key in sorted(before.keys() | after.keys()):
        stage, path = key
        if before.get(key) == after.get(key):
            continue
        if key not in after:
            differences.append(f"{path} ({stage}): not produced by the rebuild")
            continue
        if key not in before:
            differences.append(f"{path} ({stage}): produced by the rebuild only")
            continue
        if (
            tolerance > 0
            and metrics_original is not None
            and metrics_rebuilt is not None
            and path in metrics_original
            and path in metrics_rebuilt
            and _numbers_close(metrics_original[path], metrics_rebuilt[path], tolerance)
        ):
            tolerated.append(path)
            continue
        differences.append(f"{path} ({stage}): md5 {before[key]} at the tag, {after[key]} rebuilt")
    return RebuildReport(
        identical=not differences,
        seconds=seconds,
        differences=tuple(differences),
        within_tolerance=tuple(tolerated),
        tolerance=tolerance,
    )


def summary(report: RebuildReport) -> str:
    """One line for the release notes and the log."""
    if report.identical and not report.within_tolerance:
        verdict = "identical, byte for byte"
    elif report.identical:
        verdict = (
            "identical except metrics within a relative tolerance of "
            f"{report.tolerance:g} ({', '.join(report.within_tolerance)})"
        )
    else:
        verdict = "NOT identical: " + "; ".join(report.differences[:5])
    return f"rebuilt from scratch in {report.seconds:.1f} s: {verdict}"


def release_notes_section(report: RebuildReport) -> str:
    """The section appended to a release's notes."""
    return f"## Reproducibility\n\n{summary(report)[0].upper()}{summary(report)[1:]}.\n"


def reproducibility_violation(required: bool, report: RebuildReport | None) -> str | None:
    """The governance rule `release.require_reproducible`: a message when it fails."""
    if not required:
        return None
    if report is None:
        return "release.require_reproducible: the version was not rebuilt"
    if not report.identical:
        return "release.require_reproducible: " + summary(report)
    return None
