"""Benchmark `mlgitops report` and `govern` against the DVC commands a user would run.

Usage: python scripts/bench/report.py [--repo PATH] [--runs 7] [--startup-runs 10]

Without --repo it bakes the default template into a temporary folder, trains it on
`main`, tags `<model>@v1.0.0`, and commits a PR branch with a param change retrained.
On the same revisions it then times, in interleaved rounds (so that other load on the
machine falls on every command alike), wall and CPU time (user + system of the process
and its children) of: `mlgitops report --base main` (markdown, JSON, without plots),
the report built in-process (no CLI start-up), `dvc metrics diff --md main HEAD`,
`dvc params diff`, `mlgitops govern --base main` next to `dvc status`; then the CLI's
start-up alone: `mlgitops --version`, `--help` and `mlgitops <command> --help` for every
command. It prints medians, the ratios the project holds itself to (report <= 1.2 x
`dvc metrics diff`, govern <= 1.5 x `dvc status`, start-up <= 0.1 s), the load average
before and after, and the GitHub API calls of the sticky comment against the local
GitHub-like server. Offline.

Python caches bytecode as an installed package has it: PYTHONDONTWRITEBYTECODE is
dropped and the cache goes to a temporary PYTHONPYCACHEPREFIX, warmed before timing.
Without that, every run of mlgitops would compile its modules from source while DVC's
come precompiled from its wheel.
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


Sample = tuple[float, float]  # (wall s, CPU s)


def run_once(command: list[str], cwd: Path, env: dict[str, str]) -> Sample:
    """Wall and CPU (user + system, the process and its children) of one run.

    Exit 1 is accepted: `govern` failing a rule is a verdict too."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)  # fmt: skip
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def in_process(action: Callable[[], object]) -> Sample:
    started, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - cpu


def interleaved(actions: dict[str, Callable[[], Sample]], runs: int) -> dict[str, Sample]:
    """Median wall and CPU of each action over `runs` rounds, each round running every
    action once, in order."""
    samples: dict[str, list[Sample]] = {label: [] for label in actions}
    for _ in range(runs):
        for label, action in actions.items():
            samples[label].append(action())
    return {
        label: (statistics.median(w for w, _ in found), statistics.median(c for _, c in found))
        for label, found in samples.items()
    }


def bytecode_cached_env(cache: Path) -> dict[str, str]:
    env = {**ENV, "PYTHONPYCACHEPREFIX": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


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
    parser.add_argument("--runs", type=int, default=7, help="rounds of the report/govern rows")
    parser.add_argument("--startup-runs", type=int, default=10, help="rounds of start-up rows")
    args = parser.parse_args()

    from mlgitops.cli import COMMANDS

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        started = time.perf_counter()
        repo = args.repo.resolve() if args.repo else prepare(Path(tmp))
        prepared = time.perf_counter() - started
        env = bytecode_cached_env(Path(tmp) / "pycache")
        mlgitops, dvc = str(BIN / "mlgitops"), str(BIN / "dvc")

        from mlgitops.io.workspace import Workspace
        from mlgitops.services.report import ReportRequest, build_report

        def report_in_process(plots: bool = True) -> object:
            request = ReportRequest(base="main", plots=plots)
            return build_report(Workspace.open(repo), request)

        def cli(*argv: str) -> Callable[[], Sample]:
            return lambda: run_once([mlgitops, *argv], repo, env)

        def dvc_cli(*argv: str) -> Callable[[], Sample]:
            return lambda: run_once([dvc, *argv], repo, env)

        main_rows = {
            "`mlgitops report --base main`": cli("report", "--base", "main"),
            "`mlgitops report --base main --format json`": cli(
                "report", "--base", "main", "--format", "json"),
            "`mlgitops report --base main --no-plots`": cli(
                "report", "--base", "main", "--no-plots"),
            "report built in-process (DVC imported)": lambda: in_process(report_in_process),
            "same, without plots": lambda: in_process(lambda: report_in_process(False)),
            "`dvc metrics diff --md main HEAD`": dvc_cli("metrics", "diff", "--md", "main", "HEAD"),
            "`dvc params diff --md main HEAD`": dvc_cli("params", "diff", "--md", "main", "HEAD"),
            "`mlgitops govern --base main`": cli("govern", "--base", "main"),
            "`dvc status`": dvc_cli("status"),
        }  # fmt: skip
        startup_rows = {
            "`mlgitops --version`": cli("--version"),
            "`mlgitops --help`": cli("--help"),
            **{f"`mlgitops {name} --help`": cli(name, "--help") for name in COMMANDS},
        }
        # Warm-up: the bytecode cache, DVC's site-packages cache, this process's imports.
        for action in [*main_rows.values(), *startup_rows.values()]:
            action()
        load_before = os.getloadavg()
        measured = interleaved(main_rows, args.runs)
        startup = interleaved(startup_rows, args.startup_runs)
        load_after = os.getloadavg()

        print(
            f"Repository: {repo.name} ({'given' if args.repo else f'prepared in {prepared:.1f} s'})"
        )
        print(
            f"CPUs: {os.cpu_count()}, load average (1, 5, 15 min) before "
            f"{', '.join(f'{x:.2f}' for x in load_before)}, after "
            f"{', '.join(f'{x:.2f}' for x in load_after)}; rounds: {args.runs} "
            f"(start-up: {args.startup_runs})\n"
        )
        print("| What | median wall s | median CPU s |")
        print("|---|--:|--:|")
        for label, (wall, cpu) in {**measured, **startup}.items():
            print(f"| {label} | {wall:.3f} | {cpu:.3f} |")

        def ratio(label: str, versus: str) -> str:
            (wall, cpu), (base_wall, base_cpu) = measured[label], measured[versus]
            return f"{wall / base_wall:.2f} x | {cpu / base_cpu:.2f} x"

        slowest = max(startup.items(), key=lambda item: item[1][0])
        print("\n| Goal (medians) | wall | CPU | goal |")
        print("|---|--:|--:|--:|")
        report_ratio = ratio("`mlgitops report --base main`", "`dvc metrics diff --md main HEAD`")
        print(f"| report / `dvc metrics diff --md` | {report_ratio} | <= 1.2 x |")
        govern_ratio = ratio("`mlgitops govern --base main`", "`dvc status`")
        print(f"| govern / `dvc status` | {govern_ratio} | <= 1.5 x |")
        print(
            f"| slowest start-up: {slowest[0]} | {slowest[1][0]:.3f} s | {slowest[1][1]:.3f} s "
            "| <= 0.1 s |"
        )
        print("\n| Sticky comment (fresh job, Actions token) | API calls | Requests |")
        print("|---|--:|---|")
        for label, count, detail in api_calls():
            print(f"| {label} | {count} | {detail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
