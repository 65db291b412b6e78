"""A small GitHub-like REST server: real HTTP, stateful, thread-safe, with fault injection.

It answers the part of the GitHub REST API the bots use (users, repositories, issue
comments, pull requests, labels, releases, commit statuses, issues) with JSON shaped
like GitHub's, so PyGithub can be pointed at it with `base_url=hub.api_url`. It also
sends GitHub's pagination `Link` headers and rate-limit headers, and can be told to
answer a request with an error (before or after applying it) to rehearse failures.

Python use (tests)::

    with LocalHub() as hub:
        hub.add_user("ml-bot", token="t0k3n")
        hub.add_repo("acme/model")
        hub.add_pull("acme/model", 7, head_sha="abc...", base_ref="main")
        ...  # GITHUB_API_URL=hub.api_url, GITHUB_TOKEN=t0k3n
        assert len(hub.comments("acme/model", 7)) == 1

Separate process (demo, end-to-end runs): `python -m localhub --port 0 --state FILE`,
seeded and inspected through the JSON admin endpoints under `/_localhub/`.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

DOCS_URL = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
RATE_LIMIT = 5000
STATUS_STATES = ("error", "failure", "pending", "success")
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


class HubError(Exception):
    """An API error answered as GitHub does: a status and a JSON body with `message`."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body["documentation_url"] = DOCS_URL
        body["status"] = str(self.status)
        return body


@dataclass
class Fault:
    """An injected answer for requests matching `method` and `path_regex` (searched)."""

    method: str
    path_regex: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    after_apply: bool = False
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times != 0
            and self.method.upper() in {method, "*"}
            and re.search(self.path_regex, path) is not None
        )


@dataclass(frozen=True)
class RequestRecord:
    """One request the hub answered (for counting calls in tests)."""

    method: str
    path: str
    query: str
    status: int
    login: str | None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _empty_state() -> dict[str, Any]:
    return {"next_id": 1000, "users": {}, "repos": {}}


class LocalHub:
    """The server and its state. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: Path | str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._state: dict[str, Any] = _empty_state()
        self._faults: list[Fault] = []
        self._requests: list[RequestRecord] = []
        self._remaining: dict[str, int] = {}
        self._state_file = Path(state_file) if state_file else None
        if self._state_file and self._state_file.exists():
            self._state = json.loads(self._state_file.read_text(encoding="utf-8"))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> LocalHub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="localhub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalHub is not running")
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        """Use as GITHUB_API_URL / PyGithub's base_url."""
        return f"http://{self._host}:{self.port}"

    @property
    def server_url(self) -> str:
        """Base of html_url values (GITHUB_SERVER_URL)."""
        return self.api_url

    # ---------------------------------------------------------------- admin API
    def add_user(self, login: str, token: str, *, type: str = "User") -> dict[str, Any]:
        """Register a user (type "User") or an app bot (type "Bot", e.g. github-actions[bot]).

        Like GitHub's installation tokens, a Bot's token gets 403 on GET /user.
        """
        with self._lock:
            user = {"login": login, "id": self._new_id(), "type": type}
            self._state["users"][token] = user
            self._save()
            return dict(user)

    def add_repo(self, full_name: str, *, default_branch: str = "main") -> None:
        """Register `owner/name` (idempotent)."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repository must be 'owner/name', got {full_name!r}")
        with self._lock:
            if full_name not in self._state["repos"]:
                self._state["repos"][full_name] = {
                    "id": self._new_id(),
                    "default_branch": default_branch,
                    "next_number": 1,
                    "issues": {},
                    "comments": {},
                    "releases": {},
                    "statuses": {},
                }
                self._save()

    def add_pull(
        self,
        repo: str,
        number: int,
        head_sha: str,
        base_ref: str = "main",
        labels: list[str] | tuple[str, ...] = (),
        merge_commit_sha: str | None = None,
        merged: bool = False,
        *,
        title: str | None = None,
        author: str = "octocat",
        head_ref: str | None = None,
        body: str = "",
        head_repo: str | None = None,
        closed: bool = False,
    ) -> None:
        """Register (or replace) pull request `number`; it is also issue `number`.

        `head_repo`: the repository the head branch lives in (a fork), default `repo`.
        `closed`: closed without being merged (a merged pull request is closed too).
        """
        with self._lock:
            self.add_repo(repo)
            if head_repo is not None:
                self.add_repo(head_repo)
            state = self._repo(repo)
            now = _now()
            state["issues"][str(number)] = {
                "number": number,
                "id": self._new_id(),
                "title": title or f"Pull request {number}",
                "body": body,
                "state": "closed" if merged or closed else "open",
                "labels": [self._label(name) for name in labels],
                "author": {"login": author, "id": self._user_id(author), "type": "User"},
                "created_at": now,
                "updated_at": now,
                "closed_at": now if merged or closed else None,
                "pull": {
                    "head_repo": head_repo or repo,
                    "head_sha": head_sha,
                    "head_ref": head_ref or f"feature-{number}",
                    "base_ref": base_ref,
                    "merged": merged,
                    "merge_commit_sha": merge_commit_sha,
                    "merged_at": now if merged else None,
                },
            }
            state["next_number"] = max(state["next_number"], number + 1)
            self._save()

    def set_labels(self, repo: str, number: int, labels: list[str]) -> None:
        with self._lock:
            issue = self._issue(repo, number)
            issue["labels"] = [self._label(name) for name in labels]
            self._save()

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Comments on issue/PR `number`, oldest first: {id, body, user, created_at, ...}."""
        with self._lock:
            return [
                self._comment_json(repo, c)
                for c in self._repo(repo)["comments"].values()
                if c["issue"] == number
            ]

    def add_comment(self, repo: str, number: int, body: str, login: str) -> dict[str, Any]:
        """Seed a comment as `login` (who need not have a token)."""
        with self._lock:
            comment = self._create_comment(repo, number, body, self._user_by_login(login))
            self._save()
            return self._comment_json(repo, comment)

    def releases(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self._release_json(repo, r) for r in self._repo(repo)["releases"].values()]

    def statuses(self, repo: str, sha: str) -> list[dict[str, Any]]:
        """Statuses of `sha`, newest first."""
        with self._lock:
            items = self._repo(repo)["statuses"].get(sha, [])
            return [self._status_json(repo, s) for s in reversed(items)]

    def issues(self, repo: str) -> list[dict[str, Any]]:
        """Issues that are not pull requests, oldest first."""
        with self._lock:
            return [
                self._issue_json(repo, i)
                for i in self._repo(repo)["issues"].values()
                if "pull" not in i
            ]

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        """Pull requests as GET /pulls/{n} shows them, oldest first."""
        with self._lock:
            return [
                self._pull_json(repo, i) for i in self._repo(repo)["issues"].values() if "pull" in i
            ]

    def inject_fault(
        self,
        method: str,
        path_regex: str,
        status: int,
        headers: dict[str, str] | None = None,
        body: Any = None,
        after_apply: bool = False,
        times: int = 1,
    ) -> Fault:
        """Answer the next `times` matching requests (-1: all) with `status`.

        `after_apply=True` performs the request first, like GitHub saving a comment and
        then answering 502. `body` defaults to GitHub's message for the status.
        """
        fault = Fault(method.upper(), path_regex, status, dict(headers or {}), body, after_apply)
        fault.times = times
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RequestRecord]:
        """API requests answered so far (admin requests excluded)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state (what `--state FILE` persists)."""
        with self._lock:
            return copy.deepcopy(self._state)

    # ---------------------------------------------------------------- internals
    def _save(self) -> None:
        if self._state_file is not None:
            tmp = self._state_file.with_suffix(self._state_file.suffix + ".tmp")
            tmp.write_text(json.dumps(self._state, indent=1), encoding="utf-8")
            tmp.replace(self._state_file)

    def _new_id(self) -> int:
        self._state["next_id"] += 1
        return int(self._state["next_id"])

    def _user_id(self, login: str) -> int:
        for user in self._state["users"].values():
            if user["login"] == login:
                return int(user["id"])
        return 1 + sum(map(ord, login)) * 7919 % 10_000_000

    def _user_by_login(self, login: str) -> dict[str, Any]:
        for user in self._state["users"].values():
            if user["login"] == login:
                return dict(user)
        return {"login": login, "id": self._user_id(login), "type": "User"}

    def _label(self, name: str) -> dict[str, Any]:
        return {"name": name, "id": 1 + sum(map(ord, name)) * 31 % 10_000_000}

    def _repo(self, full_name: str) -> dict[str, Any]:
        try:
            return self._state["repos"][full_name]
        except KeyError:
            raise HubError(404, "Not Found") from None

    def _issue(self, repo: str, number: int) -> dict[str, Any]:
        issue = self._repo(repo)["issues"].get(str(number))
        if issue is None:
            raise HubError(404, "Not Found")
        return issue

    def _create_comment(
        self, repo: str, number: int, body: str, user: dict[str, Any]
    ) -> dict[str, Any]:
        self._issue(repo, number)
        now = _now()
        comment = {
            "id": self._new_id(),
            "issue": number,
            "body": body,
            "user": user,
            "created_at": now,
            "updated_at": now,
        }
        self._repo(repo)["comments"][str(comment["id"])] = comment
        return comment

    # JSON shapes ------------------------------------------------------------
    def _user_json(self, user: dict[str, Any]) -> dict[str, Any]:
        login = user["login"]
        return {
            "login": login,
            "id": user["id"],
            "node_id": f"U_{user['id']}",
            "avatar_url": f"{self.server_url}/avatars/{quote(login)}",
            "url": f"{self.api_url}/users/{quote(login)}",
            "html_url": f"{self.server_url}/{quote(login)}",
            "type": user.get("type", "User"),
            "site_admin": False,
        }

    def _repo_json(self, full_name: str) -> dict[str, Any]:
        repo = self._repo(full_name)
        owner, name = full_name.split("/", 1)
        return {
            "id": repo["id"],
            "node_id": f"R_{repo['id']}",
            "name": name,
            "full_name": full_name,
            "private": False,
            "owner": self._user_json(self._user_by_login(owner)),
            "html_url": f"{self.server_url}/{full_name}",
            "url": f"{self.api_url}/repos/{full_name}",
            "default_branch": repo["default_branch"],
            "fork": False,
            "archived": False,
            "visibility": "public",
        }

    def _label_json(self, repo: str, label: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": label["id"],
            "node_id": f"LA_{label['id']}",
            "url": f"{self.api_url}/repos/{repo}/labels/{quote(label['name'], safe='')}",
            "name": label["name"],
            "color": "ededed",
            "default": False,
            "description": None,
        }

    def _comment_json(self, repo: str, comment: dict[str, Any]) -> dict[str, Any]:
        issue = self._issue(repo, comment["issue"])
        kind = "pull" if "pull" in issue else "issues"
        return {
            "id": comment["id"],
            "node_id": f"IC_{comment['id']}",
            "url": f"{self.api_url}/repos/{repo}/issues/comments/{comment['id']}",
            "html_url": (
                f"{self.server_url}/{repo}/{kind}/{comment['issue']}#issuecomment-{comment['id']}"
            ),
            "issue_url": f"{self.api_url}/repos/{repo}/issues/{comment['issue']}",
            "body": comment["body"],
            "user": self._user_json(comment["user"]),
            "author_association": "NONE",
            "created_at": comment["created_at"],
            "updated_at": comment["updated_at"],
            "performed_via_github_app": None,
        }

    def _issue_json(self, repo: str, issue: dict[str, Any]) -> dict[str, Any]:
        number = issue["number"]
        api = f"{self.api_url}/repos/{repo}/issues/{number}"
        kind = "pull" if "pull" in issue else "issues"
        data: dict[str, Any] = {
            "id": issue["id"],
            "node_id": f"I_{issue['id']}",
            "url": api,
            "repository_url": f"{self.api_url}/repos/{repo}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{self.server_url}/{repo}/{kind}/{number}",
            "number": number,
            "title": issue["title"],
            "body": issue["body"],
            "state": issue["state"],
            "locked": False,
            "labels": [self._label_json(repo, label) for label in issue["labels"]],
            "user": self._user_json(issue["author"]),
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": sum(
                1 for c in self._repo(repo)["comments"].values() if c["issue"] == number
            ),
            "author_association": "NONE",
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
        }
        if "pull" in issue:
            data["pull_request"] = {
                "url": f"{self.api_url}/repos/{repo}/pulls/{number}",
                "html_url": f"{self.server_url}/{repo}/pull/{number}",
                "diff_url": f"{self.server_url}/{repo}/pull/{number}.diff",
                "patch_url": f"{self.server_url}/{repo}/pull/{number}.patch",
                "merged_at": issue["pull"]["merged_at"],
            }
        return data

    def _pull_json(self, repo: str, issue: dict[str, Any]) -> dict[str, Any]:
        pull = issue["pull"]
        number = issue["number"]
        repo_json = self._repo_json(repo)
        owner = repo.split("/", 1)[0]
        return {
            "id": issue["id"],
            "node_id": f"PR_{issue['id']}",
            "url": f"{self.api_url}/repos/{repo}/pulls/{number}",
            "html_url": f"{self.server_url}/{repo}/pull/{number}",
            "issue_url": f"{self.api_url}/repos/{repo}/issues/{number}",
            "number": number,
            "state": issue["state"],
            "locked": False,
            "title": issue["title"],
            "body": issue["body"],
            "user": self._user_json(issue["author"]),
            "labels": [self._label_json(repo, label) for label in issue["labels"]],
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
            "merged_at": pull["merged_at"],
            "merge_commit_sha": pull["merge_commit_sha"],
            "merged": pull["merged"],
            "draft": False,
            "head": {
                "label": f"{owner}:{pull['head_ref']}",
                "ref": pull["head_ref"],
                "sha": pull["head_sha"],
                "repo": self._repo_json(pull.get("head_repo", repo)),
            },
            "base": {
                "label": f"{owner}:{pull['base_ref']}",
                "ref": pull["base_ref"],
                "sha": pull["merge_commit_sha"] or pull["head_sha"],
                "repo": repo_json,
            },
            "author_association": "NONE",
        }

    def _release_json(self, repo: str, release: dict[str, Any]) -> dict[str, Any]:
        rid = release["id"]
        api = f"{self.api_url}/repos/{repo}/releases/{rid}"
        tag = quote(release["tag_name"], safe="")
        return {
            "id": rid,
            "node_id": f"RE_{rid}",
            "url": api,
            "html_url": f"{self.server_url}/{repo}/releases/tag/{tag}",
            "assets_url": f"{api}/assets",
            "upload_url": f"{self.api_url}/repos/{repo}/releases/{rid}/assets{{?name,label}}",
            "tarball_url": f"{self.api_url}/repos/{repo}/tarball/{tag}",
            "zipball_url": f"{self.api_url}/repos/{repo}/zipball/{tag}",
            "tag_name": release["tag_name"],
            "target_commitish": release["target_commitish"],
            "name": release["name"],
            "body": release["body"],
            "draft": release["draft"],
            "prerelease": release["prerelease"],
            "created_at": release["created_at"],
            "published_at": None if release["draft"] else release["created_at"],
            "author": self._user_json(release["author"]),
            "assets": [self._asset_json(repo, a) for a in release.get("assets", [])],
        }

    def _asset_json(self, repo: str, asset: dict[str, Any]) -> dict[str, Any]:
        tag = quote(asset["tag_name"], safe="")
        return {
            "url": f"{self.api_url}/repos/{repo}/releases/assets/{asset['id']}",
            "browser_download_url": f"{self.server_url}/{repo}/releases/download/{tag}/"
            + quote(asset["name"]),
            "id": asset["id"],
            "node_id": f"RA_{asset['id']}",
            "name": asset["name"],
            "label": asset["label"],
            "state": "uploaded",
            "content_type": asset["content_type"],
            "size": asset["size"],
            "download_count": 0,
            "created_at": asset["created_at"],
            "updated_at": asset["created_at"],
            "uploader": self._user_json(asset["uploader"]),
        }

    def release_assets(self, repo: str, tag: str) -> dict[str, bytes]:
        """Name → bytes of the assets of the release of `tag` (for tests)."""
        with self._lock:
            for release in self._repo(repo)["releases"].values():
                if release["tag_name"] == tag:
                    return {
                        a["name"]: base64.b64decode(a["content"]) for a in release.get("assets", [])
                    }
        return {}

    def _status_json(self, repo: str, status: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": status["id"],
            "node_id": f"SC_{status['id']}",
            "url": f"{self.api_url}/repos/{repo}/statuses/{status['sha']}",
            "avatar_url": None,
            "state": status["state"],
            "description": status["description"],
            "target_url": status["target_url"],
            "context": status["context"],
            "created_at": status["created_at"],
            "updated_at": status["created_at"],
            "creator": self._user_json(status["creator"]),
        }

    # ---------------------------------------------------------------- request handling
    def _authenticate(self, header: str | None) -> dict[str, Any] | None:
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in {"token", "bearer"} or not token.strip():
            raise HubError(401, "Bad credentials")
        user = self._state["users"].get(token.strip())
        if user is None:
            raise HubError(401, "Bad credentials")
        return dict(user)

    def _rate_headers(self, key: str) -> dict[str, str]:
        remaining = self._remaining.get(key, RATE_LIMIT) - 1
        self._remaining[key] = max(remaining, 0)
        reset = int(time.time()) // 3600 * 3600 + 3600
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(remaining, 0)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(RATE_LIMIT - max(remaining, 0)),
            "X-RateLimit-Resource": "core",
        }

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """Answer one API request: (status, headers, JSON-able body or None)."""
        split = urlsplit(target)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        with self._lock:
            login = None
            out_headers: dict[str, str] = {}
            try:
                user = self._authenticate(headers.get("authorization"))
                login = user["login"] if user else None
                out_headers.update(self._rate_headers(login or "anonymous"))
                fault = next((f for f in self._faults if f.matches(method, path)), None)
                if fault is not None:
                    if fault.times > 0:
                        fault.times -= 1
                    if fault.after_apply:
                        try:
                            self._dispatch(method, path, query, user, raw_body, split.query)
                        except HubError:
                            pass
                    status, body = fault.status, fault.body
                    if body is None:
                        body = HubError(status, _default_message(status)).body()
                    out_headers.update(fault.headers)
                else:
                    status, extra, body = self._dispatch(
                        method, path, query, user, raw_body, split.query
                    )
                    out_headers.update(extra)
            except HubError as error:
                status, body = error.status, error.body()
                if not out_headers:  # GitHub sends them with a 401 too
                    out_headers.update(self._rate_headers("anonymous"))
            self._requests.append(RequestRecord(method, path, split.query, status, login))
            return status, out_headers, body

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        user: dict[str, Any] | None,
        raw_body: bytes,
        raw_query: str,
    ) -> tuple[int, dict[str, str], Any]:
        for route_method, pattern, handler in _ROUTES:
            if route_method != method:
                continue
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != "GET" and user is None:
                raise HubError(401, "Requires authentication")
            payload: dict[str, Any] = {}
            if handler in _BINARY_BODY:
                payload = {"content": raw_body}
            elif method in {"POST", "PATCH", "PUT"}:
                try:
                    payload = json.loads(raw_body or b"{}")
                except json.JSONDecodeError:
                    raise HubError(400, "Problems parsing JSON") from None
                if not isinstance(payload, dict):
                    raise HubError(400, "Problems parsing JSON")
            request = _Request(self, path, query, raw_query, user, payload, match.groupdict())
            result = handler(request)
            if method != "GET":
                self._save()
            return result
        raise HubError(404, "Not Found")

    # admin over HTTP (separate process)
    def handle_admin(self, method: str, target: str, raw_body: bytes) -> tuple[int, Any]:
        split = urlsplit(target)
        name = split.path.removeprefix("/_localhub/").strip("/")
        try:
            payload = json.loads(raw_body or b"{}") if method == "POST" else {}
        except json.JSONDecodeError:
            return 400, {"message": "Problems parsing JSON"}
        try:
            if method == "GET" and name == "state":
                return 200, self.snapshot()
            if method == "GET" and name == "requests":
                return 200, [asdict(r) for r in self.requests]
            if method == "POST" and name == "users":
                return 201, self.add_user(**payload)
            if method == "POST" and name == "repos":
                self.add_repo(**payload)
                return 201, {"full_name": payload.get("full_name")}
            if method == "POST" and name == "pulls":
                self.add_pull(**payload)
                return 201, {"number": payload.get("number")}
            if method == "POST" and name == "comments":
                return 201, self.add_comment(**payload)
            if method == "POST" and name == "faults":
                return 201, asdict(self.inject_fault(**payload))
            if method == "POST" and name == "clear":
                self.clear_faults()
                self.clear_requests()
                return 200, {}
        except (TypeError, ValueError) as error:
            return 400, {"message": str(error)}
        except HubError as error:
            return error.status, error.body()
        return 404, {"message": "Not Found"}


def _default_message(status: int) -> str:
    if status == 403:
        return SECONDARY_RATE_LIMIT_MESSAGE
    if status == 502:
        return "Server Error"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# ------------------------------------------------------------------------ routes
@dataclass
class _Request:
    hub: LocalHub
    path: str
    query: dict[str, str]
    raw_query: str
    user: dict[str, Any] | None
    payload: dict[str, Any]
    params: dict[str, str]

    @property
    def repo(self) -> str:
        full_name = f"{self.params['owner']}/{self.params['repo']}"
        self.hub._repo(full_name)
        return full_name

    def int_param(self, name: str) -> int:
        return int(self.params[name])

    def string(self, key: str, *, required: bool = False, resource: str = "") -> str | None:
        value = self.payload.get(key)
        if value is None:
            if required:
                raise HubError(
                    422,
                    "Validation Failed",
                    [{"resource": resource, "code": "missing_field", "field": key}],
                )
            return None
        if not isinstance(value, str):
            raise HubError(
                422, "Validation Failed", [{"resource": resource, "code": "invalid", "field": key}]
            )
        return value


Handler = Callable[[_Request], tuple[int, dict[str, str], Any]]


def _paginate(request: _Request, items: list[Any]) -> tuple[int, dict[str, str], Any]:
    """Slice `items` by per_page/page and build GitHub's RFC 5988 Link header."""
    try:
        per_page = int(request.query.get("per_page", DEFAULT_PER_PAGE))
        page = int(request.query.get("page", 1))
    except ValueError:
        per_page, page = DEFAULT_PER_PAGE, 1
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    page = max(page, 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    base = f"{request.hub.api_url}{quote(request.path)}"
    others = [(k, v) for k, v in parse_qs(request.raw_query).items() if k not in {"page"}]

    def url(number: int) -> str:
        params = [(k, v[-1]) for k, v in others] + [("page", str(number))]
        return f"{base}?{urlencode(params)}"

    links = []
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
    headers = {"Link": ", ".join(links)} if links else {}
    return 200, headers, chunk


def _get_user(request: _Request) -> tuple[int, dict[str, str], Any]:
    if request.user is None:
        raise HubError(401, "Requires authentication")
    if request.user.get("type") == "Bot":
        raise HubError(403, "Resource not accessible by integration")
    return 200, {}, request.hub._user_json(request.user)


def _get_repo(request: _Request) -> tuple[int, dict[str, str], Any]:
    return 200, {}, request.hub._repo_json(request.repo)


def _list_comments(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo, number = request.hub, request.repo, request.int_param("number")
    hub._issue(repo, number)
    comments = sorted(
        (c for c in hub._repo(repo)["comments"].values() if c["issue"] == number),
        key=lambda c: int(c["id"]),
    )
    return _paginate(request, [hub._comment_json(repo, c) for c in comments])


def _create_comment(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    body = request.string("body", required=True, resource="IssueComment")
    assert body is not None and request.user is not None
    if len(body) > 65536:
        raise HubError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": "body is too long (maximum is 65536 characters)",
                }
            ],
        )
    comment = hub._create_comment(repo, request.int_param("number"), body, request.user)
    return 201, {}, hub._comment_json(repo, comment)


def _find_comment(request: _Request) -> dict[str, Any]:
    comment = request.hub._repo(request.repo)["comments"].get(request.params["id"])
    if comment is None:
        raise HubError(404, "Not Found")
    return comment


def _get_comment(request: _Request) -> tuple[int, dict[str, str], Any]:
    return 200, {}, request.hub._comment_json(request.repo, _find_comment(request))


def _edit_comment(request: _Request) -> tuple[int, dict[str, str], Any]:
    comment = _find_comment(request)
    assert request.user is not None
    if comment["user"]["login"] != request.user["login"]:
        raise HubError(403, "Resource not accessible by integration")
    body = request.string("body", required=True, resource="IssueComment")
    if body is not None and len(body) > 65536:
        raise HubError(422, "Validation Failed", [{"resource": "IssueComment", "code": "custom"}])
    comment["body"] = body
    comment["updated_at"] = _now()
    return 200, {}, request.hub._comment_json(request.repo, comment)


def _delete_comment(request: _Request) -> tuple[int, dict[str, str], Any]:
    comment = _find_comment(request)
    assert request.user is not None
    if comment["user"]["login"] != request.user["login"]:
        raise HubError(403, "Resource not accessible by integration")
    del request.hub._repo(request.repo)["comments"][request.params["id"]]
    return 204, {}, None


def _pull(request: _Request) -> dict[str, Any]:
    issue = request.hub._issue(request.repo, request.int_param("number"))
    if "pull" not in issue:
        raise HubError(404, "Not Found")
    return issue


def _get_pull(request: _Request) -> tuple[int, dict[str, str], Any]:
    return 200, {}, request.hub._pull_json(request.repo, _pull(request))


def _commit_pulls(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo, sha = request.hub, request.repo, request.params["sha"]
    found = [
        hub._pull_json(repo, issue)
        for issue in hub._repo(repo)["issues"].values()
        if "pull" in issue and sha in {issue["pull"]["head_sha"], issue["pull"]["merge_commit_sha"]}
    ]
    return _paginate(request, found)


# Pull requests opened through the API (the retraining pull request of `mlgitops drift`).
# The server holds no git data: a created pull request's head sha is unknown (zeros).
UNKNOWN_SHA = "0" * 40


def _list_pulls(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    state = request.query.get("state", "open")
    head = request.query.get("head")  # "owner:branch", as GitHub takes it
    base = request.query.get("base")
    owner = repo.split("/", 1)[0]
    chosen = []
    for issue in hub._repo(repo)["issues"].values():
        pull = issue.get("pull")
        if pull is None or (state != "all" and issue["state"] != state):
            continue
        if head is not None and head != f"{owner}:{pull['head_ref']}":
            continue
        if base is not None and base != pull["base_ref"]:
            continue
        chosen.append(issue)
    chosen.sort(key=lambda i: -int(i["number"]))
    return _paginate(request, [hub._pull_json(repo, i) for i in chosen])


def _create_pull(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    title = request.string("title", required=True, resource="PullRequest")
    head = request.string("head", required=True, resource="PullRequest")
    base = request.string("base", required=True, resource="PullRequest")
    assert head is not None and base is not None and request.user is not None
    head_ref = head.split(":", 1)[-1]
    state = hub._repo(repo)
    for issue in state["issues"].values():
        pull = issue.get("pull")
        if pull and issue["state"] == "open" and pull["head_ref"] == head_ref:
            raise HubError(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "code": "custom",
                  "message": f"A pull request already exists for {head}."}],
            )  # fmt: skip
    number = state["next_number"]
    state["next_number"] = number + 1
    now = _now()
    issue = {
        "number": number,
        "id": hub._new_id(),
        "title": title,
        "body": request.string("body") or "",
        "state": "open",
        "labels": [],
        "author": request.user,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "pull": {
            "head_sha": UNKNOWN_SHA,
            "head_ref": head_ref,
            "base_ref": base,
            "merged": False,
            "merge_commit_sha": None,
            "merged_at": None,
        },
    }
    state["issues"][str(number)] = issue
    return 201, {}, hub._pull_json(repo, issue)


def _edit_pull(request: _Request) -> tuple[int, dict[str, str], Any]:
    issue = _pull(request)
    for key in ("title", "body"):
        value = request.string(key)
        if value is not None:
            issue[key] = value
    new_state = request.string("state")
    if new_state is not None:
        if new_state not in {"open", "closed"}:
            raise HubError(
                422, "Validation Failed", [{"resource": "PullRequest", "code": "invalid"}]
            )
        issue["state"] = new_state
        issue["closed_at"] = _now() if new_state == "closed" else None
    issue["updated_at"] = _now()
    return 200, {}, request.hub._pull_json(request.repo, issue)


def _issue_labels(request: _Request) -> tuple[int, dict[str, str], Any]:
    issue = request.hub._issue(request.repo, request.int_param("number"))
    return _paginate(request, [request.hub._label_json(request.repo, x) for x in issue["labels"]])


def _list_releases(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    releases = sorted(hub._repo(repo)["releases"].values(), key=lambda r: -int(r["id"]))
    return _paginate(request, [hub._release_json(repo, r) for r in releases])


def _release_by_tag(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    for release in hub._repo(repo)["releases"].values():
        if release["tag_name"] == request.params["tag"] and not release["draft"]:
            return 200, {}, hub._release_json(repo, release)
    raise HubError(404, "Not Found")


def _find_release(request: _Request) -> dict[str, Any]:
    release = request.hub._repo(request.repo)["releases"].get(request.params["id"])
    if release is None:
        raise HubError(404, "Not Found")
    return release


def _get_release(request: _Request) -> tuple[int, dict[str, str], Any]:
    return 200, {}, request.hub._release_json(request.repo, _find_release(request))


def _already_exists() -> HubError:
    return HubError(
        422,
        "Validation Failed",
        [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
    )


def _create_release(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    tag = request.string("tag_name", required=True, resource="Release")
    assert request.user is not None
    if any(r["tag_name"] == tag for r in hub._repo(repo)["releases"].values()):
        raise _already_exists()
    release = {
        "id": hub._new_id(),
        "tag_name": tag,
        "target_commitish": request.string("target_commitish") or hub._repo(repo)["default_branch"],
        "name": request.string("name") or tag,
        "body": request.string("body") or "",
        "draft": bool(request.payload.get("draft", False)),
        "prerelease": bool(request.payload.get("prerelease", False)),
        "created_at": _now(),
        "author": request.user,
    }
    hub._repo(repo)["releases"][str(release["id"])] = release
    return 201, {}, hub._release_json(repo, release)


def _edit_release(request: _Request) -> tuple[int, dict[str, str], Any]:
    release = _find_release(request)
    tag = request.string("tag_name")
    if tag is not None and tag != release["tag_name"]:
        if any(r["tag_name"] == tag for r in request.hub._repo(request.repo)["releases"].values()):
            raise _already_exists()
        release["tag_name"] = tag
    for key in ("name", "body", "target_commitish"):
        value = request.string(key)
        if value is not None:
            release[key] = value
    for key in ("draft", "prerelease"):
        if key in request.payload:
            release[key] = bool(request.payload[key])
    return 200, {}, request.hub._release_json(request.repo, release)


def _list_assets(request: _Request) -> tuple[int, dict[str, str], Any]:
    assets = _find_release(request).get("assets", [])
    return _paginate(request, [request.hub._asset_json(request.repo, a) for a in assets])


def _upload_asset(request: _Request) -> tuple[int, dict[str, str], Any]:
    """POST .../releases/{id}/assets?name=N&label=L with the file as the raw body."""
    release = _find_release(request)
    name = request.query.get("name")
    if not name:
        raise HubError(422, "Validation Failed", [{"resource": "ReleaseAsset", "field": "name",
                                                   "code": "missing_field"}])  # fmt: skip
    assets = release.setdefault("assets", [])
    if any(a["name"] == name for a in assets):
        raise HubError(422, "Validation Failed", [{"resource": "ReleaseAsset", "field": "name",
                                                   "code": "already_exists"}])  # fmt: skip
    content: bytes = request.payload["content"]
    assert request.user is not None
    asset = {
        "id": request.hub._new_id(),
        "tag_name": release["tag_name"],
        "name": name,
        "label": request.query.get("label") or "",
        "content_type": "application/octet-stream",
        "size": len(content),
        "content": base64.b64encode(content).decode("ascii"),
        "created_at": _now(),
        "uploader": request.user,
    }
    assets.append(asset)
    return 201, {}, request.hub._asset_json(request.repo, asset)


def _create_status(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo, sha = request.hub, request.repo, request.params["sha"]
    state = request.string("state", required=True, resource="Status")
    if state not in STATUS_STATES:
        raise HubError(
            422, "Validation Failed", [{"resource": "Status", "code": "invalid", "field": "state"}]
        )
    status = {
        "id": hub._new_id(),
        "sha": sha,
        "state": state,
        "context": request.string("context") or "default",
        "description": request.string("description"),
        "target_url": request.string("target_url"),
        "created_at": _now(),
        "creator": request.user,
    }
    hub._repo(repo)["statuses"].setdefault(sha, []).append(status)
    return 201, {}, hub._status_json(repo, status)


def _list_statuses(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    items = hub._repo(repo)["statuses"].get(request.params["ref"], [])
    return _paginate(request, [hub._status_json(repo, s) for s in reversed(items)])


def _list_issues(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    state = request.query.get("state", "open")
    wanted = {x.strip() for x in request.query.get("labels", "").split(",") if x.strip()}
    chosen = []
    for issue in hub._repo(repo)["issues"].values():
        if state != "all" and issue["state"] != state:
            continue
        if not wanted <= {label["name"] for label in issue["labels"]}:
            continue
        chosen.append(issue)
    chosen.sort(key=lambda i: -int(i["number"]))
    return _paginate(request, [hub._issue_json(repo, i) for i in chosen])


def _get_issue(request: _Request) -> tuple[int, dict[str, str], Any]:
    issue = request.hub._issue(request.repo, request.int_param("number"))
    return 200, {}, request.hub._issue_json(request.repo, issue)


def _labels_from(request: _Request) -> list[dict[str, Any]] | None:
    labels = request.payload.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, list):
        raise HubError(422, "Validation Failed", [{"resource": "Issue", "code": "invalid"}])
    names = [x["name"] if isinstance(x, dict) else str(x) for x in labels]
    return [request.hub._label(name) for name in names]


def _create_issue(request: _Request) -> tuple[int, dict[str, str], Any]:
    hub, repo = request.hub, request.repo
    title = request.string("title", required=True, resource="Issue")
    assert request.user is not None
    state = hub._repo(repo)
    number = state["next_number"]
    state["next_number"] = number + 1
    now = _now()
    issue = {
        "number": number,
        "id": hub._new_id(),
        "title": title,
        "body": request.string("body") or "",
        "state": "open",
        "labels": _labels_from(request) or [],
        "author": request.user,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
    }
    state["issues"][str(number)] = issue
    return 201, {}, hub._issue_json(repo, issue)


def _edit_issue(request: _Request) -> tuple[int, dict[str, str], Any]:
    issue = request.hub._issue(request.repo, request.int_param("number"))
    for key in ("title", "body"):
        value = request.string(key)
        if value is not None:
            issue[key] = value
    new_state = request.string("state")
    if new_state is not None:
        if new_state not in {"open", "closed"}:
            raise HubError(422, "Validation Failed", [{"resource": "Issue", "code": "invalid"}])
        issue["state"] = new_state
        issue["closed_at"] = _now() if new_state == "closed" else None
    labels = _labels_from(request)
    if labels is not None:
        issue["labels"] = labels
    issue["updated_at"] = _now()
    return 200, {}, request.hub._issue_json(request.repo, issue)


_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(pattern), handler)
    for method, pattern, handler in [
        ("GET", r"/user", _get_user),
        ("GET", _REPO, _get_repo),
        ("GET", _REPO + r"/issues/(?P<number>\d+)/comments", _list_comments),
        ("POST", _REPO + r"/issues/(?P<number>\d+)/comments", _create_comment),
        ("GET", _REPO + r"/issues/comments/(?P<id>\d+)", _get_comment),
        ("PATCH", _REPO + r"/issues/comments/(?P<id>\d+)", _edit_comment),
        ("DELETE", _REPO + r"/issues/comments/(?P<id>\d+)", _delete_comment),
        ("GET", _REPO + r"/issues/(?P<number>\d+)/labels", _issue_labels),
        ("GET", _REPO + r"/issues", _list_issues),
        ("POST", _REPO + r"/issues", _create_issue),
        ("GET", _REPO + r"/issues/(?P<number>\d+)", _get_issue),
        ("PATCH", _REPO + r"/issues/(?P<number>\d+)", _edit_issue),
        ("GET", _REPO + r"/pulls/(?P<number>\d+)", _get_pull),
        ("GET", _REPO + r"/pulls", _list_pulls),
        ("POST", _REPO + r"/pulls", _create_pull),
        ("PATCH", _REPO + r"/pulls/(?P<number>\d+)", _edit_pull),
        ("GET", _REPO + r"/commits/(?P<sha>[^/]+)/pulls", _commit_pulls),
        ("GET", _REPO + r"/releases", _list_releases),
        ("POST", _REPO + r"/releases", _create_release),
        ("GET", _REPO + r"/releases/tags/(?P<tag>.+)", _release_by_tag),
        ("GET", _REPO + r"/releases/(?P<id>\d+)", _get_release),
        ("PATCH", _REPO + r"/releases/(?P<id>\d+)", _edit_release),
        ("GET", _REPO + r"/releases/(?P<id>\d+)/assets", _list_assets),
        ("POST", _REPO + r"/releases/(?P<id>\d+)/assets", _upload_asset),
        ("POST", _REPO + r"/statuses/(?P<sha>[^/]+)", _create_status),
        ("GET", _REPO + r"/commits/(?P<ref>.+)/statuses", _list_statuses),
        ("GET", _REPO + r"/statuses/(?P<ref>[^/]+)", _list_statuses),
    ]
]

# Routes whose request body is a file, not JSON.
_BINARY_BODY = {_upload_asset}


class _Handler(BaseHTTPRequestHandler):
    hub: LocalHub
    protocol_version = "HTTP/1.1"
    server_version = "localhub/1"

    def setup(self) -> None:
        super().setup()
        # One response is two writes (head, body): without this, Nagle + delayed ACK
        # add ~40 ms to every request on keep-alive connections.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith("/_localhub/"):
            status, body = self.hub.handle_admin(self.command, self.path, raw)
            headers: dict[str, str] = {}
        else:
            lowered = {k.lower(): v for k, v in self.headers.items()}
            status, headers, body = self.hub.handle(self.command, self.path, lowered, raw)
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve
