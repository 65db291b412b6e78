"""One sticky comment per pull request and key: found by the bot's login AND a hidden marker.

A typical update costs three API calls when the comment is on the first page of 100:
GET /user, GET the first page of comments, PATCH the comment (two when nothing changed).
The first report costs four: the comments are listed again after creating, to undo a
race between two jobs of the same PR.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlgitops.core.markdown import escape
from mlgitops.core.markdown.truncate import cut
from mlgitops.defaults import DEFAULT_COMMENT_KEY
from mlgitops.errors import UsageError

if TYPE_CHECKING:  # PyGithub loads only when a command talks to GitHub
    from mlgitops.github.client import Comment, GitHubHost

COMMENT_LIMIT = 65_536  # GitHub's maximum comment body, in characters
DEFAULT_KEY = DEFAULT_COMMENT_KEY
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class StickyResult:
    comment: Comment
    action: str  # created, updated or unchanged
    truncated: bool


def check_key(key: str) -> str:
    """A key names the comment in its marker: letters, digits, `.`, `_`, `-` (max 64)."""
    if not _KEY.match(key):
        raise UsageError(
            f"invalid comment key {key!r}",
            hint="use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return key


def marker(key: str) -> str:
    """The hidden first line that identifies the comment of `key`."""
    return f"<!-- mlgitops:sticky:{check_key(key)} -->"


def compose(body: str, key: str, *, summary_url: str | None = None) -> tuple[str, bool]:
    """The comment text: marker line + body, cut to GitHub's limit with a pointer if needed.

    The marker comes first, so truncation can never remove it; the body is cut at a line
    end with every open fence and `<details>` closed, so the notice after it is never
    inside a code block.
    """
    head = marker(key) + "\n"
    full = head + body
    if len(full) <= COMMENT_LIMIT:
        return full, False
    where = escape.link("job summary", summary_url) if summary_url else "job summary"
    notice = (
        f"\n\n---\n✂️ **Truncated**: this report has {len(body):,} characters, more than a "
        f"comment can hold ({COMMENT_LIMIT:,}). The full report is in the {where}.\n"
    )
    return head + cut(body, COMMENT_LIMIT - len(head) - len(notice)) + notice, True


def _ours(host: GitHubHost, number: int, key: str, *, first_only: bool) -> list[Comment]:
    login = host.authenticated_login()
    tag = marker(key)
    found = []
    for comment in host.iter_issue_comments(number):
        if comment.author_login == login and tag in comment.body:
            found.append(comment)
            if first_only:
                break
    return found


def find_sticky(host: GitHubHost, number: int, key: str) -> Comment | None:
    """The bot's own comment carrying the marker of `key` (oldest first), else None."""
    found = _ours(host, number, key, first_only=True)
    return found[0] if found else None


def upsert_sticky_comment(
    host: GitHubHost,
    number: int,
    body: str,
    *,
    key: str = DEFAULT_KEY,
    summary_url: str | None = None,
) -> StickyResult:
    """Edit the bot's comment of `key` on PR/issue `number` in place; create it if none."""
    text, truncated = compose(body, key, summary_url=summary_url)
    existing = find_sticky(host, number, key)
    if existing is None:
        created = host.create_issue_comment(number, text)
        # Two jobs of one PR racing (no concurrency group) may both create: keep the
        # oldest, delete the rest, so the PR still ends with one comment per key.
        ours = _ours(host, number, key, first_only=False)
        for extra in ours[1:]:
            host.delete_issue_comment(extra.id)
        if ours and ours[0].id != created.id:
            return StickyResult(host.edit_issue_comment(ours[0].id, text), "updated", truncated)
        return StickyResult(created, "created", truncated)
    if existing.body.replace("\r\n", "\n") == text:
        return StickyResult(existing, "unchanged", truncated)
    return StickyResult(host.edit_issue_comment(existing.id, text), "updated", truncated)
