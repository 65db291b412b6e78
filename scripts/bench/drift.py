"""Benchmark `mlgitops drift`: the statistics alone, and the command on a git + DVC repo.

Usage: python scripts/bench/drift.py [--rows 1000 10000 100000] [--columns 30]
           [--log-rows 100000 1000000] [--whole-max 100000]
           [--serve-repo DIR --serve-model REF] [--sections csv logs logging serve]

Prints a markdown table: rows x columns, seconds for the statistics (PSI, KS, chi-square
over every column) and for rendering the report, then the wall time of the whole command
(`mlgitops drift --reference <tag> --current <csv>`, reading the reference through DVC)
in a temporary repository, as wall and CPU seconds (CPU is steadier on a busy machine).
Offline; seeded data.

Prediction logs (`--log-rows`): that many records x `--columns` inputs written by the
real log writer, judged by `mlgitops drift --current <folder>` in a fresh process against
a 10,000-row reference: wall time and peak RSS (bounded: compare 100k with 1M), next to
reading every record into one DataFrame first and judging it whole (what one would do
with pandas; up to `--whole-max` records, as its memory grows with the rows).

Logging cost (`logging`): the writer's time per one-row request (30 inputs), in-process.
With `--serve-repo` (a trained repository with a promoted version, e.g. kept by
`bench/bake.py --keep`): served one-row latency p50/p99 with and without the log, on
127.0.0.1, one client, a bounded number of requests.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
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
from mlgitops.serving.predlog import PredictionLogWriter


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


def write_logs(folder: Path, rows: int, columns: int) -> None:
    """`rows` one-row requests of `columns` inputs (shifted data), in 64 MiB segments."""
    writer = PredictionLogWriter(folder, model="bench-model", version="v1.0.0")
    block = 50_000
    for start in range(0, rows, block):
        part = frame(min(block, rows - start), columns, 2 + start, 0.3)
        for i, row in enumerate(part.to_dict(orient="records")):
            writer.log(request_id=f"r{start + i}", inputs=[row], outputs=[i % 2], latency_ms=5.0)
    writer.close()


WHOLE = """
import sys
from pathlib import Path
import pandas as pd
from mlgitops.core.drift import DriftPolicy, compute_drift
from mlgitops.serving.predlog import ReadStats, iter_folder
reference = pd.read_csv(sys.argv[1])
records = iter_folder(Path(sys.argv[2]), ReadStats())
current = pd.DataFrame.from_records([r["inputs"] for r in records])
compute_drift(reference, current, DriftPolicy())
"""


def measured(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None
    if code not in (0, 1):
        raise SystemExit(f"{command} failed ({code}): {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def bench_logs(rows_list: list[int], columns: int, whole_max: int) -> None:
    bin_dir = Path(sys.executable).parent
    print(
        "\n| logged predictions | columns | log size (MiB) | `mlgitops drift` wall / CPU (s) "
        "| peak RSS (MiB) | whole table wall / CPU (s) | whole table peak RSS (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / "repo"
        repo.mkdir()
        run("git", "init", "-q", cwd=repo)
        run(str(bin_dir / "dvc"), "init", "-q", cwd=repo)
        (repo / "data/raw").mkdir(parents=True)
        frame(10_000, columns, 1, 0.0).to_csv(repo / "data/raw/data.csv", index=False)
        run(str(bin_dir / "dvc"), "add", "-q", "data/raw/data.csv", cwd=repo)
        run("git", "add", "-A", cwd=repo)
        run("git", "commit", "-q", "-m", "data", cwd=repo)
        run("git", "tag", "-a", "bench-model@v1.0.0", "-m", "v1", cwd=repo)
        for rows in rows_list:
            logs = Path(folder) / f"logs-{rows}"
            write_logs(logs, rows, columns)
            size = sum(p.stat().st_size for p in logs.glob("*.jsonl")) / 2**20
            command = [str(bin_dir / "mlgitops"), "drift", "--reference", "bench-model@v1.0.0"]
            wall, cpu, rss = measured([*command, "--current", str(logs), "--output", "r.md"], repo)
            whole = "—", "—"
            if rows <= whole_max:
                seconds, whole_cpu, peak = measured(
                    [sys.executable, "-c", WHOLE, str(repo / "data/raw/data.csv"), str(logs)], repo
                )
                whole = f"{seconds:.1f} / {whole_cpu:.1f}", f"{peak:.0f}"
            print(
                f"| {rows} | {columns} | {size:.0f} | {wall:.1f} / {cpu:.1f} | {rss:.0f} | "
                f"{whole[0]} | {whole[1]} |",
                flush=True,
            )
            shutil.rmtree(logs)


def bench_logging(columns: int, requests: int = 20_000) -> float:
    """Median microseconds of one one-row `log()` call (`columns` inputs), in-process."""
    row = frame(1, columns, 3, 0.0).to_dict(orient="records")[0]
    times = []
    with tempfile.TemporaryDirectory() as folder:
        writer = PredictionLogWriter(Path(folder), model="bench-model", version="v1.0.0")
        for i in range(requests):
            start = time.perf_counter()
            writer.log(
                request_id=f"r{i}",
                inputs=[row],
                outputs=[1],
                probabilities=[{"0": 0.3, "1": 0.7}],
                latency_ms=5.0,
            )
            times.append(time.perf_counter() - start)
        writer.close()
    median = statistics.median(times) * 1e6
    print(
        f"\nLog writer, one-row request of {columns} inputs with probabilities: "
        f"median {median:.1f} µs, p99 {statistics.quantiles(times, n=100)[98] * 1e6:.1f} µs "
        f"over {requests} calls (one write() each)"
    )
    return median


def bench_serving(repo: Path, reference: str, requests: int = 600) -> None:
    """Served one-row latency with and without the prediction log (one client, local)."""
    import json
    import urllib.request

    from mlgitops.core.monitoring import LogPolicy
    from mlgitops.serving.predlog import HOOK, SETTINGS_ENV, hook_settings
    from mlgitops.serving.server import serve_version
    from mlgitops.serving.settings import ServeOptions

    schema = json.loads((repo / "models" / "schema.json").read_text(encoding="utf-8"))
    test = pd.read_csv(repo / "data/prepared/test.csv").drop(columns=[schema["target"]])
    rows = test.to_dict(orient="records")
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        os.environ[SETTINGS_ENV] = hook_settings(Path(folder) / "logs", LogPolicy())
        rounds = (("without log", None), ("with log", HOOK)) * 2
        for name, logger in rounds:
            options = ServeOptions(http_port=0, grpc_port=0, prediction_logger=logger)
            with serve_version(repo, reference, options) as server:
                times = []
                for i in range(requests):
                    row = rows[i % len(rows)]
                    body = json.dumps(
                        {
                            "id": f"b{i}",
                            "inputs": [
                                {"name": k, "datatype": "FP64", "shape": [1], "data": [float(v)]}
                                for k, v in row.items()
                            ],
                        }
                    ).encode()
                    request = urllib.request.Request(
                        server.infer_url, data=body, headers={"Content-Type": "application/json"}
                    )
                    start = time.perf_counter()
                    with urllib.request.urlopen(request, timeout=30) as response:
                        response.read()
                    times.append(time.perf_counter() - start)
            results.setdefault(name, []).extend(times[20:])  # after warm-up
    print("\n| served one row, 1 client | p50 (ms) | p99 (ms) |")
    print("|---|---:|---:|")
    for name, times in results.items():
        p50 = statistics.median(times) * 1000
        p99 = statistics.quantiles(times, n=100)[98] * 1000
        print(f"| {name} | {p50:.2f} | {p99:.2f} |")
    base = statistics.median(results["without log"])
    ratio = statistics.median(results["with log"]) / base
    print(f"\nLogging overhead on the served p50: {100 * (ratio - 1):+.1f} %")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--log-rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--whole-max", type=int, default=100_000)
    parser.add_argument("--serve-repo", type=Path)
    parser.add_argument("--serve-model", default=None)
    parser.add_argument(
        "--sections", nargs="+", default=["csv", "logs", "logging", "serve"],
        choices=["csv", "logs", "logging", "serve"],
    )  # fmt: skip
    args = parser.parse_args()
    if "logs" in args.sections:
        bench_logs(args.log_rows, args.columns, args.whole_max)
    if "logging" in args.sections:
        bench_logging(args.columns)
    if "serve" in args.sections and args.serve_repo:
        bench_serving(args.serve_repo.resolve(), args.serve_model)
    if "csv" not in args.sections:
        return 0
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
