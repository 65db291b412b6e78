"""The one reader (and tag writer) of a git work tree: every `git` this package runs.

Answers are cached for the life of the object, which lives as long as one command:
commits that git itself printed (tags, merge-bases) are never re-verified, and file
contents at any number of revisions come from one `git cat-file --batch`.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlgitops.core.versioning import TagRef
from mlgitops.errors import InputError, Location, MlgitopsError, ToolError, UsageError
from mlgitops.proc import run

FETCH_DEPTH_HINT = (
    "check out the full history: actions/checkout with `fetch-depth: 0` "
    "(the merge-base and the version tags are needed)"
)
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_BRANCH_NAME = re.compile(r"[A-Za-z0-9._/-]+")
_REF_FORMAT = (
    "%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)"
    "%00%(creatordate:iso-strict)%00%(creatordate:unix)"
)


class TagConflict(MlgitopsError):
    """A tag we need already exists at another commit: someone must decide; exit 2."""


@dataclass(frozen=True)
class RemoteTag:
    """A tag as the remote has it: the commit it names, and whether it is a tag object."""

    name: str
    commit: str
    annotated: bool


@dataclass
class Git:
    """A git work tree at `root`. Every failure is a ToolError naming the command."""

    root: Path
    shallow: bool = False
    _commits: dict[str, str | None] = field(default_factory=dict, repr=False)
    _remotes: list[str] | None = field(default=None, repr=False)
    _blobs: dict[tuple[str, str], str | None] = field(default_factory=dict, repr=False)
    _trees: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def find(cls, start: Path | str = ".") -> Git:
        """The work tree containing `start`, whether it is shallow, and its HEAD commit,
        from ONE `git rev-parse`."""
        start = Path(start)
        result = run(
            ["git", "rev-parse", "--show-toplevel", "--is-shallow-repository",
             "--verify", "--quiet", "HEAD^{commit}"],
            start,
            check=False,
        )  # fmt: skip
        lines = result.stdout.split("\n")
        if result.returncode not in (0, 1) or len(lines) < 2 or not lines[0]:
            raise InputError("not inside a git repository", location=Location(str(start.resolve())))
        found = cls(Path(lines[0]), shallow=lines[1] == "true")
        found._commits["HEAD"] = lines[2] if result.returncode == 0 and len(lines) > 2 else None
        return found

    def run(self, *args: str, check: bool = True, input_text: str | None = None) -> str:
        """`git <args>`; stdout without the trailing newline."""
        return run(["git", *args], self.root, check=check, input_text=input_text).stdout.rstrip(
            "\n"
        )

    def _try(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(["git", *args], self.root, check=False)

    # ----------------------------------------------------------------- revisions
    def commit_of(self, ref: str) -> str | None:
        """The commit `ref` names, or None. A full SHA is taken as it is (git printed it)."""
        if _FULL_SHA.fullmatch(ref):
            return ref
        if ref not in self._commits:
            result = self._try(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
            )
            self._commits[ref] = result.stdout.strip() if result.returncode == 0 else None
        return self._commits[ref]

    def head(self) -> str | None:
        return self.commit_of("HEAD")

    def resolve(self, ref: str) -> tuple[str, str]:
        """(name used, commit) for `ref`, trying `origin/<ref>` too (a PR checkout has no
        local branch of its target) and fetching that branch when it is not there."""
        for candidate in (ref, f"origin/{ref}"):
            sha = self.commit_of(candidate)
            if sha:
                return candidate, sha
        if self.has_remote("origin") and _BRANCH_NAME.fullmatch(ref):
            fetched = self._try(
                "fetch", "--quiet", "origin", f"+refs/heads/{ref}:refs/remotes/origin/{ref}"
            )
            if fetched.returncode == 0:
                self._commits.pop(f"origin/{ref}", None)
                sha = self.commit_of(f"origin/{ref}")
                if sha:
                    self.ensure_history()
                    return f"origin/{ref}", sha
        hint = FETCH_DEPTH_HINT if self.shallow else "fetch it, or pass another --base"
        raise InputError(f"git revision '{ref}' not found", hint=hint)

    def has_remote(self, name: str) -> bool:
        if self._remotes is None:
            self._remotes = self.run("remote").split()
        return name in self._remotes

    def ensure_history(self) -> bool:
        """Unshallow a shallow clone (history and tags); True if it fetched."""
        if not self.shallow:
            return False
        result = self._try("fetch", "--quiet", "--unshallow", "--tags", "origin")
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ToolError(
                "this is a shallow clone and fetching its history failed: "
                + (detail[-1] if detail else f"exit code {result.returncode}"),
                hint=FETCH_DEPTH_HINT,
            )
        self.shallow = False
        return True

    def merge_base(self, left: str, right: str) -> str | None:
        result = self._try("merge-base", left, right)
        return result.stdout.strip() if result.returncode == 0 else None

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when `older` is `newer` or one of its ancestors."""
        result = self._try("merge-base", "--is-ancestor", older, newer)
        if result.returncode not in (0, 1):
            raise ToolError(f"git could not compare {older[:12]} and {newer[:12]}: "
                            f"{(result.stderr or result.stdout).strip()}")  # fmt: skip
        return result.returncode == 0

    def is_dirty(self) -> bool:
        return bool(self.run("status", "--porcelain", "--untracked-files=no"))

    def first_parents(self, commit: str, since: str, limit: int) -> list[str]:
        """Up to `limit` first-parent commits from `commit` back to (not including) `since`."""
        listed = self.run("rev-list", "--first-parent", f"--max-count={limit}", commit, f"^{since}")
        return listed.split()

    # ----------------------------------------------------------------- files
    def read_files(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """Text of each (commit, path), None where absent, from ONE `git cat-file --batch`."""
        missing = [key for key in dict.fromkeys(wanted) if key not in self._blobs]
        if missing:
            request = "".join(f"{rev}:{path}\n" for rev, path in missing).encode()
            output = subprocess.run(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                input=request,
                capture_output=True,
                check=False,
            )
            if output.returncode != 0:
                raise ToolError(f"'git cat-file --batch' failed: {output.stderr.decode().strip()}")
            data, position = output.stdout, 0
            for key in missing:
                end = data.index(b"\n", position)
                header = data[position:end].split()
                position = end + 1
                if len(header) == 3 and header[1] == b"blob":
                    size = int(header[2])
                    self._blobs[key] = data[position : position + size].decode(
                        "utf-8", errors="replace"
                    )
                    position += size + 1
                else:
                    if len(header) == 3:  # a tree or a commit: skip its bytes
                        position += int(header[2]) + 1
                    self._blobs[key] = None
        return {key: self._blobs[key] for key in wanted}

    def show(self, rev: str, path: str) -> str | None:
        """A file's text at `rev`, or None when it is absent."""
        return self.read_files([(rev, path)])[(rev, path)]

    def tracked_paths(self, commit: str) -> list[str]:
        """Every file path in `commit` (read once per commit)."""
        if commit not in self._trees:
            listing = self.run("ls-tree", "-r", "--name-only", "-z", commit)
            self._trees[commit] = [p for p in listing.split("\0") if p]
        return self._trees[commit]

    def archive(self, commit: str, output: Path) -> None:
        self.run("archive", "--format=tar", "-o", str(output), commit)

    # ----------------------------------------------------------------- branches
    def remote_url(self, remote: str) -> str | None:
        """The fetch URL of `remote`, or None when there is no such remote."""
        result = self._try("remote", "get-url", remote)
        url = result.stdout.strip()
        return url if result.returncode == 0 and url else None

    def default_branch(self, remote: str, fallback: str = "main") -> str:
        """The branch `remote`'s HEAD names (as the clone recorded it), else `fallback`."""
        result = self._try("symbolic-ref", "--short", f"refs/remotes/{remote}/HEAD")
        name = result.stdout.strip()
        return name.split("/", 1)[-1] if result.returncode == 0 and name else fallback

    def commit_files(self, parent: str, texts: Mapping[str, str], message: str) -> str | None:
        """A commit on `parent` with `texts` (path -> content) written, made in a private
        index so that the user's index and working tree stay as they are; None when it
        would change nothing."""
        with tempfile.TemporaryDirectory(prefix="mlgitops-index-") as scratch:
            env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
            run(["git", "read-tree", parent], self.root, env=env)
            for name, text in sorted(texts.items()):
                blob = self.run("hash-object", "-w", "--stdin", input_text=text)
                run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}"],
                    self.root, env=env)  # fmt: skip
            tree = run(["git", "write-tree"], self.root, env=env).stdout.strip()
        if tree == self.run("rev-parse", f"{parent}^{{tree}}"):
            return None
        return self.run("commit-tree", tree, "-p", parent, "-m", message)

    def force_push_branch(self, remote: str, commit: str, branch: str) -> None:
        """Point `branch` on `remote` at `commit`, forced: for branches only mlgitops
        writes (a deploy PR's head is re-made from the default branch each time)."""
        self.run("push", "--quiet", "--force", remote, f"{commit}:refs/heads/{branch}")

    # ----------------------------------------------------------------- tags
    def tag_refs(self) -> list[TagRef]:
        """Every local tag with its commit, from ONE `git for-each-ref`."""
        refs = []
        for line in self.run("for-each-ref", f"--format={_REF_FORMAT}", "refs/tags").splitlines():
            name, kind, obj, peeled, date, unix = line.split("\0")
            timestamp = int(unix) if unix.isdigit() else 0
            if kind == "tag":
                refs.append(TagRef(name, peeled, date, annotated=True, timestamp=timestamp))
            elif kind == "commit":
                refs.append(TagRef(name, obj, date, annotated=False, timestamp=timestamp))
        return refs

    def tag_message(self, tag: str) -> str:
        return self.run("tag", "-l", "--format=%(contents)", tag)

    def remote_tags(self, remote: str, names: Sequence[str] = ()) -> dict[str, RemoteTag]:
        """Tags on the remote (all, or `names`), with the commit each names."""
        own: dict[str, str] = {}
        peeled: dict[str, str] = {}
        patterns = [f"refs/tags/{name}" for name in names]
        for line in self.run("ls-remote", "--tags", remote, *patterns).splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/tags/")
            if name.endswith("^{}"):
                peeled[name[:-3]] = sha
            else:
                own[name] = sha
        return {
            name: RemoteTag(name, peeled.get(name, sha), name in peeled)
            for name, sha in own.items()
        }

    def fetch_tags(self, remote: str) -> None:
        """Fetch every tag from `remote`, never overwriting a local one; a local tag that
        differs from the remote's is a TagConflict naming both commits."""
        if not self.has_remote(remote):
            raise UsageError(
                f"no git remote named '{remote}': tags are read from and pushed to it",
                hint="pass --remote NAME, or 'git remote add origin URL'",
            )
        result = self._try("fetch", "--quiet", "--no-tags", remote, "refs/tags/*:refs/tags/*")
        if result.returncode == 0:
            return
        local = {ref.name: ref.commit for ref in self.tag_refs()}
        clashes = [
            f"'{name}': local {local[name]}, {remote} {tag.commit}"
            for name, tag in sorted(self.remote_tags(remote).items())
            if name in local and local[name] != tag.commit
        ]
        if clashes:
            raise TagConflict(
                "local tags differ from the remote's: " + "; ".join(clashes),
                hint="tags are never overwritten; delete the stale LOCAL tag "
                "(git tag -d NAME) if the remote is right",
            )
        detail = (result.stderr or result.stdout).strip()
        raise ToolError(f"could not fetch tags from '{remote}': {detail}")

    def committer(self) -> tuple[str, int, str]:
        """(name <email>, seconds, zone) git would record as tagger now."""
        person, seconds, zone = self.run("var", "GIT_COMMITTER_IDENT").rsplit(" ", 2)
        return person, int(seconds), zone

    def make_tag_object(self, tag: str, commit: str, message: str, tagger: str) -> str:
        """An annotated tag object for `commit`, not yet referenced by any ref."""
        content = f"object {commit}\ntype commit\ntag {tag}\ntagger {tagger}\n\n{message}"
        return self.run("mktag", input_text=content).strip()

    def push_new_refs(self, remote: str, refs: Sequence[tuple[str, str]]) -> bool:
        """Push (object, full ref) pairs atomically, never forced: a tag must be new, any
        other ref may only fast-forward. False when the remote refused because someone
        else wrote first; ToolError for any other failure. Pushed tags are created
        locally too."""
        specs = [f"{obj}:{ref}" for obj, ref in refs]
        result = self._try("push", "--porcelain", "--atomic", remote, *specs)
        if result.returncode != 0:
            if self._written_by_someone_else(remote, refs):
                return False
            detail = (result.stdout + result.stderr).strip()
            names = ", ".join(ref.removeprefix("refs/tags/") for _, ref in refs)
            raise ToolError(f"git push of {names} failed: {detail}")
        for obj, ref in refs:
            if ref.startswith("refs/tags/"):
                self._try("update-ref", ref, obj, "")
        return True

    def remote_refs(self, remote: str, names: Sequence[str]) -> dict[str, str]:
        """Full ref name → object id on the remote, for those of `names` it has."""
        listed = self._try("ls-remote", remote, *names)
        if listed.returncode != 0:
            detail = (listed.stderr or listed.stdout).strip()
            raise ToolError(f"could not list refs of '{remote}': {detail}")
        held = {}
        for line in listed.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            held[ref] = sha
        return held

    def _written_by_someone_else(self, remote: str, refs: Sequence[tuple[str, str]]) -> bool:
        """After a refused push: does the remote now hold one of our tags, or another
        value of one of our other refs? (Refused by the client as "[rejected]", or by the
        server when another push landed between the ref advertisement and ours.)"""
        try:
            held = self.remote_refs(remote, [ref for _, ref in refs])
        except ToolError:
            return False
        for obj, ref in refs:
            if ref in held and (ref.startswith("refs/tags/") or held[ref] != obj):
                return True
        return False
