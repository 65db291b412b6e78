"""Benchmark: next-version computation and `mlgitops history` with thousands of tags.

Builds a throwaway repository whose bare `origin` holds N annotated GTO tags (made in
one `git fast-import` run), clones it, and times, as the promote command runs them:
  - fetch tags from origin when nothing changed (`git fetch refs/tags/*`),
  - read every tag with one `git for-each-ref`,
  - parse them and compute the next version (pure Python),
  - `mlgitops promote --dry-run` end to end (a new process: CLI start-up included),
  - `mlgitops history` (in-process and as a new process), and `gto show` for reference.

Usage: python scripts/bench/promote.py [--tags 5000] [--models 5] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import BIN, ENV

from mlgitops.core.tags import parse_tag
from mlgitops.core.versioning import Bump, build_history, next_version
from mlgitops.io.git import Git


def sh(*args: str, cwd: Path, stdin: str | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=ENV, input=stdin, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {result.stderr}")
    return result.stdout


def tag_names(total: int, models: int) -> list[tuple[str, int]]:
    """(tag, commit index) pairs: per model 80% versions, 20% stage assignments."""
    names: list[tuple[str, int]] = []
    per_model = total // models
    for m in range(models):
        model = f"model-{m}"
        versions = per_model * 4 // 5
        for i in range(versions):
            # One version per commit, as GTO requires (and promote guarantees).
            names.append((f"{model}@v{i // 100}.{(i // 10) % 10}.{i % 10}", i))
        for n in range(1, per_model - versions + 1):
            stage = "staging" if n % 2 else "production"
            names.append((f"{model}#{stage}#{n}", (n * 3) % versions))
    return names


def build(root: Path, total: int, models: int) -> tuple[Path, Path, int]:
    origin = root / "origin.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    artifacts = "".join(
        f"  model-{m}:\n    path: models/model-{m}.pkl\n    type: model\n" for m in range(models)
    )
    tags = tag_names(total, models)
    commits = max(index for _, index in tags) + 1
    stream = []
    for c in range(commits):
        files = ""
        if c == 0:
            body = f"artifacts:\n{artifacts}"
            files = f"M 100644 inline dvc.yaml\ndata {len(body.encode())}\n{body}\n"
        message = f"commit {c}"
        parent = f"from :{c}\n" if c else ""
        stream.append(
            f"commit refs/heads/main\nmark :{c + 1}\n"
            f"committer Bench <bench@example.com> {1_700_000_000 + c} +0000\n"
            f"data {len(message)}\n{message}\n{parent}{files}"
        )
    for i, (name, commit) in enumerate(tags):
        message = f"{name}\n"
        stream.append(
            f"tag {name}\nfrom :{commit + 1}\n"
            f"tagger Bench <bench@example.com> {1_700_000_100 + i} +0000\n"
            f"data {len(message)}\n{message}"
        )
    sh("git", "fast-import", "--quiet", cwd=origin, stdin="\n".join(stream) + "\n")
    work = root / "work"
    sh("git", "clone", "--quiet", str(origin), str(work), cwd=root)
    return origin, work, commits


def timed(label: str, repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"{label:<58} median {median * 1000:8.1f} ms  (min {min(times) * 1000:.1f}, n={repeat})")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=5000)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-gto", action="store_true", help="skip timing `gto show` (slow)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mlgitops-bench-"))
    try:
        start = time.perf_counter()
        _, work, commits = build(root, args.tags, args.models)
        count = len(sh("git", "tag", "-l", cwd=work).split())
        print(
            f"repository: {count} annotated tags, {args.models} models, {commits} commits "
            f"(built in {time.perf_counter() - start:.1f} s)"
        )
        model = "model-0"
        refs = Git(work).tag_refs()
        names = [r.name for r in refs]
        print(f"next version of {model}: {next_version(model, names, Bump.MINOR)}")

        timed("git fetch of tags from origin (up to date)", args.repeat,
              lambda: Git(work).fetch_tags("origin"))  # fmt: skip
        timed("read all tags: git for-each-ref", args.repeat, lambda: Git(work).tag_refs())

        def cold(action: Callable[[], object]) -> Callable[[], object]:
            return lambda: (parse_tag.cache_clear(), action())

        timed("parse + next_version (pure, cold parse cache)", args.repeat,
              cold(lambda: next_version(model, names, Bump.MINOR)))  # fmt: skip
        timed("parse + build_history of one model (pure, cold)", args.repeat,
              cold(lambda: build_history(model, refs)))  # fmt: skip

        def next_total() -> None:
            parse_tag.cache_clear()
            Git(work).fetch_tags("origin")
            next_version(model, [r.name for r in Git(work).tag_refs()], Bump.MINOR)

        timed("TOTAL next version: fetch + read + compute", args.repeat, next_total)

        mlgitops = [str(BIN / "mlgitops")] if (BIN / "mlgitops").exists() else ["mlgitops"]
        dry_run = (*mlgitops, "promote", "--dry-run", "--model", model)
        timed("mlgitops promote --dry-run --model model-0 (process)", args.repeat,
              lambda: sh(*dry_run, cwd=work))  # fmt: skip
        timed("mlgitops history, all models (process)", args.repeat,
              lambda: sh(*mlgitops, "history", cwd=work))  # fmt: skip
        timed("mlgitops --version (process start-up alone)", args.repeat,
              lambda: sh(*mlgitops, "--version", cwd=work))  # fmt: skip

        from mlgitops import cli

        def history_in_process() -> None:
            cwd = os.getcwd()
            os.chdir(work)
            try:
                with open(os.devnull, "w") as sink:
                    stdout, sys.stdout = sys.stdout, sink
                    try:
                        cli.main(["history", "--format", "json"])
                    finally:
                        sys.stdout = stdout
            finally:
                os.chdir(cwd)

        timed("mlgitops history --format json (in-process)", args.repeat, history_in_process)
        gto = BIN / "gto"
        if gto.exists() and not args.skip_gto:
            timed("gto show (reference, process)", 1, lambda: sh(str(gto), "show", cwd=work))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
