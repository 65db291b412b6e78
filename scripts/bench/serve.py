"""Benchmark serving a promoted version: in-process floor, `mlgitops serve`, plain MLServer.

Usage: python scripts/bench/serve.py [--requests 300] [--trees N] [--repo DIR]

Bakes the default answers (or uses --repo, a trained repository with `<model>@v1.0.0`),
trains, pushes and registers v1.0.0, then measures side by side on one row of the test
split, with one load generator for both servers (`Connection`: one keep-alive `http.client`
connection per client, bodies encoded once):

- the floor: `model.predict` of one row in this process, and the same row through the
  input schema check and `predict_table` (labels and probabilities from one model pass);
- `mlgitops serve` (schema check before batching) and plain MLServer (`mlserver start`,
  mlserver-sklearn, the same model, pandas-codec requests for `predict_proba`: one model
  pass each, as `mlgitops serve` makes), each with adaptive batching
  off and on (`max_batch_size` 8, `max_batch_time` 0.01 s): one client p50 / p99 and
  requests per second, 8 concurrent clients requests per second (and whether every
  answer equals the in-process one; the CPU time the server and the load generator spent
  per request), a request of 100 rows;
- cold start (fetch + load + ready, from `start_server`), resident memory of the server.

The cases run interleaved (floor, schema check, our server, plain MLServer, one request
each in turn; concurrent load in alternating rounds), so that every case sees the same
machine load and the ratios hold on a busy machine even when the absolute times do not.
Load goes to 127.0.0.1 only, bounded by --requests per client and a 120 s deadline.
Prints markdown tables. Timings depend on the machine's load: read them with the load
average printed first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import psutil
from _common import ENV, ROOT

from mlgitops.core.input_schema import validate_columns
from mlgitops.serving.fetch import fetch_model_version
from mlgitops.serving.model import load_model, predict_table
from mlgitops.serving.server import free_port, start_server
from mlgitops.serving.settings import ServeOptions, server_settings, write_json

DEADLINE_S = 120.0
JSON = {"Content-Type": "application/json"}
CLIENTS = 8


def prepare_repo(workdir: Path, trees: int | None) -> tuple[Path, str]:
    from cookiecutter.main import cookiecutter

    from mlgitops.bootstrap import init_repository

    repo = Path(cookiecutter(str(ROOT / "template"), no_input=True, output_dir=str(workdir)))
    if trees:
        params = repo / "params.yaml"
        text = params.read_text(encoding="utf-8")
        params.write_text(text.replace("n_estimators: 100", f"n_estimators: {trees}", 1), "utf-8")
    init_repository(repo)
    for command in (
        ["dvc", "repro", "--quiet"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "Train"],
        ["dvc", "push", "--quiet"],
    ):
        subprocess.run(command, cwd=repo, env=ENV, check=True, capture_output=True)
    with (repo / "pyproject.toml").open("rb") as handle:
        model = str(tomllib.load(handle)["tool"]["mlgitops"]["model_name"])
    subprocess.run(
        ["git", "tag", "-a", f"{model}@v1.0.0", "-m", "v1.0.0"], cwd=repo, env=ENV, check=True
    )
    return repo, model


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def encoded(frame: pd.DataFrame, plain: bool) -> bytes:
    """The request as bytes, encoded once: the clients share the machine with the server."""
    return json.dumps(body(frame, plain)).encode()


def body(frame: pd.DataFrame, plain: bool) -> dict[str, Any]:
    inputs = [
        {"name": c, "datatype": "FP64", "shape": [len(frame), 1], "data": frame[c].tolist()}
        for c in frame.columns
    ]
    if not plain:
        return {"inputs": inputs}
    return {
        "inputs": inputs,
        "parameters": {"content_type": "pd"},  # named columns: no feature-name warning
        # One pass over the model, as `mlgitops serve` makes for labels and probabilities.
        "outputs": [{"name": "predict_proba"}],
    }


def proba_of(answer: dict[str, Any]) -> list[float]:
    return next(o["data"] for o in answer["outputs"] if o["name"] == "predict_proba")


class Connection:
    """One persistent HTTP/1.1 connection to a 127.0.0.1 server (`http.client`).

    The load generator must cost the machine little next to the server it measures: no
    connection set-up per request, bodies encoded once, one `send` per request (headers
    and body together, so no Nagle / delayed-ACK stall), the answer read as bytes.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.hostname != "127.0.0.1":
            raise SystemExit(f"load goes to 127.0.0.1 only, not {parts.hostname}")
        self.path = parts.path
        self._http = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)

    def post(self, payload: bytes) -> bytes:
        self._http.request("POST", self.path, body=payload, headers=JSON)
        response = self._http.getresponse()
        answer = response.read()
        if response.status != 200:
            raise SystemExit(f"{self.path} answered {response.status}: {answer[:500]!r}")
        return answer

    def close(self) -> None:
        self._http.close()


def ready(url: str) -> bool:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=1)
    try:
        connection.request("GET", parts.path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def concurrent(
    url: str, rows: list[tuple[bytes, list[float]]], count: int
) -> tuple[float, int, float]:
    """CLIENTS threads, each on its own keep-alive connection, all started together:
    requests per second, how many answers were not their own, and the load generator's
    CPU time per request (ms; it shares the 2 cores with the server)."""
    start = threading.Barrier(CLIENTS + 1)

    def client(offset: int) -> tuple[int, int]:
        connection = Connection(url)
        connection.post(rows[offset][0])  # connected and warm before the clock starts
        done = wrong = 0
        start.wait()
        deadline = time.monotonic() + DEADLINE_S
        try:
            for index in range(count):
                payload, expected = rows[(offset + index * CLIENTS) % len(rows)]
                answer = json.loads(connection.post(payload))
                done += 1
                wrong += proba_of(answer) != expected
                if time.monotonic() > deadline:
                    break
        finally:
            connection.close()
        return done, wrong

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, offset) for offset in range(CLIENTS)]
        start.wait()
        started, cpu = time.perf_counter(), time.process_time()
        results = [future.result() for future in futures]
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = sum(d for d, _ in results)
    return done / elapsed, sum(w for _, w in results), cpu / done * 1000


def start_plain(
    fetched_dir: Path, workdir: Path, model: str, batching: bool
) -> tuple[subprocess.Popen[bytes], str, float]:
    options = ServeOptions(http_port=free_port(), grpc_port=free_port())
    write_json(workdir / "settings.json", server_settings(options))
    model_dir = workdir / "model"
    model_dir.mkdir(parents=True)
    (model_dir / "model.pkl").write_bytes((fetched_dir / "model.pkl").read_bytes())
    write_json(
        model_dir / "model-settings.json",
        {
            "name": model,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.pkl", "version": "v1.0.0"},
            "max_batch_size": 8 if batching else 1,
            "max_batch_time": 0.01 if batching else 0,
        },
    )
    started = time.perf_counter()
    log = (workdir / "mlserver.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlserver"), "start", str(workdir)],
        cwd=workdir,
        env=ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{options.http_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"plain MLServer exited: {(workdir / 'mlserver.log').read_text()[-2000:]}"
            )
        if ready(f"{base}/v2/models/{model}/ready"):
            return process, base, time.perf_counter() - started
        time.sleep(0.05)
    process.kill()
    raise SystemExit("plain MLServer was not ready in 60 s")


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure_interleaved(
    model: Any,
    schema: Any,
    servers: dict[str, tuple[str, int, bool]],
    test: pd.DataFrame,
    expected: list[list[float]],
    count: int,
) -> dict[str, dict[str, Any]]:
    """Every case in turn, request by request, so that all see the same machine load.

    `servers`: name -> (infer URL, pid, plain MLServer?). The in-process cases are "floor"
    (`model.predict` of one row) and "checked" (schema check + `predict_table`).
    """
    row = test.iloc[[0]]
    columns = {c: row[c].tolist() for c in row.columns}
    hundred = test.head(100)
    connections = {name: Connection(url) for name, (url, _, _) in servers.items()}
    one = {name: encoded(row, plain) for name, (_, _, plain) in servers.items()}
    many = {name: encoded(hundred, plain) for name, (_, _, plain) in servers.items()}

    def checked() -> None:
        table, _ = validate_columns(schema, columns)
        predict_table(model, schema, table)

    def post(name: str, payload: bytes) -> None:
        connections[name].post(payload)

    calls: dict[str, Callable[[], object]] = {
        "floor": lambda: model.predict(row),
        "checked": checked,
    }
    for name in servers:
        calls[name] = lambda name=name: post(name, one[name])
    for call in calls.values():  # warm up
        for _ in range(10):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    deadline = time.monotonic() + DEADLINE_S
    for _ in range(count):
        for name, call in calls.items():
            samples[name].append(timed(call))
        if time.monotonic() > deadline:
            break
    batch: dict[str, list[float]] = {"floor": [], **{name: [] for name in servers}}
    for _ in range(max(count // 10, 10)):
        batch["floor"].append(timed(lambda: model.predict(hundred)))
        for name in servers:
            batch[name].append(timed(lambda name=name: post(name, many[name])))
    rows = {
        name: [(encoded(test.iloc[[i]], plain), expected[i]) for i in range(len(test))]
        for name, (_, _, plain) in servers.items()
    }
    rates: dict[str, list[float]] = {name: [] for name in servers}
    wrong = dict.fromkeys(servers, 0)
    client_cpu: dict[str, list[float]] = {name: [] for name in servers}
    served: dict[str, list[float]] = {name: [] for name in servers}
    per_round = max(count // CLIENTS // 3, 10)
    for _ in range(3):  # alternate rounds of concurrent load
        for name, (url, pid, _) in servers.items():
            server_cpu = cpu_seconds(pid)
            rate, bad, cost = concurrent(url, rows[name], per_round)
            served[name].append((cpu_seconds(pid) - server_cpu) / (per_round * CLIENTS) * 1000)
            rates[name].append(rate)
            wrong[name] += bad
            client_cpu[name].append(cost)
    results: dict[str, dict[str, Any]] = {}
    for name, values in samples.items():
        results[name] = {
            "p50": statistics.median(values) * 1000,
            "p99": percentile(values, 0.99) * 1000,
            "rps1": len(values) / sum(values),
        }
        if name in batch:
            results[name]["batch100"] = statistics.median(batch[name]) * 1000
        if name in servers:
            results[name]["rps8"] = statistics.median(rates[name])
            results[name]["wrong"] = wrong[name]
            results[name]["client_ms"] = statistics.median(client_cpu[name])
            results[name]["server_ms"] = statistics.median(served[name])
            results[name]["rss"] = rss_mib(servers[name][1])
    return results


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The in-process cases run once per server pair: the median of their figures."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per case")
    parser.add_argument("--trees", type=int, help="n_estimators of the default forest")
    parser.add_argument("--repo", type=Path, help="a trained repository with <model>@v1.0.0")
    parser.add_argument("--model", help="the model name (with --repo)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    with tempfile.TemporaryDirectory(prefix="mlgitops-bench-serve-") as scratch_name:
        scratch = Path(scratch_name)
        if args.repo:
            repo, model = args.repo.resolve(), args.model
        else:
            repo, model = prepare_repo(scratch / "bake", args.trees)
        fetch_started = time.perf_counter()
        fetched = fetch_model_version(repo, f"{model}@v1.0.0", scratch / "fetched")
        fetch_s = time.perf_counter() - fetch_started
        assert fetched.schema is not None and fetched.schema.target
        estimator = load_model(fetched.path)
        target = fetched.schema.target
        test = pd.read_csv(repo / "data/prepared/test.csv").drop(columns=[target])
        expected = estimator.predict_proba(test).tolist()
        table: dict[str, dict[str, Any]] = {}
        cold: dict[str, float] = {}
        for batching in (False, True):
            label = "batching on" if batching else "batching off"
            options = ServeOptions(
                http_port=0,
                grpc_port=0,
                max_batch_size=8 if batching else 1,
                max_batch_time=0.01 if batching else 0.0,
            )
            ours_name, plain_name = f"mlgitops serve, {label}", f"plain MLServer, {label}"
            server = start_server(repo, f"{model}@v1.0.0", options)
            cold[ours_name] = server.ready_at - server.started_at
            try:
                process, base, ready = start_plain(
                    fetched.path.parent, scratch / f"plain-{batching}", model, batching
                )
                cold[plain_name] = ready
                try:
                    servers = {
                        ours_name: (server.infer_url, server.process.pid, False),
                        plain_name: (f"{base}/v2/models/{model}/infer", process.pid, True),
                    }
                    measured = measure_interleaved(
                        estimator, fetched.schema, servers, test, expected, args.requests
                    )
                finally:
                    process.terminate()
                    process.wait(timeout=20)
            finally:
                server.stop()
            for name, values in measured.items():
                table.setdefault(name, {"name": name, "samples": []})["samples"].append(values)
    floor = _merge(table.pop("floor")["samples"])
    checked = _merge(table.pop("checked")["samples"])
    results = [{"name": name, **entry["samples"][0]} for name, entry in table.items()]
    floor_rate = 1000 / floor["p50"]
    print(
        f"Model: {type(estimator).__name__}"
        f"{f' ({estimator.n_estimators} trees)' if hasattr(estimator, 'n_estimators') else ''}, "
        f"{len(test)} test rows, {args.requests} sequential requests per case.\n"
    )
    print(
        "| case | 1 client p50 ms | p99 ms | p50 / floor | 1 client req/s | 8 clients req/s | "
        "8 clients / floor rate | answers not their own | server CPU ms / req | "
        "load generator CPU ms / req | 100 rows p50 ms | RSS MiB | ready s |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    print(
        f"| in-process `model.predict` (floor) | {floor['p50']:.2f} | {floor['p99']:.2f} | "
        f"1.00 | {floor_rate:.0f} | | | | | | {floor['batch100']:.2f} | | |"
    )
    print(
        f"| in-process, schema check + `predict_table` | {checked['p50']:.2f} | "
        f"{checked['p99']:.2f} | {checked['p50'] / floor['p50']:.2f} | | | | | | | | | |"
    )
    for r in results:
        print(
            f"| {r['name']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p50'] / floor['p50']:.2f} | "
            f"{r['rps1']:.0f} | {r['rps8']:.0f} | {r['rps8'] / floor_rate:.2f} | {r['wrong']} | "
            f"{r['server_ms']:.2f} | {r['client_ms']:.2f} | "
            f"{r['batch100']:.2f} | {r['rss']:.0f} | {cold[r['name']]:.2f} |"
        )
    by_name = {r["name"]: r for r in results}
    for label in ("batching off", "batching on"):
        ours, plain = by_name[f"mlgitops serve, {label}"], by_name[f"plain MLServer, {label}"]
        change = (ours["p50"] / plain["p50"] - 1) * 100
        print(
            f"\nValidation overhead, {label}: p50 {ours['p50']:.2f} ms, plain "
            f"{plain['p50']:.2f} ms ({change:+.0f} %)."
        )
    print(
        "\n`ready s`: mlgitops serve from the call (fetch through DVC + settings + start + model "
        "ready); plain MLServer from process start to model ready (its files already local). "
        f"The fetch alone (DVC, md5 check): {fetch_s:.2f} s.\n`server CPU ms / req`: the "
        "server process's CPU time over the 8-client rounds per answered request; "
        "`load generator CPU ms / req`: this process's (8 client threads, JSON decoding and "
        "the comparison included), small next to it so the rate is the server's."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
