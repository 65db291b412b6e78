"""MLServer's two settings files for one fetched version (pure: dicts in, files out).

    <workdir>/settings.json                   the server: host, ports, no debug traces
    <workdir>/<model>/model-settings.json     the model: runtime, files, version, batching
    <workdir>/<model>/model.pkl, schema.json  fetched and verified by `fetch`

`parallel_workers` is 0: the model runs in the server process. With MLServer 1.7.1 and
the uvloop pip picks (0.23), one inference worker crashes at start, MLServer drops the
model and exits 0 while `/v2/health/ready` still answered 200.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgitops.core.input_schema import InputSchema
from mlgitops.serving.requests import CANONICAL_DATATYPE

RUNTIME = "mlgitops.serving.runtime.SchemaValidatedModel"


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: where, and how to batch. Batching: up to `max_batch_size` requests
    waiting at most `max_batch_time` seconds; size 1 turns it off."""

    host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 8081
    max_batch_size: int = 8
    max_batch_time: float = 0.01
    max_body_bytes: int = 1024 * 1024
    prediction_logger: str | None = None  # "module:callable", see serving.hooks


def server_settings(options: ServeOptions) -> dict[str, Any]:
    return {
        "debug": False,  # MLServer's default sends tracebacks to clients
        "host": options.host,
        "http_port": options.http_port,
        "grpc_port": options.grpc_port,
        "grpc_max_message_length": options.max_body_bytes,
        "parallel_workers": 0,
        "metrics_endpoint": None,
        "load_models_at_startup": True,
        "server_name": "mlgitops",
    }


def model_settings(
    *,
    model: str,
    version: str,
    tag: str,
    commit: str,
    md5: str,
    schema: InputSchema,
    model_file: str,
    schema_file: str,
    options: ServeOptions,
) -> dict[str, Any]:
    """model-settings.json. The metadata endpoint lists the schema's inputs from here; the
    runtime adds the outputs once it has loaded the model (their datatypes depend on it),
    so that writing the settings does not cost a model load."""
    inputs = [
        {"name": column.name, "datatype": CANONICAL_DATATYPE[column.type], "shape": [-1, 1]}
        for column in schema.columns
    ]
    extra: dict[str, Any] = {"schema": schema_file, "tag": tag, "commit": commit, "md5": md5}
    if options.prediction_logger:
        extra["prediction_logger"] = options.prediction_logger
    return {
        "name": model,
        "implementation": RUNTIME,
        "platform": "sklearn",
        "versions": [version],
        "inputs": inputs,
        "max_batch_size": options.max_batch_size,
        "max_batch_time": options.max_batch_time,
        "parameters": {"uri": f"./{model_file}", "version": version, "extra": extra},
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
