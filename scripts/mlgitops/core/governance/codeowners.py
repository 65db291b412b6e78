"""CODEOWNERS as GitHub reads it: rules in file order, the last match wins."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CodeownersRule:
    pattern: str
    owners: tuple[str, ...]
    line: int


def codeowners_match(pattern: str, path: str) -> bool:
    """Whether a CODEOWNERS pattern matches a repository path (a gitignore-like subset).

    `*` matches everything; a pattern with a leading or inner `/` is anchored at the root,
    otherwise it matches a path component anywhere; a trailing `/` (or `/**`) matches only
    folders; a pattern matching a folder matches everything inside it.
    """
    if pattern in {"*", "**", "/**"}:
        return True
    directory_only = pattern.endswith("/")
    body = pattern.strip("/")
    if body.endswith("/**"):
        body, directory_only = body[:-3], True
    anchored = pattern.startswith("/") or "/" in body
    parts = path.split("/")
    for n in range(1, len(parts) + 1):
        candidate = "/".join(parts[:n]) if anchored else parts[n - 1]
        if directory_only and n == len(parts):
            continue
        if fnmatch.fnmatchcase(candidate, body):
            return True
    return False


def codeowners_for(rules: Sequence[CodeownersRule], path: str) -> CodeownersRule | None:
    """The last rule matching `path` (GitHub: the last match wins)."""
    match = None
    for rule in rules:
        if codeowners_match(rule.pattern, path):
            match = rule
    return match
