"""The GitHub API as the bots need it: one small Protocol and its PyGithub adapter.

This is the only module that imports PyGithub. Services take a `GitHubHost`;
`connect(settings)` builds the adapter from the Actions environment and honours
`GITHUB_API_URL` (GitHub Enterprise, or a local server in tests).

Retries are ours, not PyGithub's: PyGithub's `GithubRetry` retries POST too, which posts
a comment twice when GitHub saved it but answered 502. Here PyGithub runs with
`retry=0`, and every call goes through `_Retrying.call`, which retries 5xx, 429 and
403 secondary rate limits with backoff inside a bounded total wait, fails fast on a
primary rate limit that resets too late, and, before retrying a create, looks for
what the failed attempt may have created.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import requests
from github import Auth, Github, GithubException, UnknownObjectException

from mlgitops import __version__
from mlgitops.errors import ToolError, UsageError
from mlgitops.github.actions import ActionsSettings

# What GET /user cannot tell an installation token (GITHUB_TOKEN): who it acts as.
GITHUB_ACTIONS_LOGIN = "github-actions[bot]"
PER_PAGE = 100  # GitHub's maximum page size: fewest requests
T = TypeVar("T")


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author_login: str
    html_url: str


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    html_url: str
    labels: tuple[str, ...]
    merged: bool
    head_sha: str
    base_ref: str
    author_login: str
    state: str = "open"
    head_repository: str = ""  # owner/name of the head branch's repository (a fork's)
    head_ref: str = ""


@dataclass(frozen=True)
class Release:
    id: int
    tag_name: str
    name: str
    body: str
    html_url: str


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    html_url: str
    labels: tuple[str, ...] = ()
    state: str = "open"
    author_login: str = ""


class GitHubHost(Protocol):
    """What the bots do on GitHub. `PyGithubHost` is the implementation."""

    def authenticated_login(self) -> str: ...

    def iter_issue_comments(self, number: int) -> Iterator[Comment]: ...

    def create_issue_comment(self, number: int, body: str) -> Comment: ...

    def edit_issue_comment(self, comment_id: int, body: str) -> Comment: ...

    def delete_issue_comment(self, comment_id: int) -> None: ...

    def pull_requests_for_commit(self, sha: str) -> list[PullRequest]: ...

    def get_pull_request(self, number: int) -> PullRequest: ...

    def find_open_pull_request(
        self, head: str, author: str | None = None
    ) -> PullRequest | None: ...

    def create_pull_request(
        self, title: str, body: str, head: str, base: str, labels: list[str]
    ) -> PullRequest: ...

    def update_pull_request(self, number: int, title: str, body: str) -> PullRequest: ...

    def get_release_by_tag(self, tag: str) -> Release | None: ...

    def create_release(self, tag: str, name: str, body: str) -> Release: ...

    def update_release(self, release_id: int, name: str, body: str) -> Release: ...

    def list_release_assets(self, release_id: int) -> list[str]: ...

    def upload_release_asset(self, release_id: int, path: Path, name: str) -> str: ...

    def find_open_issue(
        self, marker: str, label: str | None = None, author: str | None = None
    ) -> Issue | None: ...

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue: ...

    def edit_issue(self, number: int, body: str) -> Issue: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. Waits go through `sleep` so tests can keep them short.

    `max_total_wait` bounds the sum of waits of one call: a wait that would exceed it
    (e.g. a primary rate limit resetting in 40 minutes) fails at once instead.
    """

    max_attempts: int = 6
    backoff: float = 2.0
    max_backoff: float = 60.0
    secondary_rate_wait: float = 60.0
    max_total_wait: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)


class _Retryable(Exception):
    def __init__(self, wait: float | None, reason: str, cause: Exception) -> None:
        super().__init__(reason)
        self.wait = wait
        self.reason = reason
        self.cause = cause


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _message(error: GithubException) -> str:
    data = error.data
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        details = [
            str(e.get("message") or e.get("code"))
            for e in data.get("errors") or []
            if isinstance(e, dict)
        ]
        if details:
            message += f" ({'; '.join(details)})"
        return message
    return str(data or "")


def _is_secondary_rate_limit(message: str) -> bool:
    text = message.lower()
    return (
        "secondary rate limit" in text
        or text.endswith("please retry your request again later.")
        or text.endswith("please wait a few minutes before you try again.")
    )


class _Retrying:
    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def classify(self, error: Exception, what: str) -> _Retryable:
        """Turn an error into a retry decision, or raise the ToolError the user sees."""
        if isinstance(error, requests.exceptions.RequestException):
            return _Retryable(None, f"network error: {error}", error)
        if not isinstance(error, GithubException):
            raise error
        status, headers = error.status, error.headers or {}
        message = _message(error)
        retry_after = _header(headers, "Retry-After")
        remaining = _header(headers, "X-RateLimit-Remaining")
        reset = _header(headers, "X-RateLimit-Reset")
        if status in {403, 429} and remaining == "0" and reset and not retry_after:
            wait = float(reset) - self.policy.clock() + 1
            if wait > self.policy.max_total_wait:
                at = datetime.fromtimestamp(float(reset), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                raise ToolError(
                    f"GitHub API rate limit exhausted while trying to {what}; it resets at "
                    f"{at}, in {wait / 60:.0f} min, longer than this command waits "
                    f"({self.policy.max_total_wait:.0f} s)",
                    hint="re-run the job after the reset, or use a token with a higher limit",
                ) from error
            return _Retryable(max(wait, 0.0), "primary rate limit", error)
        if status == 429 or (status == 403 and (retry_after or _is_secondary_rate_limit(message))):
            # GitHub: without Retry-After, wait at least a minute before retrying.
            limited_wait = (
                float(retry_after)
                if retry_after and retry_after.isdigit()
                else self.policy.secondary_rate_wait
            )
            return _Retryable(limited_wait, f"rate limited ({status}: {message})", error)
        if status >= 500:
            return _Retryable(None, f"server error {status}: {message}", error)
        hint = None
        if status == 401:
            hint = "check GITHUB_TOKEN (is it set, unexpired, for this host?)"
        elif status in {403, 404}:
            hint = (
                "check the token's permissions (e.g. `permissions: pull-requests: write`) "
                "and GITHUB_REPOSITORY"
            )
        raise ToolError(
            f"GitHub API refused to {what}: {status} {message}".rstrip(), hint=hint
        ) from error

    def call(
        self,
        what: str,
        operation: Callable[[], T],
        recover: Callable[[], T | None] | None = None,
    ) -> T:
        """Run `operation`; on a retryable failure wait and retry.

        `recover` is asked before each retry whether the failed attempt took effect
        anyway (it returns the created object); creates pass it so they never duplicate.
        """
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation()
            except Exception as error:  # classified below; non-API errors re-raise
                decision = self.classify(error, what)
            backoff = min(self.policy.backoff * 2 ** (attempt - 1), self.policy.max_backoff)
            wait = backoff if decision.wait is None else max(decision.wait, 0.0)
            if attempt >= self.policy.max_attempts or waited + wait > self.policy.max_total_wait:
                raise ToolError(
                    f"GitHub API failed to {what} after {attempt} attempt(s) "
                    f"and {waited:.0f} s of waiting: {decision.reason}",
                    hint="GitHub may be degraded (https://www.githubstatus.com); re-run the job",
                ) from decision.cause
            self.policy.sleep(wait)
            waited += wait
            if recover is not None:
                found = self.call(f"check whether the attempt to {what} took effect", recover)
                if found is not None:
                    return found


def _comment(item: Any) -> Comment:
    return Comment(
        id=int(item.id),
        body=str(item.body or ""),
        author_login=str(item.user.login) if item.user else "",
        html_url=str(item.html_url or ""),
    )


def _pull(item: Any) -> PullRequest:
    return PullRequest(
        number=int(item.number),
        title=str(item.title or ""),
        html_url=str(item.html_url or ""),
        labels=tuple(str(label.name) for label in item.labels),
        merged=bool(item.merged),
        head_sha=str(item.head.sha),
        base_ref=str(item.base.ref),
        author_login=str(item.user.login) if item.user else "",
        state=str(item.state or ""),
        head_repository=str(item.head.repo.full_name) if item.head.repo else "",
        head_ref=str(item.head.ref or ""),
    )


def _release(item: Any) -> Release:
    return Release(
        id=int(item.id),
        tag_name=str(item.tag_name),
        name=str(item.name or ""),
        body=str(item.body or ""),
        html_url=str(item.html_url or ""),
    )


def _issue(item: Any) -> Issue:
    return Issue(
        number=int(item.number),
        title=str(item.title or ""),
        body=str(item.body or ""),
        html_url=str(item.html_url or ""),
        labels=tuple(str(label.name) for label in item.labels),
        state=str(item.state or "open"),
        author_login=str(item.user.login) if item.user is not None else "",
    )


def _same_text(left: str, right: str) -> bool:
    return left.replace("\r\n", "\n").strip() == right.replace("\r\n", "\n").strip()


class PyGithubHost:
    """`GitHubHost` over PyGithub for one repository."""

    def __init__(
        self,
        github: Github,
        repository: str,
        *,
        retry: RetryPolicy | None = None,
        login: str | None = None,
    ) -> None:
        self._github = github
        self._repository = repository
        self._repo = github.get_repo(repository)  # lazy requester: no request
        self._retrying = _Retrying(retry or RetryPolicy())
        self._login = login

    @property
    def repository(self) -> str:
        return self._repository

    def close(self) -> None:
        self._github.close()

    def __enter__(self) -> PyGithubHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ identity
    def authenticated_login(self) -> str:
        """The token's login; `github-actions[bot]` for an Actions installation token."""
        if self._login is None:

            def fetch() -> str:
                try:
                    return str(self._github.get_user().login)
                except GithubException as error:
                    # Installation tokens get 403 "Resource not accessible by integration".
                    if (
                        error.status == 403
                        and not _is_secondary_rate_limit(_message(error))
                        and _header(error.headers, "X-RateLimit-Remaining") != "0"
                    ):
                        return GITHUB_ACTIONS_LOGIN
                    raise

            self._login = self._retrying.call("read the authenticated user", fetch)
        return self._login

    # ------------------------------------------------------------------ comments
    def _items(self, what: str, listing: Any) -> Iterator[Any]:
        """Items of a PyGithub PaginatedList, one retried request per page of PER_PAGE.

        Pages are fetched by number (not by iterating the PaginatedList, whose
        generator is dead after an exception), so a failed page can be retried.
        """
        page = 0
        while True:
            items = self._retrying.call(what, functools.partial(listing.get_page, page))
            yield from items
            if len(items) < PER_PAGE:
                return
            page += 1

    def iter_issue_comments(self, number: int) -> Iterator[Comment]:
        """Comments oldest first, 100 per request, each page fetched when reached."""
        listing = self._repo.get_issue(number).get_comments()
        for item in self._items(f"list the comments of #{number}", listing):
            yield _comment(item)

    def create_issue_comment(self, number: int, body: str) -> Comment:
        def create() -> Comment:
            return _comment(self._repo.get_issue(number).create_comment(body))

        def recover() -> Comment | None:
            login = self.authenticated_login()
            for comment in self.iter_issue_comments(number):
                if comment.author_login == login and _same_text(comment.body, body):
                    return comment
            return None

        return self._retrying.call(f"comment on #{number}", create, recover)

    def edit_issue_comment(self, comment_id: int, body: str) -> Comment:
        def edit() -> Comment:
            # Any issue number gives the same .../issues/comments/{id} URL; with a lazy
            # requester the object is not fetched first, so this is one PATCH.
            item = self._repo.get_issue(1).get_comment(comment_id)
            item.edit(body)
            return _comment(item)

        return self._retrying.call(f"edit comment {comment_id}", edit)

    def delete_issue_comment(self, comment_id: int) -> None:
        def delete() -> None:
            try:
                self._repo.get_issue(1).get_comment(comment_id).delete()
            except UnknownObjectException:
                pass  # already gone: a retried DELETE that had worked

        self._retrying.call(f"delete comment {comment_id}", delete)

    # ------------------------------------------------------------------ pull requests
    def pull_requests_for_commit(self, sha: str) -> list[PullRequest]:
        listing = self._repo.get_commit(sha).get_pulls()
        return [_pull(p) for p in self._items(f"list pull requests of {sha[:12]}", listing)]

    def get_pull_request(self, number: int) -> PullRequest:
        return self._retrying.call(
            f"read pull request #{number}", lambda: _pull(self._repo.get_pull(number))
        )

    def find_open_pull_request(self, head: str, author: str | None = None) -> PullRequest | None:
        """The open pull request from branch `head` of this repository (by `author`)."""
        owner = self._repository.split("/", 1)[0]
        listing = self._repo.get_pulls(state="open", head=f"{owner}:{head}")
        for item in self._items(f"list open pull requests from {head}", listing):
            pull = _pull(item)
            if pull.head_ref == head and (author is None or pull.author_login == author):
                return pull
        return None

    def create_pull_request(
        self, title: str, body: str, head: str, base: str, labels: list[str]
    ) -> PullRequest:
        def create() -> PullRequest:
            item = self._repo.create_pull(base=base, head=head, title=title, body=body)
            if labels:
                # Labels belong to the pull request's issue: one PATCH sets them all.
                self._repo.get_issue(item.number).edit(labels=labels)
            return _pull(self._repo.get_pull(item.number))

        return self._retrying.call(
            f"open a pull request from {head}",
            create,
            lambda: self.find_open_pull_request(head, self.authenticated_login()),
        )

    def update_pull_request(self, number: int, title: str, body: str) -> PullRequest:
        def update() -> PullRequest:
            item = self._repo.get_pull(number)
            item.edit(title=title, body=body)
            return _pull(self._repo.get_pull(number))

        return self._retrying.call(f"update pull request #{number}", update)

    # ------------------------------------------------------------------ releases
    def get_release_by_tag(self, tag: str) -> Release | None:
        def fetch() -> Release | None:
            try:
                return _release(self._repo.get_release(tag))
            except UnknownObjectException:
                return None

        return self._retrying.call(f"read the release of tag {tag}", fetch)

    def create_release(self, tag: str, name: str, body: str) -> Release:
        def create() -> Release:
            return _release(self._repo.create_git_release(tag, name=name, message=body))

        return self._retrying.call(
            f"create the release of tag {tag}", create, lambda: self.get_release_by_tag(tag)
        )

    def update_release(self, release_id: int, name: str, body: str) -> Release:
        def update() -> Release:
            # get_release(id) is lazy and takes its tag_name from the URL's last segment
            # (the id); update_release would send that as the new tag: fetch it first.
            release = self._repo.get_release(release_id).complete()
            return _release(
                release.update_release(name=name, message=body, tag_name=release.tag_name)
            )

        return self._retrying.call(f"update release {release_id}", update)

    def list_release_assets(self, release_id: int) -> list[str]:
        """The names of the release's assets."""

        def names() -> list[str]:
            release = self._repo.get_release(release_id)
            return [str(asset.name) for asset in release.get_assets()]

        return self._retrying.call(f"list the assets of release {release_id}", names)

    def upload_release_asset(self, release_id: int, path: Path, name: str) -> str:
        """Upload `path` as asset `name`; its download URL. A retry first looks for the
        asset a failed attempt may have created."""

        def upload() -> str:
            release = self._repo.get_release(release_id)
            asset = release.upload_asset(
                str(path), name=name, content_type="application/octet-stream"
            )
            return str(asset.browser_download_url)

        def recover() -> str | None:
            release = self._repo.get_release(release_id)
            for asset in release.get_assets():
                if asset.name == name and int(asset.size) == path.stat().st_size:
                    return str(asset.browser_download_url)
            return None

        return self._retrying.call(f"upload {name} to release {release_id}", upload, recover)

    # ------------------------------------------------------------------ issues
    def find_open_issue(
        self, marker: str, label: str | None = None, author: str | None = None
    ) -> Issue | None:
        """The first open issue (not PR) whose body holds `marker`, written by `author`
        when given: a marker pasted into somebody else's issue must not capture the bot."""
        listing = (
            self._repo.get_issues(state="open", labels=[label])
            if label
            else self._repo.get_issues(state="open")
        )
        for item in self._items("search open issues", listing):
            # GitHub lists pull requests as issues too. Tell them apart by html_url:
            # `item.pull_request` is absent from plain issues' JSON, and reading it would
            # make PyGithub fetch each issue again.
            if "/pull/" in (item.html_url or "") or marker not in (item.body or ""):
                continue
            if author is not None and (item.user is None or item.user.login != author):
                continue
            return _issue(item)
        return None

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue:
        def create() -> Issue:
            return _issue(self._repo.create_issue(title=title, body=body, labels=labels))

        def recover() -> Issue | None:
            listing = self._repo.get_issues(state="open")
            for item in self._items("list open issues", listing):
                if item.title == title and _same_text(item.body or "", body):
                    return _issue(item)
            return None

        return self._retrying.call(f"open issue '{title}'", create, recover)

    def edit_issue(self, number: int, body: str) -> Issue:
        def edit() -> Issue:
            issue = self._repo.get_issue(number)
            issue.edit(body=body)
            return _issue(issue)

        return self._retrying.call(f"edit issue #{number}", edit)


def connect(
    settings: ActionsSettings,
    *,
    retry: RetryPolicy | None = None,
    login: str | None = None,
    timeout: float = 30.0,
) -> PyGithubHost:
    """A `PyGithubHost` for `settings.repository` at `settings.api_url` with its token."""
    if not settings.repository:
        raise UsageError(
            "GITHUB_REPOSITORY is not set", hint="set it to 'owner/name' (Actions sets it)"
        )
    if not settings.token:
        raise UsageError(
            "GITHUB_TOKEN is not set",
            hint="pass the token through env: GITHUB_TOKEN: ${{ github.token }}",
        )
    github = Github(
        base_url=settings.api_url,
        auth=Auth.Token(settings.token),
        per_page=PER_PAGE,
        retry=0,  # retries are ours, see the module docstring
        lazy=True,
        timeout=int(timeout),
        user_agent=f"mlgitops/{__version__}",
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return PyGithubHost(github, settings.repository, retry=retry, login=login)
