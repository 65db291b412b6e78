"""Prediction logs written by real processes and threads, and read back.

8 writer processes (and 8 threads) append at once with segments small enough to
rotate many times: every record must come back once, intact. A writer killed with
SIGKILL in the middle of large writes leaves nothing the reader takes for data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from mlgitops.core.monitoring import HASH_PREFIX, LogPolicy
from mlgitops.errors import InputError
from mlgitops.serving.predlog import (
    PredictionLogWriter,
    ReadStats,
    frame,
    iter_folder,
    parse_line,
    segment_paths,
)

WRITER = """
import sys
from pathlib import Path
from mlgitops.serving.predlog import PredictionLogWriter

folder, name, count, rows, width = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
logger = PredictionLogWriter(Path(folder), model="m", version="v1.0.0", segment_bytes=32 * 1024)
pad = "x" * width
for i in range(count):
    inputs = [{"a": i, "b": float(j), "pad": pad} for j in range(rows)]
    logger.log(request_id=f"{name}-{i}", inputs=inputs, outputs=[j for j in range(rows)],
               latency_ms=1.5, probabilities=[{"0": 0.25, "1": 0.75}] * rows)
    if name == "progress":
        print(i, flush=True)
logger.close()
"""


def _spawn(folder: Path, name: str, count: int, rows: int = 1, width: int = 10) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), name, str(count), str(rows), str(width)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_eight_processes_lose_and_interleave_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    per_writer = 400
    writers = [_spawn(folder, f"w{n}", per_writer, rows=3) for n in range(8)]
    for process in writers:
        assert process.wait(timeout=120) == 0
        assert process.stdout is not None
        process.stdout.close()
    stats = ReadStats()
    records = list(iter_folder(folder, stats))
    assert stats.skipped == 0
    assert len(records) == 8 * per_writer * 3
    keys = Counter((r["request_id"], r["row"]) for r in records)
    assert max(keys.values()) == 1
    assert {r["request_id"].split("-")[0] for r in records} == {f"w{n}" for n in range(8)}
    # A request's rows stay together and in order inside one segment.
    assert len(segment_paths(folder)) > 8  # 32 KiB segments rotated
    for path in segment_paths(folder):
        lines = [parse_line(line) for line in path.read_bytes().splitlines(keepends=True)]
        assert all(line is not None for line in lines)
        assert all(path.stat().st_size <= 32 * 1024 for path in segment_paths(folder))


def test_eight_threads_share_one_logger(tmp_path: Path) -> None:
    logger = PredictionLogWriter(tmp_path, model="m", version="v1", segment_bytes=16 * 1024)

    def work(name: str) -> None:
        for i in range(300):
            logger.log(
                request_id=f"{name}-{i}",
                inputs=[{"x": i}, {"x": -i}],
                outputs=[0, 1],
                latency_ms=0.5,
            )

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.close()
    stats = ReadStats()
    records = list(iter_folder(tmp_path, stats))
    assert stats.skipped == 0
    assert len({(r["request_id"], r["row"]) for r in records}) == len(records) == 8 * 300 * 2


def test_a_writer_killed_mid_write_leaves_no_bad_data(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    # Requests of 400 rows x 2 KiB: each write() is ~1 MB, so a kill lands inside one.
    process = _spawn(folder, "progress", 100_000, rows=400, width=2000)
    assert process.stdout is not None
    done = 0
    deadline = time.monotonic() + 60
    while done < 5 and time.monotonic() < deadline:
        done = int(process.stdout.readline()) + 1
    time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    process.stdout.close()
    assert done >= 5
    stats = ReadStats()
    records = list(iter_folder(folder, stats))
    assert stats.corrupt == 0
    assert stats.truncated <= 1  # only the last write of the one writer can be cut
    # Everything the writer had finished is there; rows of later requests only whole.
    assert len(records) >= done * 400
    assert all(len(r["inputs"]["pad"]) == 2000 for r in records)


def test_a_torn_tail_and_garbage_are_counted_not_read(tmp_path: Path) -> None:
    good = [frame({"request_id": str(i), "row": 0, "output": i}) for i in range(5)]
    path = tmp_path / "predictions-a.jsonl"
    bad_checksum = b"00000000 " + good[0][9:]
    path.write_bytes(b"".join(good[:3]) + bad_checksum + b"not a record\n" + good[3][:-7])
    stats = ReadStats()
    records = list(iter_folder(tmp_path, stats))
    assert [r["output"] for r in records] == [0, 1, 2]
    assert (stats.records, stats.corrupt, stats.truncated) == (3, 2, 1)


def test_policy_selects_and_hashes_columns(tmp_path: Path) -> None:
    policy = LogPolicy(exclude=("email",), hash=("customer",), salt_env="SALT")
    logger = PredictionLogWriter.from_policy(
        tmp_path, policy, model="m", version="v2", environ={"SALT": "s3cret"}
    )
    logger.log(
        request_id="r1",
        inputs=[{"email": "a@b.c", "customer": "alice", "age": float("nan"), "n": 3}],
        outputs=[0.5],
        latency_ms=2,
    )
    logger.log(request_id="r2", inputs=[{"customer": "alice"}], outputs=[0.1], latency_ms=2)
    logger.close()
    first, second = list(iter_folder(tmp_path / policy.folder, ReadStats()))
    assert set(first["inputs"]) == {"customer", "age", "n"}
    assert first["inputs"]["age"] is None  # NaN is not JSON: logged as missing
    assert first["inputs"]["customer"].startswith(HASH_PREFIX)
    assert first["inputs"]["customer"] == second["inputs"]["customer"]
    assert "alice" not in json.dumps(first)
    assert first["version"] == "v2" and first["time"].endswith("Z")


def test_hashing_without_a_salt_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="SALT is not set"):
        PredictionLogWriter.from_policy(
            tmp_path, LogPolicy(hash=("id",), salt_env="SALT"), model="m", version="v", environ={}
        )
