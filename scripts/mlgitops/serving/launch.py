"""Start MLServer on a settings folder, with a bound on request bodies.

    python -m mlgitops.serving.launch SETTINGS_DIR --max-body-bytes N

The same as `mlserver start SETTINGS_DIR` (uvloop, settings and models from the folder),
plus one ASGI middleware in front of MLServer's REST app, because MLServer reads any body
whole (5 MB and 50 MB were accepted) and answers a JSON syntax error with a 500:

- a body over N bytes, announced or streamed, gets 413 before MLServer reads it;
- a compressed body (`Content-Encoding` other than identity) gets 415: MLServer would
  inflate gzip without a bound;
- an inference body that is not JSON (NaN and Infinity literals included) gets 400.

Run by `mlgitops.serving.server`; not a public entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """Bounded, uncompressed, well-formed JSON bodies for MLServer's REST endpoints."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.max_body_bytes
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            await _reply(
                send, 415, f"Content-Encoding '{encoding}' is not accepted; send plain JSON"
            )
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, f"request body is {declared} bytes, over the limit of {limit}")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, f"request body is over the limit of {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if scope.get("path", "").endswith(("/infer", "/generate")):
            problem = _json_problem(body)
            if problem:
                await _reply(send, 400, problem)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _json_problem(body: bytes) -> str | None:
    import orjson

    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return (
            f"request body is not valid JSON ({error.msg} at byte {error.pos}); NaN and "
            "Infinity are not JSON: send null for a missing value"
        )
    return None


async def _load_settings(folder: str) -> tuple[Any, list[Any]]:
    """settings.json and the model settings under `folder`, read as `mlserver start` reads
    them, without importing `mlserver.cli`: its package imports MLServer's batch client
    and tritonclient, half a second of a cold start a server never uses."""
    from pathlib import Path

    from mlserver.repository.factory import ModelRepositoryFactory
    from mlserver.settings import Settings

    path = Path(folder) / "settings.json"
    settings = Settings.model_validate(json.loads(path.read_text(encoding="utf-8")))
    settings.model_repository_root = folder
    if not settings.load_models_at_startup:
        return settings, []
    repository = ModelRepositoryFactory.resolve_model_repository(settings)
    return settings, list(await repository.list())


async def _serve(folder: str, max_body_bytes: int) -> None:
    from mlserver.server import MLServer

    settings, models = await _load_settings(folder)
    server = MLServer(settings)
    # MLServer builds its FastAPI app in the constructor and starts it in `start`.
    server._rest_server._app.add_middleware(BodyGuard, max_body_bytes=max_body_bytes)
    await server.start(models)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlgitops.serving.launch")
    parser.add_argument("folder")
    parser.add_argument("--max-body-bytes", type=int, required=True)
    args = parser.parse_args(argv)
    from mlserver.utils import install_uvloop_event_loop

    install_uvloop_event_loop()
    asyncio.run(_serve(args.folder, args.max_body_bytes))


if __name__ == "__main__":
    main()
