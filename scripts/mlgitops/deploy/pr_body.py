"""What a reviewer reads in a deploy pull request (pure; every repository value escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlgitops.core.markdown.report import code
from mlgitops.deploy.gate import GateResult

MARKER = "<!-- mlgitops:deploy -->"


@dataclass(frozen=True)
class DeployChange:
    model: str
    stage: str
    tag: str
    commit: str
    storage_uri: str
    previous_tag: str | None
    canary_percent: int | None
    action: str  # assign | rollback | traffic | render
    files: tuple[str, ...]
    release_url: str | None = None


def _verb(change: DeployChange) -> str:
    return {"rollback": "Roll back", "traffic": "Shift traffic of"}.get(change.action, "Deploy")


def title(change: DeployChange) -> str:
    """The PR title (plain text: GitHub renders no markup in titles)."""
    return f"{_verb(change)} {change.model} {change.stage}: {change.tag.rpartition('@')[2]}"


def _heading(change: DeployChange) -> str:
    return f"{_verb(change)} {code(change.model)} in {code(change.stage)}: {code(change.tag)}"


def gate_note(action: str, gated: bool, dry_run: bool = False) -> str:
    """Why a deploy carries no gate results."""
    if not gated:
        return "not required for this stage (deploy.gate_stages)"
    if dry_run:
        return "not run (dry run)"
    if action == "rollback":
        return "not run: a rollback returns to a version that passed it before"
    return "not run: the stage already held this version when it was rendered"


def _gate_section(gate: GateResult | None, note: str) -> list[str]:
    if gate is None:
        return ["### Deployment gate", "", f"Gate: {note}.", ""]
    verdict = "passed" if gate.passed else "FAILED"
    lines = ["### Deployment gate", "", f"**{verdict}** (MLServer on 127.0.0.1).", ""]
    lines += ["| check | result |", "| --- | --- |"]
    lines.append(f"| smoke test | {code(gate.smoke.message)} |")
    load = gate.load
    if load is not None:
        p50 = f"{load.p50_ms:.1f} ms" if load.p50_ms is not None else "-"
        p99 = f"{load.p99_ms:.1f} ms" if load.p99_ms is not None else "-"
        lines.append(
            f"| load test | {load.succeeded}/{load.planned} one-row requests, "
            f"{gate.bounds.concurrency} concurrent, in {load.seconds:.1f} s "
            f"(bound {gate.bounds.max_seconds:g} s) |"
        )
        lines.append(
            f"| latency p50 / p99 | {p50} / {p99} (objective p99 ≤ {gate.objective_ms:g} ms) |"
        )
        lines.append(f"| throughput | {load.requests_per_second:.0f} requests/s |")
    for reason in gate.reasons:
        lines.append(f"| failure | {code(reason)} |")
    return [*lines, ""]


def render_body(
    change: DeployChange, gate: GateResult | None, *, note: str = "", run_url: str | None = None
) -> str:
    """The deploy PR body: what changes in the cluster once merged, and the gate."""
    traffic = (
        f"{change.canary_percent}% to {code(change.tag)}, the rest stays on the previous "
        "version until a `--traffic 100` deploy PR"
        if change.canary_percent is not None
        else f"100% to {code(change.tag)}"
    )
    previous = code(change.previous_tag) if change.previous_tag else "nothing deployed"
    lines = [
        MARKER,
        f"## {_heading(change)}",
        "",
        "Merging this pull request changes the desired state of "
        f"{code(change.stage)}; Argo CD or Flux applies it to the cluster.",
        "",
        "| | |",
        "| --- | --- |",
        f"| model | {code(change.model)} |",
        f"| version | {code(change.tag)} (commit {code(change.commit[:12])}) |",
        f"| previously | {previous} |",
        f"| traffic | {traffic} |",
        f"| storage | {code(change.storage_uri)} |",
    ]
    if change.release_url:
        lines.append(f"| release | {code(change.release_url)} |")
    lines += ["", *_gate_section(gate, note), "### Files", ""]
    lines += [f"- {code(path)}" for path in change.files]
    if run_url:
        lines += ["", f"Rendered by {code(run_url)}."]
    return "\n".join(lines) + "\n"


def summary_lines(changes: Sequence[DeployChange]) -> list[str]:
    return [f"- {code(c.model)} {code(c.stage)}: {code(c.tag)} ({c.action})" for c in changes]


def with_gate_section(release_body: str, stage: str, gate: GateResult, pull_url: str) -> str:
    """`release_body` with the gate results for `stage` (replacing earlier ones)."""
    start, end = f"<!-- mlgitops:gate:{stage} -->", f"<!-- /mlgitops:gate:{stage} -->"
    before, found, rest = release_body.partition(start)
    after = rest.partition(end)[2] if found else ""
    section = _gate_section(gate, "")
    section[0] = f"### Deployment gate: {code(stage)}"
    block = "\n".join([start, *section, f"Deploy PR: {code(pull_url)}", end])
    return f"{before.rstrip()}\n\n{block}\n{after.lstrip()}".rstrip() + "\n"
