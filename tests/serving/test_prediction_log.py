"""Prediction logs of a real MLServer process (and of `mlgitops predict`).

8 concurrent clients against a served version with adaptive batching: every answered
request is logged once, with its own inputs and answer. MLServer killed with SIGKILL in
the middle of traffic: the logs hold every request it answered and nothing torn.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers.promoted import MODEL

from mlgitops.cli import main
from mlgitops.core.monitoring import LogPolicy
from mlgitops.errors import EXIT_OK
from mlgitops.serving.predlog import HOOK, SETTINGS_ENV, ReadStats, hook_settings, iter_folder

pytestmark = pytest.mark.slow
pytest.importorskip("mlserver")

from mlgitops.serving.server import RunningServer, serve_version  # noqa: E402
from mlgitops.serving.settings import ServeOptions  # noqa: E402

CLIENTS = 8
REQUESTS_PER_CLIENT = 25


def _rows(repo: Path, count: int) -> list[dict[str, Any]]:
    schema = json.loads((repo / "models" / "schema.json").read_text(encoding="utf-8"))
    test = pd.read_csv(repo / "data" / "prepared" / "test.csv").drop(columns=[schema["target"]])
    rows = test.to_dict(orient="records")
    return [rows[i % len(rows)] for i in range(count)]


def _body(request_id: str, row: dict[str, Any]) -> bytes:
    inputs = [
        {"name": name, "datatype": "FP64", "shape": [1], "data": [float(value)]}
        for name, value in row.items()
    ]
    return json.dumps({"id": request_id, "inputs": inputs}).encode()


def _infer(server: RunningServer, request_id: str, row: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        server.infer_url,
        data=_body(request_id, row),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    return next(o["data"][0] for o in answer["outputs"] if o["name"] == "predict")


@pytest.fixture
def logging_server(
    promoted_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningServer, Path]]:
    folder = tmp_path / "logs"
    monkeypatch.setenv(SETTINGS_ENV, hook_settings(folder, LogPolicy()))
    options = ServeOptions(http_port=0, grpc_port=0, prediction_logger=HOOK)
    with serve_version(promoted_repo, f"{MODEL}#production", options) as server:
        yield server, folder


def test_concurrent_clients_are_each_logged_once_with_their_answer(
    promoted_repo: Path, logging_server: tuple[RunningServer, Path]
) -> None:
    server, folder = logging_server
    rows = _rows(promoted_repo, CLIENTS * REQUESTS_PER_CLIENT)
    answers: dict[str, Any] = {}
    lock = threading.Lock()

    def client(number: int) -> None:
        for i in range(REQUESTS_PER_CLIENT):
            request_id = f"c{number}-{i}"
            answer = _infer(server, request_id, rows[number * REQUESTS_PER_CLIENT + i])
            with lock:
                answers[request_id] = answer

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.stop()
    stats = ReadStats()
    records = {r["request_id"]: r for r in iter_folder(folder, stats)}
    assert stats.skipped == 0 and stats.records == len(answers) == CLIENTS * REQUESTS_PER_CLIENT
    for request_id, answer in answers.items():
        record = records[request_id]
        number, i = (int(part) for part in request_id[1:].split("-"))
        sent = rows[number * REQUESTS_PER_CLIENT + i]
        assert record["output"] == answer  # no answer of another request in the batch
        assert record["inputs"] == pytest.approx(sent)
        assert record["version"] == "v1.0.0" and record["model"] == MODEL
        assert set(record["proba"]) == {"0", "1"}
        assert record["latency_ms"] > 0


def test_a_server_killed_mid_traffic_leaves_every_answer_logged_and_nothing_torn(
    promoted_repo: Path, logging_server: tuple[RunningServer, Path]
) -> None:
    server, folder = logging_server
    rows = _rows(promoted_repo, 1000)
    answered: list[str] = []
    stop = threading.Event()

    def client(number: int) -> None:
        for i in range(1000):
            if stop.is_set():
                return
            request_id = f"k{number}-{i}"
            try:
                _infer(server, request_id, rows[i])
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                # The kill can land between the response's headers and its body
                # (IncompleteRead): that request was not answered.
                return
            answered.append(request_id)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(answered) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(server.process.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(answered) >= 40
    stats = ReadStats()
    logged = {r["request_id"] for r in iter_folder(folder, stats)}
    assert stats.corrupt == 0 and stats.truncated <= 1
    assert set(answered) <= logged  # logged before the answer was sent


def test_batch_predictions_are_logged(
    promoted_repo: Path, release_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(promoted_repo)
    monkeypatch.setenv("MLGITOPS_VERIFY_KEY", str(release_key))  # instead of --key
    rows = _rows(promoted_repo, 30)
    pd.DataFrame(rows).to_csv(tmp_path / "in.csv", index=False)
    folder = tmp_path / "logs"
    code = main(
        [
            "predict",
            "--model", f"{MODEL}#production",
            "--input", str(tmp_path / "in.csv"),
            "--output", str(tmp_path / "out.csv"),
            "--prediction-log", str(folder),
        ]
    )  # fmt: skip
    assert code == EXIT_OK
    written = pd.read_csv(tmp_path / "out.csv")
    records = list(iter_folder(folder, ReadStats()))
    assert [r["row"] for r in records] == list(range(30))
    assert len({r["request_id"] for r in records}) == 1
    assert [r["output"] for r in records] == written["prediction"].tolist()
