"""data.git_file_size, data.dvc_tracked, data.license and data.dvc_status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlgitops.core.governance.facts import DataFacts, DvcFile
from mlgitops.core.governance.results import Finding, RuleResult, Status, fmt
from mlgitops.core.policy import DataPolicy, Policy
from mlgitops.errors import Location

# Under dataset_paths, git may keep DVC pointers and small metadata, nothing else.
DATASET_NAMES_ALLOWED_IN_GIT = (".gitignore", ".gitkeep", ".dvcignore")
DATASET_SUFFIXES_ALLOWED_IN_GIT = (".dvc", ".md", ".yaml", ".yml")


def under(path: str, prefix: str) -> bool:
    """True if `path` is `prefix` or inside it (prefix `data/` or `data`)."""
    prefix = prefix.strip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix in {"", "."}


def data_rules(policy: Policy, facts: DataFacts | None) -> list[RuleResult]:
    """Data in git stays small, datasets are tracked by DVC with a license, DVC is clean."""
    config = policy.data
    if config is None:
        return []
    if facts is None:
        return [RuleResult("data.git_file_size", "git", Status.SKIP, "data facts not gathered")]
    results = [_git_file_size_result(config, facts), _dvc_tracked_result(config, facts)]
    if config.allowed_licenses is not None:
        results.extend(_license_results(config.allowed_licenses, facts.dvc_files))
    if config.require_clean_dvc_status:
        results.append(_dvc_status_result(facts.dvc_status, facts.lock_drift))
    return results


def _git_file_size_result(config: DataPolicy, facts: DataFacts) -> RuleResult:
    limit_kb = fmt(config.max_git_file_kb)
    large = [f for f in facts.git_files if f.size > config.max_git_file_kb * 1024]
    if large:
        listing = ", ".join(f"{f.path} ({f.size / 1024:.0f} KiB)" for f in large)
        return RuleResult(
            "data.git_file_size",
            "git",
            Status.FAIL,
            f"{len(large)} file(s) over {limit_kb} KiB committed to git:"
            f" {listing}; track them with `dvc add`",
            {"over_limit": len(large), "max_git_file_kb": config.max_git_file_kb},
            tuple(
                Finding(
                    f"{f.path} is {f.size / 1024:.0f} KiB, over the {limit_kb} KiB limit for"
                    " files in git: `git rm --cached` it and `dvc add` it",
                    Location(f.path),
                )
                for f in large
            ),
        )
    biggest = max(facts.git_files, key=lambda f: f.size, default=None)
    detail = f"{len(facts.git_files)} file(s) in git, all <= {limit_kb} KiB"
    if biggest is not None:
        detail += f" (largest {biggest.path}, {biggest.size / 1024:.0f} KiB)"
    return RuleResult(
        "data.git_file_size",
        "git",
        Status.PASS,
        detail,
        {"files": len(facts.git_files), "max_git_file_kb": config.max_git_file_kb},
    )


def _dvc_tracked_result(config: DataPolicy, facts: DataFacts) -> RuleResult:
    in_git = [
        f.path
        for f in facts.git_files
        if any(under(f.path, prefix) for prefix in config.dataset_paths)
        and not f.path.endswith(DATASET_SUFFIXES_ALLOWED_IN_GIT)
        and f.path.rsplit("/", 1)[-1] not in DATASET_NAMES_ALLOWED_IN_GIT
    ]
    paths = ", ".join(config.dataset_paths)
    if in_git:
        return RuleResult(
            "data.dvc_tracked",
            paths,
            Status.FAIL,
            f"dataset file(s) committed to git instead of DVC: {', '.join(in_git)}",
            {"in_git": len(in_git)},
            tuple(
                Finding(
                    f"{p} is a dataset file committed to git: track it with `dvc add`", Location(p)
                )
                for p in in_git
            ),
        )
    tracked = sum(1 for f in facts.dvc_files if any(under(f.path, p) for p in config.dataset_paths))
    return RuleResult(
        "data.dvc_tracked",
        paths,
        Status.PASS,
        f"no dataset files in git under {paths}; {tracked} .dvc file(s) there",
        {"dvc_files": tracked},
    )


def _license_fix(dvc_file: DvcFile) -> str:
    """What to edit, and how it reaches the .dvc file."""
    if dvc_file.stated_in:
        return (
            f"state the data's SPDX license id as `license:` in {dvc_file.stated_in}, then run"
            f" `mlgitops init` to copy it into {dvc_file.path} (meta.license) and commit both"
        )
    return f"set `meta.license` in {dvc_file.path} to the data's SPDX license id"


def _license_results(allowed: Sequence[str], dvc_files: Sequence[DvcFile]) -> list[RuleResult]:
    if not dvc_files:
        return [RuleResult("data.license", ".dvc files", Status.SKIP, "no .dvc files in git")]
    results = []
    allowed_text = ", ".join(allowed)
    for dvc_file in dvc_files:
        license_ = dvc_file.license
        if license_ is None:
            problem = f"{dvc_file.path} declares no data license (meta.license)"
        elif not isinstance(license_, str) or license_ not in allowed:
            problem = f"{dvc_file.path}: data license {license_!r} is not allowed"
        else:
            results.append(
                RuleResult(
                    "data.license",
                    dvc_file.path,
                    Status.PASS,
                    f"{license_} is allowed",
                    {"license": license_},
                )
            )
            continue
        message = f"{problem}; allowed: {allowed_text}; {_license_fix(dvc_file)}"
        findings = [Finding(message, Location(dvc_file.path, dvc_file.line, "meta.license"))]
        if dvc_file.stated_in:
            findings.append(Finding(message, Location(dvc_file.stated_in, None, "license")))
        results.append(
            RuleResult(
                "data.license",
                dvc_file.path,
                Status.FAIL,
                message,
                {"license": license_ if isinstance(license_, str) else None},
                tuple(findings),
            )
        )
    return results


def _status_summary(status: Mapping[str, Any]) -> str:
    parts = []
    for stage, changes in status.items():
        kinds: list[str] = []
        if isinstance(changes, list):
            for change in changes:
                if isinstance(change, dict):
                    for kind, paths in change.items():
                        if isinstance(paths, dict):
                            names = ", ".join(f"{p} {s}" for p, s in paths.items())
                            kinds.append(f"{kind}: {names}")
                        else:
                            kinds.append(f"{kind}: {paths}")
                else:
                    kinds.append(str(change))
        parts.append(f"{stage} ({'; '.join(kinds)})" if kinds else stage)
    return "; ".join(parts)


def _dvc_status_result(status: Mapping[str, Any] | None, drift: Sequence[str] = ()) -> RuleResult:
    if status is None:
        return RuleResult("data.dvc_status", "dvc.lock", Status.SKIP, "dvc status not checked")
    if not status and not drift:
        return RuleResult(
            "data.dvc_status",
            "dvc.lock",
            Status.PASS,
            "dvc status is clean and the committed dvc.lock and outputs match the workspace",
        )
    parts = []
    if status:
        parts.append(f"dvc status is not clean: {_status_summary(status)}")
    if drift:
        parts.append(f"the commit is not what the pipeline produces: {'; '.join(drift)}")
    message = (
        ". ".join(parts) + ". The committed metrics do not come from the committed code and"
        " data: run `dvc repro` and commit dvc.lock and the outputs"
    )
    return RuleResult(
        "data.dvc_status",
        "dvc.lock",
        Status.FAIL,
        message,
        {"changed_stages": len(status), "differences": len(drift)},
        (Finding(message, Location("dvc.lock")),),
    )
