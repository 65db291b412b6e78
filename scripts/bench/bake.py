"""Benchmark baking a repository from the template and training it for the first time.

Usage: python scripts/bench/bake.py [--runs 3] [--keep DIR] [-- extra cookiecutter answers]

Per run, in a fresh temporary folder: `cookiecutter --no-input` (bake), `mlgitops init`
(git init, dvc init, dvc add, remote, first commit), the first `dvc repro` (every stage,
with the wall time of each stage read from dvc's own output as it streams), a second
`dvc repro` (everything cached), and `dvc push` to the local remote. Then each stage's
command alone (`python src/<pkg>/<stage>.py`, outside DVC) to show how much is Python and
library start-up versus DVC. Prints a markdown table: median and min over --runs. Offline.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import ENV, ROOT

STAGES = ("prepare", "train", "evaluate", "model_card")
RUNNING = re.compile(r"^Running stage '([^']+)'")


def run(command: list[str], cwd: Path) -> float:
    """Run `command`, fail loudly; returns wall seconds."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def repro_with_stage_times(cwd: Path) -> tuple[float, dict[str, float]]:
    """`dvc repro`, timing each stage from its 'Running stage' line to the next marker."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["dvc", "repro"],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    stages: dict[str, float] = {}
    current: str | None = None
    mark = started
    for line in process.stdout:
        now = time.perf_counter()
        match = RUNNING.match(line)
        if match or line.startswith(("Updating lock file", "Use `dvc push`", "To track")):
            if current is not None and line.startswith("Updating lock file"):
                stages[current] = now - mark
                current = None
            if match:
                current, mark = match.group(1), now
    if process.wait() != 0:
        raise SystemExit("dvc repro failed")
    return time.perf_counter() - started, stages


def one_run(workdir: Path, answers: list[str]) -> dict[str, float]:
    timings: dict[str, float] = {}
    timings["bake (cookiecutter --no-input)"] = run(
        [
            "cookiecutter",
            "--no-input",
            "--output-dir",
            str(workdir),
            str(ROOT / "template"),
            *answers,
        ],
        workdir,
    )
    repo = next(path for path in workdir.iterdir() if (path / "dvc.yaml").is_file())
    timings["mlgitops init"] = run(["mlgitops", "init"], repo)
    total, stages = repro_with_stage_times(repo)
    timings["first dvc repro (total)"] = total
    for name in STAGES:
        timings[f"  stage {name} (in dvc repro)"] = stages.get(name, float("nan"))
    timings["second dvc repro (cached)"] = run(["dvc", "repro"], repo)
    timings["dvc push (local remote)"] = run(["dvc", "push"], repo)
    package = next(path.name for path in (repo / "src").iterdir() if path.is_dir())
    for name in STAGES:
        timings[f"  {name}.py alone (no dvc)"] = run(
            [sys.executable, f"src/{package}/{name}.py"], repo
        )
    timings["python -c 'import pandas, sklearn.ensemble'"] = run(
        [sys.executable, "-c", "import pandas, sklearn.ensemble, sklearn.inspection"], repo
    )
    timings["bake + init + first repro"] = (
        timings["bake (cookiecutter --no-input)"]
        + timings["mlgitops init"]
        + timings["first dvc repro (total)"]
    )
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="bake here and keep the repositories")
    parser.add_argument("answers", nargs="*", help="extra cookiecutter answers, key=value")
    args = parser.parse_args()

    results: dict[str, list[float]] = defaultdict(list)
    for index in range(args.runs):
        if args.keep:
            workdir = args.keep / f"run-{index}"
            workdir.mkdir(parents=True, exist_ok=False)
        else:
            workdir = Path(tempfile.mkdtemp(prefix="bench-bake-"))
        try:
            for name, seconds in one_run(workdir, args.answers).items():
                results[name].append(seconds)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        print(f"run {index + 1}/{args.runs} done", file=sys.stderr)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Bake and first training, {args.runs} runs, {os.cpu_count()} CPUs, load {load:.1f}")
    print(f"answers: {' '.join(args.answers) or '(defaults: breast_cancer classification)'}\n")
    print("| step | median s | min s |")
    print("| --- | ---: | ---: |")
    for name, values in results.items():
        label = name.replace("  ", "&nbsp;&nbsp;")
        print(f"| {label} | {statistics.median(values):.2f} | {min(values):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
