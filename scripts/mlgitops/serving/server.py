"""Serve a promoted version with MLServer: fetch, verify, write settings, start, wait, stop.

    with serve_version(repo_root, "churn-model#production") as server:
        requests.post(f"{server.base_url}/v2/models/{server.model}/infer", json=...)

`start_server` returns only once MLServer answers 200 on the model's own readiness
(`/v2/models/{name}/ready`; the server-wide `/v2/health/ready` can say 200 while the model
is being dropped). An MLServer that exits before or while serving is a failure whatever
its exit code (it exits 0 after dropping a model that failed to load); its log is in
`<workdir>/mlserver.log` and its last lines go into the error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlgitops.errors import InputError, ToolError
from mlgitops.serving.fetch import FetchedVersion, fetch_model_version
from mlgitops.serving.settings import ServeOptions, model_settings, server_settings, write_json

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_LOG_TAIL_LINES = 15
MODEL_FOLDER = "model"  # <workdir>/model: model-settings.json, model.pkl, schema.json


@dataclass
class RunningServer:
    """An MLServer process serving one verified version; `stop()` ends it (idempotent)."""

    base_url: str
    version: FetchedVersion
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    started_at: float
    ready_at: float
    _cleanup: list[Path] = field(default_factory=list, repr=False)

    @property
    def model(self) -> str:
        return self.version.model

    @property
    def infer_url(self) -> str:
        return f"{self.base_url}/v2/models/{self.model}/infer"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int | None:
        """Stop MLServer (SIGTERM, then SIGKILL after a grace period); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup.clear()
        return self.process.returncode

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _get_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


def write_settings(fetched: FetchedVersion, workdir: Path, options: ServeOptions) -> Path:
    """settings.json and model/model-settings.json for `fetched` (its files are copied
    into the model folder when they are elsewhere). Returns the model folder."""
    if fetched.schema is None or fetched.schema_path is None:
        raise InputError(f"{fetched.tag} has no input schema: it cannot be served validated")
    model_dir = workdir / MODEL_FOLDER
    model_dir.mkdir(parents=True, exist_ok=True)
    for source in (fetched.path, fetched.schema_path):
        if source.parent.resolve() != model_dir.resolve():
            shutil.copyfile(source, model_dir / source.name)
    write_json(workdir / "settings.json", server_settings(options))
    write_json(
        model_dir / "model-settings.json",
        model_settings(
            model=fetched.model,
            version=fetched.version,
            tag=fetched.tag,
            commit=fetched.commit,
            md5=fetched.md5,
            schema=fetched.schema,
            model_file=fetched.path.name,
            schema_file=fetched.schema_path.name,
            options=options,
        ),
    )
    return model_dir


def launch(
    fetched: FetchedVersion,
    workdir: Path,
    options: ServeOptions,
    *,
    ready_timeout: float = READY_TIMEOUT_S,
    started_at: float | None = None,
    rewrite_settings: bool = True,
) -> RunningServer:
    """Write the settings (unless told not to: a caller edited them), start MLServer on
    them and wait until the model is ready."""
    started = started_at if started_at is not None else time.perf_counter()
    if rewrite_settings:
        write_settings(fetched, workdir, options)
    log_path = workdir / "mlserver.log"
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "ITERATIVE_DO_NOT_TRACK": "1"}
    env["PYTHONUNBUFFERED"] = "1"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlgitops.serving.launch",
                str(workdir),
                "--max-body-bytes",
                str(options.max_body_bytes),
            ],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://{options.host}:{options.http_port}"
    server = RunningServer(base_url, fetched, process, workdir, log_path, started, started)
    ready_url = f"{base_url}/v2/models/{fetched.model}/ready"
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            if process.poll() is not None:
                raise ToolError(
                    f"MLServer exited with code {process.returncode} before {fetched.tag} was "
                    f"ready; its log ({log_path}) ends with:\n{_log_tail(log_path)}"
                )
            if _get_status(ready_url, timeout=1.0) == 200:
                break
            if time.monotonic() > deadline:
                raise ToolError(
                    f"{fetched.tag} was not ready after {ready_timeout:g} s; MLServer's log "
                    f"({log_path}) ends with:\n{_log_tail(log_path)}"
                )
            time.sleep(0.05)
    except BaseException:
        server.stop()
        raise
    server.ready_at = time.perf_counter()
    return server


def start_server(
    repo_root: Path | str,
    reference: str,
    options: ServeOptions | None = None,
    *,
    workdir: Path | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
) -> RunningServer:
    """Fetch and verify `reference`, then serve it; ports 0 pick free ones.

    Without `workdir` a temporary folder is used and removed by `stop()`.
    """
    started = time.perf_counter()
    chosen = options or ServeOptions(http_port=0, grpc_port=0)
    if chosen.http_port == 0 or chosen.grpc_port == 0:
        http_port = chosen.http_port or free_port(chosen.host)
        grpc_port = chosen.grpc_port or free_port(chosen.host)
        while grpc_port == http_port:
            grpc_port = free_port(chosen.host)
        chosen = replace(chosen, http_port=http_port, grpc_port=grpc_port)
    cleanup: list[Path] = []
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="mlgitops-serve-"))
        cleanup.append(workdir)
    try:
        fetched = fetch_model_version(repo_root, reference, workdir / MODEL_FOLDER)
        server = launch(fetched, workdir, chosen, ready_timeout=ready_timeout, started_at=started)
    except BaseException:
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)
        raise
    server._cleanup.extend(cleanup)
    return server


@contextlib.contextmanager
def serve_version(
    repo_root: Path | str,
    reference: str,
    options: ServeOptions | None = None,
    *,
    workdir: Path | None = None,
) -> Iterator[RunningServer]:
    """A running, ready server for `reference`, stopped on exit."""
    server = start_server(repo_root, reference, options, workdir=workdir)
    try:
        yield server
    finally:
        server.stop()
