"""The gate's HTTP client against a real local V2 server with scripted behaviour.

The server here answers the Open Inference Protocol V2 routes the gate uses, with a
delay, a version and failures chosen per test, so that each verdict of the gate (pass,
wrong version, too slow, errors, out of time) is produced by real requests. Served by
MLServer, the same gate runs in tests/integration/test_deploy_gate.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlgitops.deploy.gate import Column, load_test, run_gate, smoke_test
from mlgitops.deploy.settings import LoadTest
from mlgitops.errors import UsageError

COLUMNS = [Column("age", "INT64"), Column("income", "FP64"), Column("city", "BYTES")]
ROWS = [{"age": 30 + i, "income": 1000.5 * i, "city": "Lyon"} for i in range(5)]


@dataclass
class Behaviour:
    version: str = "v1.0.0"
    delay: float = 0.0
    fail_every: int = 0
    ready: bool = True


@dataclass
class Server:
    url: str
    behaviour: Behaviour
    requests: list[dict]


@pytest.fixture
def server() -> Iterator[Server]:
    behaviour = Behaviour()
    seen: list[dict] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            ok = self.path == "/v2/models/m/ready" and behaviour.ready
            self._answer(200 if ok else 404, {"ready": ok})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                seen.append(request)
                count = len(seen)
            time.sleep(behaviour.delay)
            if behaviour.fail_every and count % behaviour.fail_every == 0:
                self._answer(500, {"error": "boom"})
                return
            rows = request["inputs"][0]["shape"][0]
            self._answer(
                200,
                {
                    "model_name": "m",
                    "model_version": behaviour.version,
                    "outputs": [{"name": "predict", "datatype": "INT64", "shape": [rows, 1],
                                 "data": [1] * rows}],
                },
            )  # fmt: skip

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", behaviour, seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_gate_passes_and_sends_named_columns(server: Server) -> None:
    bounds = LoadTest(requests=40, concurrency=4, max_seconds=20)
    result = run_gate(server.url, "m", ROWS, COLUMNS, "v1.0.0", objective_ms=1000, bounds=bounds)
    assert result.passed, result.reasons
    assert result.smoke.rows == 5 and result.smoke.model_version == "v1.0.0"
    assert result.load is not None
    assert (result.load.sent, result.load.succeeded) == (40, 40)
    assert result.load.p50_ms is not None and result.load.p99_ms is not None
    assert result.load.p50_ms <= result.load.p99_ms
    assert len(server.requests) == 41  # one smoke request of 5 rows, 40 of one row
    smoke = server.requests[0]
    assert [(i["name"], i["datatype"], i["shape"]) for i in smoke["inputs"]] == [
        ("age", "INT64", [5]), ("income", "FP64", [5]), ("city", "BYTES", [5]),
    ]  # fmt: skip
    assert smoke["inputs"][0]["data"] == [30, 31, 32, 33, 34]
    assert all(r["inputs"][0]["shape"] == [1] for r in server.requests[1:])


def test_wrong_version_fails_the_smoke_test_and_skips_the_load_test(server: Server) -> None:
    server.behaviour.version = "v0.9.0"
    result = run_gate(
        server.url, "m", ROWS, COLUMNS, "v1.0.0", objective_ms=1000, bounds=LoadTest(10, 2, 5)
    )
    assert not result.passed and result.load is None
    assert result.reasons == ("smoke test: served version 'v0.9.0', not v1.0.0",)
    assert len(server.requests) == 1


def test_model_not_ready(server: Server) -> None:
    server.behaviour.ready = False
    result = smoke_test(server.url, "m", ROWS, COLUMNS, "v1.0.0")
    assert not result.passed and "model not ready: HTTP 404" in result.message


def test_latency_over_the_objective_fails(server: Server) -> None:
    server.behaviour.delay = 0.03
    result = run_gate(
        server.url, "m", ROWS, COLUMNS, "v1.0.0", objective_ms=10, bounds=LoadTest(8, 2, 20)
    )
    assert not result.passed
    assert result.load is not None and result.load.p99_ms is not None
    assert result.load.p99_ms >= 30
    assert any("over the objective of 10 ms" in reason for reason in result.reasons)


def test_error_answers_fail(server: Server) -> None:
    server.behaviour.fail_every = 5
    result = run_gate(
        server.url, "m", ROWS, COLUMNS, "v1.0.0", objective_ms=1000, bounds=LoadTest(20, 2, 20)
    )
    assert not result.passed
    assert result.load is not None and result.load.succeeded == 16
    assert any("4 of 20 requests failed" in r and "HTTP 500" in r for r in result.reasons)


def test_the_load_test_stops_at_its_time_bound(server: Server) -> None:
    server.behaviour.delay = 0.05
    began = time.perf_counter()
    result = load_test(server.url, "m", ROWS, COLUMNS, LoadTest(10_000, 2, 0.5))
    elapsed = time.perf_counter() - began
    assert not result.finished and result.sent < 100
    assert elapsed < 0.5 + 0.5  # the bound, plus at most one request in flight per worker


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:8080", "https://127.0.0.1:8443", "http://example.com:80"]
)
def test_only_this_machine_is_tested(url: str) -> None:
    with pytest.raises(UsageError, match=r"only tests a server on 127\.0\.0\.1"):
        load_test(url, "m", ROWS, COLUMNS, LoadTest(1, 1, 1))
