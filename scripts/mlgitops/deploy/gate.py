"""The deployment gate: a smoke test and a bounded load test against a served model.

Talks Open Inference Protocol V2 over HTTP to a server on THIS machine (127.0.0.1 only:
the gate never load-tests anything else), with requests named by column (MLServer's
pandas codec). Both tests are bounded: the load test sends at most `requests`
one-row requests, `concurrency` at a time, and stops at `max_seconds`; a load test
that did not finish in time fails, as does any error answer.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mlgitops.deploy.settings import LoadTest
from mlgitops.errors import UsageError

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
REQUEST_TIMEOUT = 10.0
MAX_SMOKE_ROWS = 20

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    datatype: str  # V2 tensor datatype: FP64, INT64, BOOL, BYTES


@dataclass(frozen=True)
class SmokeResult:
    passed: bool
    rows: int
    model_version: str | None
    message: str


@dataclass(frozen=True)
class LoadResult:
    planned: int
    sent: int
    succeeded: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    errors: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.sent == self.planned

    @property
    def requests_per_second(self) -> float:
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class GateResult:
    smoke: SmokeResult
    load: LoadResult | None
    objective_ms: float
    bounds: LoadTest
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.reasons


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0-100): a value that was actually measured."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def infer_request(rows: Sequence[Row], columns: Sequence[Column]) -> dict[str, Any]:
    """A V2 inference request with one named input per column (the pandas codec's form)."""
    return {
        "inputs": [
            {
                "name": column.name,
                "shape": [len(rows)],
                "datatype": column.datatype,
                "data": [row[column.name] for row in rows],
            }
            for column in columns
        ],
    }


def local_address(url: str) -> tuple[str, int]:
    """(host, port) of `url`; refuses anything but this machine."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS or parts.port is None:
        raise UsageError(
            f"the deployment gate only tests a server on 127.0.0.1, not {url!r}",
            hint="serve the model locally (the gate starts MLServer itself)",
        )
    return parts.hostname, parts.port


class _Client:
    """One keep-alive HTTP connection (one per load-test worker)."""

    def __init__(self, url: str, timeout: float = REQUEST_TIMEOUT) -> None:
        self.host, self.port = local_address(url)
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # a kept-alive connection the server closed: open a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _error_text(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip().splitlines()
    return f"HTTP {status}: {(text[0] if text else '')[:200]}"


def smoke_test(
    url: str, model: str, rows: Sequence[Row], columns: Sequence[Column], version: str
) -> SmokeResult:
    """The model is ready, answers rows of the test split with one prediction each, and
    says it is `version`."""
    rows = list(rows)[:MAX_SMOKE_ROWS]
    client = _Client(url)
    try:
        status, body = client.request("GET", f"/v2/models/{model}/ready")
        if status != 200:
            return SmokeResult(False, 0, None, f"model not ready: {_error_text(status, body)}")
        payload = json.dumps(infer_request(rows, columns)).encode()
        status, body = client.request("POST", f"/v2/models/{model}/infer", payload)
    except OSError as error:
        return SmokeResult(False, 0, None, f"no answer from {url}: {error}")
    finally:
        client.close()
    if status != 200:
        return SmokeResult(False, 0, None, f"inference failed: {_error_text(status, body)}")
    try:
        answer = json.loads(body)
        outputs = answer["outputs"]
        predictions = outputs[0]["data"]
    except (ValueError, KeyError, IndexError, TypeError):
        return SmokeResult(False, 0, None, "the answer is not a V2 inference response")
    served = answer.get("model_version")
    if len(predictions) != len(rows):
        return SmokeResult(
            False, len(rows), served, f"{len(predictions)} predictions for {len(rows)} rows"
        )
    if served != version:
        return SmokeResult(False, len(rows), served, f"served version {served!r}, not {version}")
    return SmokeResult(True, len(rows), served, f"{len(rows)} rows answered by {served}")


def load_test(
    url: str, model: str, rows: Sequence[Row], columns: Sequence[Column], bounds: LoadTest
) -> LoadResult:
    """`bounds.requests` one-row requests (cycling through `rows`), `bounds.concurrency`
    at a time, stopped at `bounds.max_seconds`."""
    local_address(url)
    bodies = [json.dumps(infer_request([row], columns)).encode() for row in rows] or [b"{}"]
    path = f"/v2/models/{model}/infer"
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(bounds.requests))
    sent = 0
    start = time.perf_counter()
    deadline = start + bounds.max_seconds

    def worker() -> None:
        nonlocal sent
        client = _Client(url, timeout=min(REQUEST_TIMEOUT, bounds.max_seconds))
        try:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(counter, None)
                    if index is None:
                        return
                    sent += 1
                began = time.perf_counter()
                try:
                    status, body = client.request("POST", path, bodies[index % len(bodies)])
                except OSError as error:
                    status, body = 0, str(error).encode()
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    if status == 200:
                        latencies.append(elapsed)
                    else:
                        errors.append(_error_text(status, body))
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=bounds.concurrency) as pool:
        for _ in range(bounds.concurrency):
            pool.submit(worker)
    seconds = time.perf_counter() - start
    return LoadResult(
        planned=bounds.requests,
        sent=sent,
        succeeded=len(latencies),
        seconds=seconds,
        p50_ms=percentile(latencies, 50) if latencies else None,
        p99_ms=percentile(latencies, 99) if latencies else None,
        errors=tuple(errors[:5]),
    )


def run_gate(
    url: str,
    model: str,
    rows: Sequence[Row],
    columns: Sequence[Column],
    version: str,
    *,
    objective_ms: float,
    bounds: LoadTest,
) -> GateResult:
    """Smoke test, then (if it passed) the load test judged against `objective_ms`."""
    smoke = smoke_test(url, model, rows, columns, version)
    if not smoke.passed:
        return GateResult(smoke, None, objective_ms, bounds, (f"smoke test: {smoke.message}",))
    load = load_test(url, model, rows, columns, bounds)
    reasons = []
    if load.errors or load.succeeded < load.sent:
        reasons.append(
            f"load test: {load.sent - load.succeeded} of {load.sent} requests failed "
            f"(first: {load.errors[0] if load.errors else '?'})"
        )
    if not load.finished:
        reasons.append(
            f"load test: only {load.sent} of {load.planned} requests within "
            f"{bounds.max_seconds:g} s"
        )
    if load.p99_ms is not None and load.p99_ms > objective_ms:
        reasons.append(
            f"load test: p99 {load.p99_ms:.1f} ms is over the objective of {objective_ms:g} ms "
            "(deploy.latency_p99_ms)"
        )
    return GateResult(smoke, load, objective_ms, bounds, tuple(reasons))
