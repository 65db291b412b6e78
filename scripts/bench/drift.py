"""Benchmark `mlgitops drift`: the statistics alone, and the command on a git + DVC repo.

Usage: python scripts/bench/drift.py [--rows 1000 10000 100000] [--columns 30]

Prints a markdown table: rows x columns, seconds for the statistics (PSI, KS, chi-square
over every column) and for rendering the report, then the wall time of the whole command
(`mlgitops drift --reference <tag> --current <csv>`, reading the reference through DVC)
in a temporary repository, as wall and CPU seconds (CPU is steadier on a busy machine).
Offline; seeded data.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ENV

from mlgitops.core.drift import DriftPolicy, compute_drift
from mlgitops.core.markdown.drift import render_markdown


def frame(rows: int, columns: int, seed: int, shift: float) -> pd.DataFrame:
    """`columns` features: three numeric for each categorical one."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for index in range(columns):
        if index % 4 == 3:
            data[f"cat_{index}"] = rng.choice(["a", "b", "c", "d"], rows)
        else:
            data[f"num_{index}"] = rng.normal(shift * (index % 2), 1.0, rows)
    return pd.DataFrame(data)


def time_core(rows: int, columns: int) -> tuple[float, float]:
    reference = frame(rows, columns, 1, 0.0)
    current = frame(rows, columns, 2, 0.3)
    start = time.perf_counter()
    report = compute_drift(reference, current, DriftPolicy())
    middle = time.perf_counter()
    render_markdown(report)
    return middle - start, time.perf_counter() - middle


def run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)


def time_command(rows: int, columns: int) -> tuple[float, float]:
    """Wall and CPU seconds of the CLI in a fresh process, reference read through DVC."""
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        run("git", "init", "-q", cwd=repo)
        run(str(bin_dir / "dvc"), "init", "-q", cwd=repo)
        (repo / "data/raw").mkdir(parents=True)
        frame(rows, columns, 1, 0.0).to_csv(repo / "data/raw/data.csv", index=False)
        run(str(bin_dir / "dvc"), "add", "-q", "data/raw/data.csv", cwd=repo)
        run("git", "add", "-A", cwd=repo)
        run("git", "commit", "-q", "-m", "data", cwd=repo)
        run("git", "tag", "-a", "bench-model@v1.0.0", "-m", "v1", cwd=repo)
        frame(rows, columns, 2, 0.3).to_csv(repo / "current.csv", index=False)
        command = [str(bin_dir / "mlgitops"), "drift", "--reference", "bench-model@v1.0.0"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [*command, "--current", "current.csv", "--output", "report.md"],
            cwd=repo,
            env=ENV,
            capture_output=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode not in (0, 1):
            raise SystemExit(result.stderr.decode())
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--columns", type=int, default=30)
    args = parser.parse_args()
    print(
        "| rows | columns | statistics (s) | render (s) "
        "| `mlgitops drift` wall (s) | `mlgitops drift` CPU (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        stats_seconds, render_seconds = time_core(rows, args.columns)
        wall, cpu = time_command(rows, args.columns)
        print(
            f"| {rows} | {args.columns} | {stats_seconds:.3f} | {render_seconds:.3f} | "
            f"{wall:.2f} | {cpu:.2f} |"
        )
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
