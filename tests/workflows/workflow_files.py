"""The workflow and action files of this repository and of baked repositories, as data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = sorted(ROOT.glob("actions/*/action.yml"))
WORKFLOWS = sorted(ROOT.glob(".github/workflows/*.yml"))
REUSABLE = ["ml-pr.yml", "ml-promote.yml", "ml-comment.yml", "ml-monitor.yml", "ml-deploy.yml"]
TEMPLATE_DEFAULTS = json.loads((ROOT / "template" / "cookiecutter.json").read_text("utf-8"))
TEMPLATE_REPO = TEMPLATE_DEFAULTS["template_repo"]
# The release tag a bake pins by default (the `template_ref` answer is empty: "this release").
TEMPLATE_REF = TEMPLATE_DEFAULTS["_release_ref"]
# Where the reusable workflows check this repository out, at the commit they were called at.
TEMPLATE_CHECKOUT = ".mlgitops-template"

# `uses: owner/name[/path]@ref  # comment`
USES_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<target>\S+?)@(?P<ref>\S+)(?P<rest>.*)$", re.M)
SHA_RE = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT_RE = re.compile(r"^\s*#\s*v\d+\.\d+\.\d+\s*$")
EXPRESSION_RE = re.compile(r"\$\{\{")


def load(path: Path) -> dict[str, Any]:
    """YAML 1.1 as GitHub reads it, except that the `on:` key stays a string."""
    return parse(path.read_text(encoding="utf-8"), str(path))


def parse(text: str, where: str = "<text>") -> dict[str, Any]:
    """`load` for text that is no file, e.g. a generated workflow rendered in memory."""
    data = yaml.load(text, Loader=_GitHubLoader)
    assert isinstance(data, dict), f"{where} is not a mapping"
    return data


class _GitHubLoader(yaml.SafeLoader):
    pass


# Drop the YAML 1.1 boolean resolver for on/off/yes/no: GitHub's `on:` is a key.
_GitHubLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_GitHubLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def steps_of(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, step) for every step of a workflow's jobs or a composite action."""
    if "runs" in document:
        for index, step in enumerate(document["runs"].get("steps", [])):
            yield f"step {index + 1}", step
        return
    for job_id, job in document.get("jobs", {}).items():
        for index, step in enumerate(job.get("steps", [])):
            yield f"job {job_id} step {index + 1}", step


def uses_lines(path: Path) -> list[tuple[str, str, str]]:
    """(target, ref, rest of line) of every `uses:` line."""
    return [
        (m["target"], m["ref"], m["rest"])
        for m in USES_RE.finditer(path.read_text(encoding="utf-8"))
    ]
