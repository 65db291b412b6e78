"""Gather governance facts from a generated repository (files, git, dvc) and evaluate them.

The rules themselves are pure (`mlgitops.core.governance`); this module only reads:
the workspace (metrics, fairness report, model card, params, `.dvc` files, CODEOWNERS),
git (tracked files and their sizes, files changed since the base, files at the base) and
`dvc status`. PR labels come from the Actions event payload or from `--labels`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgitops.core.governance import rules
from mlgitops.core.governance.codeowners import CodeownersRule
from mlgitops.core.governance.facts import (
    ChangeFacts,
    DataFacts,
    DvcFile,
    FairnessFacts,
    GitFile,
    GovernanceFacts,
    MetricsFacts,
    ModelCardFacts,
    ModelFacts,
    ParamChange,
)
from mlgitops.core.governance.results import Finding, RuleResult
from mlgitops.core.metrics import flatten as flatten_mapping
from mlgitops.core.model_card import card_metrics
from mlgitops.core.policy import DEFAULT_POLICY_PATH, Policy
from mlgitops.defaults import DATA_DVC, DATASET, DEFAULT_METRICS_FILE, DEFAULT_PARAMS_FILE
from mlgitops.errors import InputError, Location, ToolError
from mlgitops.io.git import FETCH_DEPTH_HINT
from mlgitops.io.model_card import load_model_card, model_card_problems
from mlgitops.io.policy_loader import load_policy
from mlgitops.io.workspace import Workspace
from mlgitops.io.yaml_strict import (
    MAX_PARAMS_BYTES,
    YamlDocument,
    load_params,
    load_yaml,
    parse_yaml,
)

CODEOWNERS_LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
MAX_REPORT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class GovernOptions:
    root: Path
    policy_path: str = DEFAULT_POLICY_PATH
    base: str | None = None  # a ref; the merge-base with HEAD is used
    metrics_file: str | None = None  # None: each artifact's meta.metrics, else the default
    params_file: str = DEFAULT_PARAMS_FILE
    labels: tuple[str, ...] | None = None  # --labels; None: from the event payload
    event: Mapping[str, Any] | None = None
    check_dvc_status: bool = True


@dataclass(frozen=True)
class Base:
    ref: str
    sha: str

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.sha[:7]})" if self.ref != self.sha else self.sha[:12]


@dataclass(frozen=True)
class GovernanceOutcome:
    policy: Policy
    facts: GovernanceFacts
    results: list[RuleResult]
    base: Base | None

    @property
    def failed(self) -> bool:
        return any(result.failed for result in self.results)


# --------------------------------------------------------------------------- base revision


def resolve_base(ws: Workspace, ref: str | None, event: Mapping[str, Any] | None) -> Base | None:
    """The merge-base of `ref` (or the PR's base from the event payload) and HEAD.

    `ref` may be a branch that exists only as `origin/<ref>` (a PR checkout); a shallow
    clone is unshallowed first, or fails naming `fetch-depth: 0`.
    """
    if ref is None:
        pull_request = (event or {}).get("pull_request")
        base = pull_request.get("base") if isinstance(pull_request, dict) else None
        if isinstance(base, dict) and isinstance(base.get("sha"), str):
            ref = base["sha"]
        else:
            return None
    ws.git.ensure_history()
    name, sha = ws.git.resolve(ref)
    merge_base = ws.git.merge_base(sha, "HEAD")
    if merge_base is None:
        raise ToolError(f"'{name}' and HEAD have no common ancestor", hint=FETCH_DEPTH_HINT)
    return Base(name, merge_base)


def base_metrics(ws: Workspace, base: Base, metrics_file: str) -> Mapping[str, Any] | None:
    """Metrics at the base revision, read by DVC (None: the base has no metrics file)."""
    found = ws.metrics(base.sha, [metrics_file])
    if not found:
        return None
    try:
        return flatten(found)
    except TypeError:
        return None


# --------------------------------------------------------------------------- metrics


def flatten(data: Any) -> dict[str, Any]:
    """A metrics document as dotted keys; TypeError when it is not a JSON object."""
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    return flatten_mapping(data)


def _read_json(path: Path) -> tuple[Any, str | None]:
    if not path.is_file():
        return None, "file not found (run `dvc repro`)"
    if path.stat().st_size > MAX_REPORT_BYTES:
        return None, f"file is over {MAX_REPORT_BYTES} bytes"
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return None, f"not valid JSON ({error})"


def _params_changes(
    ws: Workspace, base: Base | None, params_file: str, head: YamlDocument | None
) -> tuple[ParamChange, ...]:
    if base is None or head is None:
        return ()
    text = ws.read(base.sha, params_file)
    if text is None:
        return ()
    try:
        old = parse_yaml(text, file=f"{params_file}@{base.sha[:7]}")
    except InputError:
        return ()
    if not isinstance(old.data, dict):
        return ()
    head_flat, base_flat = flatten_mapping(head.data), flatten_mapping(old.data)
    changes = []
    for key in sorted(set(head_flat) | set(base_flat)):
        if head_flat.get(key) != base_flat.get(key) and key in head_flat:
            path = tuple(key.split("."))
            changes.append(
                ParamChange(key, base_flat.get(key), head_flat.get(key), head.line_of(*path))
            )
    return tuple(changes)


def gather_metrics(
    ws: Workspace,
    options: GovernOptions,
    base: Base | None,
    metrics_file: str = DEFAULT_METRICS_FILE,
    params: YamlDocument | None = None,
) -> MetricsFacts:
    raw, problem = _read_json(ws.root / metrics_file)
    head: Mapping[str, Any] | None = None
    if raw is not None:
        try:
            head = flatten(raw)
        except TypeError:
            problem = "expected a JSON object of metric names to values"
    return MetricsFacts(
        file=metrics_file,
        head=head,
        base=None if base is None else base_metrics(ws, base, metrics_file),
        base_label=None if base is None else base.label,
        problem=problem,
        params_file=options.params_file,
        changed_params=_params_changes(ws, base, options.params_file, params),
    )


@dataclass(frozen=True)
class ModelTarget:
    name: str | None
    metrics_file: str
    card: str | None  # None: the policy's model_card.path


def model_targets(ws: Workspace, options: GovernOptions) -> list[ModelTarget]:
    """The models to govern: each `artifacts:` entry of dvc.yaml with a `meta.metrics`
    file, or one model with the default (or --metrics) file."""
    if options.metrics_file is not None:
        metrics = ws.confine(options.metrics_file, location=Location("--metrics"))
        return [ModelTarget(None, metrics, None)]
    targets = [
        ModelTarget(artifact.name, artifact.metrics, artifact.card)
        for artifact in ws.declared_models(None)
        if artifact.metrics
    ]
    return targets or [ModelTarget(None, DEFAULT_METRICS_FILE, None)]


# --------------------------------------------------------------------------- fairness


def gather_fairness(ws: Workspace, policy: Policy) -> FairnessFacts | None:
    if policy.fairness is None:
        return None
    report = ws.confine(policy.fairness.report, location=policy.location("fairness", "report"))
    raw, problem = _read_json(ws.root / report)
    if raw is None:
        return FairnessFacts(report, problem=problem)
    groups = raw.get("groups") if isinstance(raw, dict) else None
    if not isinstance(groups, dict) or not all(isinstance(v, dict) for v in groups.values()):
        return FairnessFacts(
            report, problem='expected {"column": ..., "groups": {"<group>": {...}}}'
        )
    column = raw.get("column") if isinstance(raw.get("column"), str) else None
    metric = raw.get("metric") if isinstance(raw.get("metric"), str) else None
    return FairnessFacts(report, column=column, metric=metric, groups=groups)


# --------------------------------------------------------------------------- model card


def gather_model_card(
    ws: Workspace, policy: Policy, path: str | None = None
) -> ModelCardFacts | None:
    if policy.model_card is None:
        return None
    path = path or ws.confine(
        policy.model_card.path, location=policy.location("model_card", "path")
    )
    try:
        loaded = load_model_card(ws.root / path, file=path)
    except InputError as error:
        location = error.location or Location(path)
        return ModelCardFacts(path, problem=Finding(error.message, location))
    assert loaded.front_matter is not None
    front_matter = loaded.front_matter
    return ModelCardFacts(
        path,
        card=loaded.card,
        schema_problems=tuple(
            Finding(problem.message, problem.location or Location(path))
            for problem in model_card_problems(loaded)
        ),
        metrics=tuple(card_metrics(front_matter.data, front_matter.line_of)),
    )


# --------------------------------------------------------------------------- data


def git_files(ws: Workspace) -> tuple[GitFile, ...]:
    """Every file in the git index with the size of its staged blob."""
    listing = ws.git.run("ls-files", "-s", "-z")
    entries: list[tuple[str, str]] = []
    for record in listing.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, sha, _stage = meta.split()
        if mode == "160000":  # submodule
            continue
        entries.append((sha, path))
    if not entries:
        return ()
    sizes = ws.git.run(
        "cat-file",
        "--batch-check=%(objectname) %(objectsize)",
        input_text="".join(f"{sha}\n" for sha, _ in entries),
    ).split("\n")
    size_of = {}
    for line in sizes:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            size_of[parts[0]] = int(parts[1])
    return tuple(GitFile(path, size_of.get(sha, 0)) for sha, path in entries)


def dvc_files(root: Path, files: tuple[GitFile, ...]) -> tuple[DvcFile, ...]:
    """`meta.license` of every `.dvc` file in git, with its line."""
    found = []
    for file in files:
        if not file.path.endswith(".dvc"):
            continue
        document = load_yaml(
            root / file.path, file=file.path, max_bytes=MAX_PARAMS_BYTES, written_by_dvc=True
        )
        license_ = _license(document)
        line = document.line_of("meta", "license") if license_ is not None else 1
        # `mlgitops init` copies `license:` of data/dataset.yaml into this file's meta.
        stated_in = None
        if file.path == DATA_DVC and (root / DATASET).is_file():
            stated_in = DATASET
        found.append(DvcFile(file.path, license_, line, stated_in))
    return tuple(found)


def _license(document: YamlDocument) -> Any:
    data = document.data
    meta = data.get("meta") if isinstance(data, dict) else None
    return meta.get("license") if isinstance(meta, dict) else None


def _lock_stages(text: str | None, file: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = parse_yaml(text, file=file, written_by_dvc=True).data
    except InputError:
        return {}
    stages = data.get("stages") if isinstance(data, dict) else None
    return stages if isinstance(stages, dict) else {}


def _deps(stage: Any) -> dict[str, Any]:
    entries = stage.get("deps") if isinstance(stage, dict) else None
    found = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            found[entry["path"]] = entry.get("md5") or entry.get("hash")
    return found


def _outs(stage: Any) -> list[str]:
    entries = stage.get("outs") if isinstance(stage, dict) else None
    return [
        entry["path"]
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("path"), str)
    ]


def committed_lock_drift(ws: Workspace) -> tuple[str, ...]:
    """How the committed pipeline state differs from the workspace's.

    CI runs `dvc repro` before `govern`, after which `dvc status` is clean whatever the PR
    committed. So compare HEAD's dvc.lock with the workspace's: a stage whose recorded
    deps or params changed, or a git-tracked pipeline output (metrics, model card) that
    differs from HEAD, means the committed results did not come from the committed code,
    params and data. Model binaries (DVC-cached outputs) are not compared: retraining
    may change their bytes without changing what they compute.
    """
    head = ws.git.head()
    if head is None or not (ws.root / "dvc.yaml").is_file():
        return ()
    committed = _lock_stages(ws.read(head, "dvc.lock"), "dvc.lock@HEAD")
    current = _lock_stages(ws.read(None, "dvc.lock"), "dvc.lock")
    if committed is None:
        return ("dvc.lock is not committed",) if current is not None else ()
    problems = []
    for name, stage in (current or {}).items():
        before = committed.get(name)
        if before is None:
            problems.append(f"stage {name} is not in the committed dvc.lock")
            continue
        changed = sorted(
            path
            for path in set(_deps(stage)) | set(_deps(before))
            if _deps(stage).get(path) != _deps(before).get(path)
        )
        if isinstance(stage, dict) and isinstance(before, dict):
            if stage.get("params") != before.get("params"):
                changed.append("params")
        if changed:
            problems.append(
                f"stage {name} ran on other inputs than committed ({', '.join(changed)})"
            )
    outputs = {path for stage in (current or {}).values() for path in _outs(stage)}
    modified = ws.git.run("diff", "--name-only", "-z", head, "--", *sorted(outputs))
    for path in sorted(p for p in modified.split("\0") if p):
        problems.append(f"{path} differs from the commit")
    return tuple(problems)


def gather_data(ws: Workspace, policy: Policy, *, check_status: bool) -> DataFacts | None:
    if policy.data is None:
        return None
    files = git_files(ws)
    status = None
    drift: tuple[str, ...] = ()
    if policy.data.require_clean_dvc_status and check_status:
        status = ws.dvc_status()
        drift = committed_lock_drift(ws)
    return DataFacts(
        git_files=files, dvc_files=dvc_files(ws.root, files), dvc_status=status, lock_drift=drift
    )


# --------------------------------------------------------------------------- change control


def parse_codeowners(text: str) -> tuple[CodeownersRule, ...]:
    """CODEOWNERS lines as (pattern, owners, line); comments and blank lines skipped."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if " #" in line:
            line = line.split(" #", 1)[0]
        pattern, *owners = line.split()
        found.append(CodeownersRule(pattern, tuple(owners), number))
    return tuple(found)


def labels_from_event(event: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """PR label names from a pull_request event payload (None: not a PR event)."""
    pull_request = (event or {}).get("pull_request")
    if not isinstance(pull_request, dict):
        return None
    labels = pull_request.get("labels") or []
    return tuple(
        label["name"]
        for label in labels
        if isinstance(label, dict) and isinstance(label.get("name"), str)
    )


def gather_change(
    ws: Workspace, options: GovernOptions, policy: Policy, base: Base | None
) -> ChangeFacts | None:
    if policy.change_control is None:
        return None
    if options.labels is not None:
        labels, source = options.labels, "--labels"
    else:
        from_event = labels_from_event(options.event)
        labels, source = (from_event, "PR event") if from_event is not None else ((), "no PR")
    changed = None
    if base is not None:
        # Working tree vs base: committed and uncommitted changes alike.
        text = ws.git.run("diff", "--name-only", "-z", "--no-renames", base.sha)
        changed = tuple(sorted(p for p in text.split("\0") if p))
    codeowners_file = next(
        (name for name in CODEOWNERS_LOCATIONS if (ws.root / name).is_file()), None
    )
    rules_: tuple[CodeownersRule, ...] = ()
    if codeowners_file is not None:
        text = (ws.root / codeowners_file).read_text(encoding="utf-8", errors="replace")
        rules_ = parse_codeowners(text)
    return ChangeFacts(
        changed_files=changed,
        labels=labels,
        labels_source=source,
        base_label=None if base is None else base.label,
        codeowners_file=codeowners_file,
        codeowners=rules_,
    )


# --------------------------------------------------------------------------- entry point


def gather(
    ws: Workspace,
    policy: Policy,
    options: GovernOptions,
    base: Base | None,
    params: YamlDocument | None = None,
) -> GovernanceFacts:
    """All facts the policy's rules need (sections the policy leaves out are not read)."""
    first, *others = model_targets(ws, options)
    head = ws.git.head()
    # Files at revisions in one `git cat-file --batch`: the base's params, HEAD's dvc.lock.
    ws.git.read_files(
        [*([(base.sha, options.params_file)] if base else []),
         *([(head, "dvc.lock")] if head else [])]
    )  # fmt: skip
    # Every model's base metrics and `dvc status` in one DVC pass.
    wants_status = (
        policy.data is not None
        and policy.data.require_clean_dvc_status
        and options.check_dvc_status
    )
    ws.prefetch([base.sha] if base else [], params=False, status=wants_status)
    return GovernanceFacts(
        metrics=gather_metrics(ws, options, base, first.metrics_file, params),
        fairness=gather_fairness(ws, policy),
        model_card=gather_model_card(ws, policy, first.card),
        data=gather_data(ws, policy, check_status=options.check_dvc_status),
        change=gather_change(ws, options, policy, base),
        model=first.name,
        more_models=tuple(
            ModelFacts(
                target.name or target.metrics_file,
                gather_metrics(ws, options, base, target.metrics_file, params),
                gather_model_card(ws, policy, target.card),
            )
            for target in others
        ),
    )


def govern(options: GovernOptions) -> GovernanceOutcome:
    """Load the policy strictly, gather facts over ONE workspace, evaluate every rule."""
    policy = load_policy(options.root / options.policy_path, file=options.policy_path)
    params = None
    if (options.root / options.params_file).is_file():
        params = load_params(options.root / options.params_file, file=options.params_file)
    try:
        ws = Workspace.open(options.root)
    except InputError as error:
        raise InputError(
            error.message, location=error.location,
            hint="run mlgitops govern from the root of the generated repository",
        ) from None  # fmt: skip
    base = resolve_base(ws, options.base, options.event)
    facts = gather(ws, policy, options, base, params)
    return GovernanceOutcome(policy, facts, rules.evaluate(policy, facts), base)
