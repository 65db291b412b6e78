"""Benchmark `mlgitops report` and `govern` against the DVC commands a user would run.

Usage: python scripts/bench/report.py [--repo PATH] [--runs 5]

Without --repo it bakes the default template into a temporary folder, trains it on
`main`, tags `<model>@v1.0.0`, and commits a PR branch with a param change retrained.
It then prints a markdown table of wall times (median of --runs) on the same revisions:
`mlgitops report --base main` (markdown and JSON), the report built in-process (no CLI
start-up), `dvc metrics diff --md main HEAD`, `mlgitops govern --base main` next to `dvc status`,
and `mlgitops --version` / `--help` (start-up alone); then the ratios the project holds
itself to (report <= 1.2 x `dvc metrics diff`, govern <= 1.5 x `dvc status`, start-up
<= 0.1 s), and the GitHub API calls of the sticky comment against the local
GitHub-like server. Offline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import BIN, ENV, ROOT

os.environ.update(ENV)


def sh(*command: str, cwd: Path) -> str:
    return subprocess.run(
        command, cwd=cwd, env=ENV, check=True, capture_output=True, text=True
    ).stdout


def prepare(workdir: Path) -> Path:
    """Bake, init, train on main, tag v1.0.0, and commit a retrained PR branch."""
    from cookiecutter.main import cookiecutter

    from mlgitops.bootstrap import init_repository

    repo = Path(cookiecutter(str(ROOT / "template"), no_input=True, output_dir=str(workdir)))
    init_repository(repo)
    sh("dvc", "repro", "--quiet", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "Train the first model", cwd=repo)
    model = next(line.split(":")[0].strip() for line in _artifacts(repo))
    sh("git", "tag", "-a", f"{model}@v1.0.0", "-m", "first release", cwd=repo)
    sh("git", "checkout", "-q", "-b", "shallower-trees", cwd=repo)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("max_depth: 8", "max_depth: 2", 1))
    sh("dvc", "repro", "--quiet", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "Shallower trees", cwd=repo)
    return repo


def _artifacts(repo: Path) -> list[str]:
    lines = (repo / "dvc.yaml").read_text().split("artifacts:", 1)[1].splitlines()
    return [line for line in lines if line.startswith("  ") and not line.startswith("   ")]


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, min) wall seconds over `runs`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def api_calls() -> list[tuple[str, int, str]]:
    from localhub.server import LocalHub
    from mlgitops.github.actions import ActionsSettings
    from mlgitops.github.client import connect
    from mlgitops.services.comment import marker, upsert_sticky_comment

    rows = []
    with LocalHub() as hub:
        hub.add_user("github-actions[bot]", "ghs_bench", type="Bot")
        hub.add_pull("acme/model", 1, head_sha="a" * 40)
        hub.add_pull("acme/model", 2, head_sha="b" * 40)
        settings = ActionsSettings(repository="acme/model", api_url=hub.api_url, token="ghs_bench")

        def run(number: int, body: str, label: str) -> None:
            hub.clear_requests()
            with connect(settings) as host:  # a fresh job: nothing cached
                result = upsert_sticky_comment(host, number, body)
            calls = " ".join(f"{r.method}" for r in hub.requests)
            rows.append((label, len(hub.requests), f"{result.action}: {calls}"))

        hub.add_comment("acme/model", 1, "LGTM", "alice")
        run(1, "report v1", "first report on a PR")
        run(1, "report v2", "typical update (comment on page 1)")
        run(1, "report v2", "re-run, same report")
        for i in range(205):
            hub.add_comment("acme/model", 2, f"chatter {i}", "alice")
        hub.add_comment("acme/model", 2, f"{marker('report')}\nold", "github-actions[bot]")
        for i in range(44):
            hub.add_comment("acme/model", 2, f"more {i}", "alice")
        run(2, "report v2", "update, 250 comments, ours on page 3")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="a trained repo with a PR branch checked out")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        started = time.perf_counter()
        repo = args.repo.resolve() if args.repo else prepare(Path(tmp))
        prepared = time.perf_counter() - started
        mlgitops = str(BIN / "mlgitops")

        from mlgitops.io.workspace import Workspace
        from mlgitops.services.report import ReportRequest, build_report

        def in_process() -> object:
            return build_report(Workspace.open(repo), ReportRequest(base="main"))

        def in_process_no_plots() -> object:
            return build_report(Workspace.open(repo), ReportRequest(base="main", plots=False))

        def govern() -> None:  # exit 1 (a rule failed) is a verdict too
            subprocess.run([mlgitops, "govern", "--base", "main"], cwd=repo, env=ENV,
                           capture_output=True, check=False)  # fmt: skip

        in_process()  # import DVC once, as the CLI pays it in every run
        rows = [
            ("`mlgitops report --base main`", timed(
                lambda: sh(mlgitops, "report", "--base", "main", cwd=repo), args.runs)),
            ("`mlgitops report --base main --format json`", timed(
                lambda: sh(mlgitops, "report", "--base", "main", "--format", "json", cwd=repo),
                args.runs)),
            ("`mlgitops report --base main --no-plots`", timed(
                lambda: sh(mlgitops, "report", "--base", "main", "--no-plots", cwd=repo),
                args.runs)),
            ("report built in-process (DVC imported)", timed(in_process, args.runs)),
            ("same, without plots", timed(in_process_no_plots, args.runs)),
            ("`dvc metrics diff --md main HEAD`", timed(
                lambda: sh("dvc", "metrics", "diff", "--md", "main", "HEAD", cwd=repo),
                args.runs)),
            ("`dvc params diff --md main HEAD`", timed(
                lambda: sh("dvc", "params", "diff", "--md", "main", "HEAD", cwd=repo),
                args.runs)),
            ("`mlgitops govern --base main`", timed(govern, args.runs)),
            ("`dvc status`", timed(lambda: sh("dvc", "status", cwd=repo), args.runs)),
            ("`mlgitops --version` (CLI start-up)", timed(
                lambda: sh(mlgitops, "--version", cwd=repo), args.runs)),
            ("`mlgitops --help` (every command's parser)", timed(
                lambda: sh(mlgitops, "--help", cwd=repo), args.runs)),
        ]  # fmt: skip
        print(
            f"Repository: {repo.name} ({'given' if args.repo else f'prepared in {prepared:.1f} s'})"
        )
        load = os.getloadavg()[0]
        print(f"CPUs: {os.cpu_count()}, load average {load:.1f}, runs per row: {args.runs}\n")
        print("| What | median s | min s |")
        print("|---|--:|--:|")
        for label, (median, best) in rows:
            print(f"| {label} | {median:.2f} | {best:.2f} |")
        medians = {label: median for label, (median, _) in rows}
        report_s = medians["`mlgitops report --base main`"]
        diff_s = medians["`dvc metrics diff --md main HEAD`"]
        govern_s = medians["`mlgitops govern --base main`"]
        status_s = medians["`dvc status`"]
        start_s = medians["`mlgitops --version` (CLI start-up)"]
        print("\n| Ratio (medians) | measured | goal |")
        print("|---|--:|--:|")
        print(f"| report / `dvc metrics diff --md` | {report_s / diff_s:.2f} x | <= 1.2 x |")
        print(f"| govern / `dvc status` | {govern_s / status_s:.2f} x | <= 1.5 x |")
        print(f"| CLI start-up (`--version`) | {start_s:.2f} s | <= 0.1 s |")
        print("\n| Sticky comment (fresh job, Actions token) | API calls | Requests |")
        print("|---|--:|---|")
        for label, count, detail in api_calls():
            print(f"| {label} | {count} | {detail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
