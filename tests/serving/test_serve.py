"""`mlgitops serve` with a real MLServer process on 127.0.0.1 (free ports, bounded loads).

One server (adaptive batching on) answers most tests; a test that needs another process
starts and stops its own.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import requests
from helpers.promoted import MODEL

from mlgitops import proc
from mlgitops.cli import main
from mlgitops.errors import EXIT_OK, ToolError
from mlgitops.serving.fetch import fetch_model_version
from mlgitops.serving.server import RunningServer, free_port, launch, serve_version, start_server
from mlgitops.serving.settings import ServeOptions

pytestmark = pytest.mark.slow

TIMEOUT = 30
Body = dict[str, Any]


@pytest.fixture(scope="module")
def server(promoted_repo: Path) -> Iterator[RunningServer]:
    options = ServeOptions(http_port=0, grpc_port=0, max_batch_size=8, max_batch_time=0.02)
    with serve_version(promoted_repo, f"{MODEL}#production", options) as running:
        yield running


@pytest.fixture(scope="module")
def test_split(promoted_repo: Path) -> pd.DataFrame:
    target = json.loads((promoted_repo / "models/schema.json").read_text("utf-8"))["target"]
    return pd.read_csv(promoted_repo / "data/prepared/test.csv").drop(columns=[target])


def body_of(frame: pd.DataFrame) -> Body:
    return {
        "inputs": [
            {"name": c, "datatype": "FP64", "shape": [len(frame)], "data": frame[c].tolist()}
            for c in frame.columns
        ]
    }


def infer(server: RunningServer, body: Body | bytes, **headers: str) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **headers}
    return requests.post(server.infer_url, data=data, headers=headers, timeout=TIMEOUT)


def still_serving(server: RunningServer) -> bool:
    ready = requests.get(f"{server.base_url}/v2/models/{server.model}/ready", timeout=TIMEOUT)
    return server.running() and ready.status_code == 200


def test_liveness_and_readiness(server: RunningServer) -> None:
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}/ready"):
        assert requests.get(server.base_url + path, timeout=TIMEOUT).status_code == 200, path
    missing = requests.get(f"{server.base_url}/v2/models/other/ready", timeout=TIMEOUT)
    assert missing.status_code == 404


def test_metadata_lists_the_schema_inputs_and_the_version(
    server: RunningServer, test_split: pd.DataFrame
) -> None:
    metadata = requests.get(f"{server.base_url}/v2/models/{MODEL}", timeout=TIMEOUT).json()
    assert metadata["name"] == MODEL and metadata["versions"] == ["v1.0.0"]
    assert [i["name"] for i in metadata["inputs"]] == list(test_split.columns)
    assert {i["datatype"] for i in metadata["inputs"]} == {"FP64"}
    assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]


def test_the_repository_index_shows_the_version_ready(server: RunningServer) -> None:
    index = requests.post(f"{server.base_url}/v2/repository/index", json={}, timeout=TIMEOUT)
    assert index.json() == [{"name": MODEL, "version": "v1.0.0", "state": "READY", "reason": ""}]


def test_a_good_request_answers_with_the_version_and_probabilities(
    server: RunningServer, test_split: pd.DataFrame
) -> None:
    response = infer(server, body_of(test_split.head(3)))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["model_name"], answer["model_version"]) == (MODEL, "v1.0.0")
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["predict"]["shape"] == [3, 1] and outputs["predict_proba"]["shape"] == [3, 2]
    assert all(
        math.isclose(sum(outputs["predict_proba"]["data"][i : i + 2]), 1.0) for i in (0, 2, 4)
    )


def test_outputs_can_be_chosen(server: RunningServer, test_split: pd.DataFrame) -> None:
    body = {**body_of(test_split.head(2)), "outputs": [{"name": "predict_proba"}]}
    answer = infer(server, body).json()
    assert [o["name"] for o in answer["outputs"]] == ["predict_proba"]


def _good(server: RunningServer, frame: pd.DataFrame) -> Body:
    return body_of(frame.head(2))


def _edit(change: Callable[[Body], object]) -> Callable[[RunningServer, pd.DataFrame], Body]:
    def build(server: RunningServer, frame: pd.DataFrame) -> Body:
        body = body_of(frame.head(2))
        change(body)
        return body

    return build


def _input(body: Body, name: str) -> dict[str, Any]:
    return next(i for i in body["inputs"] if i["name"] == name)


BAD_REQUESTS: list[tuple[str, Callable[[RunningServer, pd.DataFrame], Body | bytes], int, str]] = [
    ("missing input", _edit(lambda b: b["inputs"].pop(3)), 400, "input 'mean area': missing"),
    (
        "extra input",
        _edit(lambda b: b["inputs"].append({**b["inputs"][0], "name": "colour"})),
        400,
        "input 'colour': unexpected column",
    ),
    (
        "text in a number",
        _edit(lambda b: _input(b, "mean texture")["data"].__setitem__(1, "high")),
        400,
        "input 'mean texture', row 2: expected a number",
    ),
    (
        "a BYTES datatype for a float column",
        _edit(lambda b: _input(b, "mean texture").update(datatype="BYTES")),
        400,
        "input 'mean texture': datatype BYTES",
    ),
    (
        "null where training had none",
        _edit(lambda b: _input(b, "worst area")["data"].__setitem__(0, None)),
        400,
        "input 'worst area', row 1: missing value",
    ),
    (
        "a NaN literal",
        lambda s, f: (
            json.dumps(body_of(f.head(1))).replace(str(f["mean radius"].iloc[0]), "NaN", 1).encode()
        ),
        400,
        "not valid JSON",
    ),
    (
        "a shape that disagrees with the data",
        _edit(lambda b: _input(b, "mean radius").update(shape=[3])),
        400,
        "input 'mean radius': shape [3] says 3 rows",
    ),
    (
        "an input given twice",
        _edit(lambda b: b["inputs"].append(dict(b["inputs"][0]))),
        400,
        "input 'mean radius' appears more than once",
    ),
    ("not JSON", lambda s, f: b'{"inputs": [', 400, "not valid JSON"),
    ("inputs not a list", lambda s, f: b'{"inputs": 5}', 422, "inputs"),
    (
        "an unknown output",
        _edit(lambda b: b.update(outputs=[{"name": "transform"}])),
        400,
        "output 'transform' is not served",
    ),
    ("an oversized body", lambda s, f: b" " * (2 * 1024 * 1024), 413, "over the limit"),
]


@pytest.mark.parametrize(
    ("build", "status", "message"),
    [pytest.param(b, s, m, id=name) for name, b, s, m in BAD_REQUESTS],
)
def test_a_bad_request_gets_a_4xx_naming_the_field_and_the_server_stays_up(
    server: RunningServer,
    test_split: pd.DataFrame,
    build: Callable[[RunningServer, pd.DataFrame], Body | bytes],
    status: int,
    message: str,
) -> None:
    response = infer(server, build(server, test_split))
    assert response.status_code == status, response.text
    assert message in response.text
    assert "Traceback" not in response.text
    assert still_serving(server)
    assert infer(server, _good(server, test_split)).status_code == 200


def test_a_streamed_oversized_body_and_a_compressed_body_are_refused(
    server: RunningServer, test_split: pd.DataFrame
) -> None:
    chunks = (b" " * 65536 for _ in range(40))  # chunked: no Content-Length to check
    streamed = requests.post(server.infer_url, data=chunks, timeout=TIMEOUT)
    assert streamed.status_code == 413
    packed = gzip.compress(json.dumps(_good(server, test_split)).encode())
    compressed = infer(server, packed, **{"Content-Encoding": "gzip"})
    assert compressed.status_code == 415 and "Content-Encoding" in compressed.text
    assert still_serving(server)


def test_good_and_bad_requests_batched_together_do_not_affect_each_other(
    server: RunningServer, promoted_repo: Path, test_split: pd.DataFrame
) -> None:
    model = joblib.load(promoted_repo / "models" / "model.pkl")
    expected = model.predict_proba(test_split)
    bad_kinds = [b for _, b, s, _ in BAD_REQUESTS if s == 400]

    def send(index: int) -> tuple[int, requests.Response]:
        if index % 3 == 2:  # one request in three is bad, of every kind in turn
            return -1, infer(server, bad_kinds[index % len(bad_kinds)](server, test_split))
        row = index % len(test_split)
        return row, infer(server, body_of(test_split.iloc[[row]]))

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(send, range(96)))
    good = [(row, r) for row, r in results if row >= 0]
    assert len(good) == 64
    for row, response in good:
        assert response.status_code == 200, response.text
        probabilities = next(o for o in response.json()["outputs"] if o["name"] == "predict_proba")
        assert probabilities["data"] == expected[row].tolist(), f"row {row}"
    assert all(r.status_code == 400 for row, r in results if row < 0)
    assert still_serving(server)


def test_served_predictions_equal_batch_predictions_on_the_test_split(
    server: RunningServer,
    promoted_repo: Path,
    release_key: Path,
    test_split: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    test_split.to_csv(tmp_path / "test.csv", index=False)
    monkeypatch.chdir(promoted_repo)
    code = main(
        [
            "predict",
            "--key",
            str(release_key),
            "--model",
            f"{MODEL}#production",
            "--input",
            str(tmp_path / "test.csv"),
            "--output",
            str(tmp_path / "batch.csv"),
        ]
    )
    assert code == EXIT_OK
    batch = pd.read_csv(tmp_path / "batch.csv")
    answer = infer(server, body_of(test_split)).json()
    outputs = {o["name"]: o["data"] for o in answer["outputs"]}
    assert outputs["predict"] == batch["prediction"].tolist()
    served = [outputs["predict_proba"][i * 2 : i * 2 + 2] for i in range(len(test_split))]
    assert served == batch[["probability_0", "probability_1"]].values.tolist()
    one_by_one = [
        infer(server, body_of(test_split.iloc[[i]])).json()["outputs"][0]["data"][0]
        for i in range(0, len(test_split), 10)
    ]
    assert one_by_one == batch["prediction"].tolist()[::10]


def test_an_mlserver_that_exits_is_a_failure_whatever_its_code(
    promoted_repo: Path, tmp_path: Path
) -> None:
    fetched = fetch_model_version(promoted_repo, f"{MODEL}@v1.0.0", tmp_path / "model")
    assert fetched.schema_path is not None
    fetched.schema_path.write_text("{}", encoding="utf-8")  # the runtime cannot load it
    options = ServeOptions(http_port=free_port(), grpc_port=free_port())
    with pytest.raises(ToolError, match=r"MLServer exited with code \d+ before") as failure:
        launch(fetched, tmp_path, options, ready_timeout=60)
    assert "input schema" in str(failure.value)


def test_the_context_manager_stops_mlserver_and_removes_its_folder(promoted_repo: Path) -> None:
    server = start_server(promoted_repo, f"{MODEL}@v1.0.0")
    with server:
        assert still_serving(server)
        workdir = server.workdir
    assert server.process.returncode is not None
    assert not workdir.exists()
    assert server.stop() == server.process.returncode  # stopping twice is harmless


def test_the_serve_command_serves_until_sigterm(
    promoted_repo: Path, release_key: Path, tmp_path: Path
) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlgitops",
        "serve",
        "--key",
        str(release_key),
        "--model",
        f"{MODEL}#production",
        "--port",
        str(port),
        "--workdir",
        str(tmp_path / "work"),
    ]
    process = subprocess.Popen(command, cwd=promoted_repo, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines: list[str] = []
    # The command says "serving ..." once it has seen the model ready itself; a signal
    # before that is a stop during start-up, a different path.
    reader = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}/v2/models/{MODEL}/ready"
    try:
        deadline = time.monotonic() + 180  # a busy 2-core machine: start-up is slow
        while not any("mlgitops: serving" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the served model was not ready in time"
            time.sleep(0.2)
        assert requests.get(url, timeout=10).status_code == 200
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        process.stderr.close()
    err = "".join(lines)
    assert process.returncode == 0, err
    assert f"serving {MODEL}@v1.0.0" in err and "stopping MLServer" in err
    head = proc.git("rev-parse", "HEAD", cwd=promoted_repo)[:12]
    verified = f"mlgitops: {MODEL}@v1.0.0 ({head}) verified: "
    assert verified in err and err.index(verified) < err.index("mlgitops: serving")
    settings = json.loads((tmp_path / "work/model/model-settings.json").read_text("utf-8"))
    assert settings["parameters"]["version"] == "v1.0.0"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_start_server_leaves_no_folder_behind_when_the_version_is_unknown(
    promoted_repo: Path,
) -> None:
    before = set(os.listdir(os.environ.get("TMPDIR", "/tmp")))
    with pytest.raises(Exception, match="is not registered"):
        start_server(promoted_repo, f"{MODEL}@v7.0.0")
    after = set(os.listdir(os.environ.get("TMPDIR", "/tmp")))
    assert not {n for n in after - before if n.startswith("mlgitops-serve-")}


def test_the_client_helpers_build_a_request_the_server_accepts(
    server: RunningServer, test_split: pd.DataFrame
) -> None:
    from mlgitops.serving.client import infer_body, post_json

    assert server.version.schema is not None
    rows = test_split.head(2)
    body = infer_body(server.version.schema, {c: rows[c].tolist() for c in rows.columns})
    status, answer = post_json(server.infer_url, body)
    assert status == 200 and answer["model_version"] == "v1.0.0"
    body["inputs"][0]["data"][0] = None
    status, answer = post_json(server.infer_url, body)
    assert status == 400 and "row 1: missing value" in answer["error"]


RECORDING_LOGGER = """
import json


class Recorder:
    def __init__(self, path):
        self.path = path

    def log(self, record):
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps({
                "id": record.request_id, "model": record.model, "version": record.version,
                "rows": len(record.outputs), "columns": list(record.inputs),
                "probabilities": record.probabilities, "source": record.source,
                "latency_ms": record.latency_ms,
            }) + "\\n")


def make(extra):
    return Recorder(extra["record_to"])
"""


def test_the_prediction_logger_hook_sees_every_answered_request(
    promoted_repo: Path, tmp_path: Path, test_split: pd.DataFrame
) -> None:
    """A logger named in the model settings is called once per answered request only."""
    from mlgitops.serving.server import write_settings

    fetched = fetch_model_version(promoted_repo, f"{MODEL}@v1.0.0", tmp_path / "model")
    (tmp_path / "recording_logger.py").write_text(RECORDING_LOGGER, encoding="utf-8")
    options = ServeOptions(
        http_port=free_port(), grpc_port=free_port(), prediction_logger="recording_logger:make"
    )
    records = tmp_path / "records.jsonl"
    write_settings(fetched, tmp_path, options)
    settings_file = tmp_path / "model" / "model-settings.json"
    settings = json.loads(settings_file.read_text("utf-8"))
    settings["parameters"]["extra"]["record_to"] = str(records)
    settings_file.write_text(json.dumps(settings), encoding="utf-8")
    server = launch(fetched, tmp_path, options, rewrite_settings=False)
    with server:
        good = infer(server, body_of(test_split.head(3)))
        bad = infer(server, _edit(lambda b: b["inputs"].pop(0))(server, test_split))
        assert (good.status_code, bad.status_code) == (200, 400)
    logged = [json.loads(line) for line in records.read_text("utf-8").splitlines()]
    assert len(logged) == 1
    (entry,) = logged
    proba = next(o["data"] for o in good.json()["outputs"] if o["name"] == "predict_proba")
    assert entry["id"] == good.json()["id"]
    assert (entry["model"], entry["version"], entry["rows"], entry["source"]) == (
        MODEL,
        "v1.0.0",
        3,
        "serve",
    )
    assert entry["columns"] == list(test_split.columns)
    assert [p for row in entry["probabilities"] for p in row] == proba
