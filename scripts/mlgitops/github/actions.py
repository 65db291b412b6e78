"""The GitHub Actions environment: settings in, outputs, job summary and annotations out.

No PyGithub here: this is the runner's file-and-stdout protocol, which also works
locally (every variable is optional, and outputs are skipped when unset).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mlgitops.errors import InputError, Location, MlgitopsError

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class ActionsSettings:
    """Settings from the standard Actions variables; the token never shows in repr."""

    repository: str | None = None
    api_url: str = DEFAULT_API_URL
    server_url: str = "https://github.com"
    token: str | None = field(default=None, repr=False)
    event_name: str | None = None
    event_path: Path | None = None
    sha: str | None = None
    ref: str | None = None
    run_id: str | None = None
    output_path: Path | None = None
    step_summary_path: Path | None = None
    in_actions: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActionsSettings:
        env = os.environ if environ is None else environ

        def path(name: str) -> Path | None:
            value = env.get(name)
            return Path(value) if value else None

        return cls(
            repository=env.get("GITHUB_REPOSITORY") or None,
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None,
            event_name=env.get("GITHUB_EVENT_NAME") or None,
            event_path=path("GITHUB_EVENT_PATH"),
            sha=env.get("GITHUB_SHA") or None,
            ref=env.get("GITHUB_REF") or None,
            run_id=env.get("GITHUB_RUN_ID") or None,
            output_path=path("GITHUB_OUTPUT"),
            step_summary_path=path("GITHUB_STEP_SUMMARY"),
            in_actions=env.get("GITHUB_ACTIONS") == "true",
        )

    def event(self) -> dict[str, Any]:
        """The webhook payload that triggered the run ({} when there is none)."""
        if self.event_path is None:
            return {}
        import json  # only commands that read the event need it; the rest start faster

        try:
            payload = json.loads(self.event_path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise InputError(
                "GITHUB_EVENT_PATH points at a missing file",
                location=Location(str(self.event_path)),
            ) from error
        except json.JSONDecodeError as error:
            raise InputError(
                f"event payload is not valid JSON: {error.msg}",
                location=Location(str(self.event_path), error.lineno),
            ) from error
        if not isinstance(payload, dict):
            raise InputError(
                "event payload is not a JSON object", location=Location(str(self.event_path))
            )
        return payload

    def pull_request_number(self) -> int | None:
        """The PR number of a pull_request event, else None."""
        pull_request = self.event().get("pull_request")
        if isinstance(pull_request, dict) and isinstance(pull_request.get("number"), int):
            return int(pull_request["number"])
        return None


def set_output(settings: ActionsSettings, name: str, value: str) -> None:
    """Write a step output with a random delimiter, so a value cannot inject others."""
    if settings.output_path is None:
        return
    # 128 random bits, as uuid4 has, without importing uuid (and platform) at start-up.
    delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
    with settings.output_path.open("a", encoding="utf-8") as handle:
        handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_step_summary(settings: ActionsSettings, markdown: str) -> None:
    """Append markdown to the job summary page (no-op outside Actions)."""
    if settings.step_summary_path is None:
        return
    with settings.step_summary_path.open("a", encoding="utf-8") as handle:
        handle.write(markdown.rstrip("\n") + "\n\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_annotation(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    end_line: int | None = None,
    title: str | None = None,
) -> str:
    """A workflow command such as `::error file=policy.yaml,line=3::message`.

    Escaping follows GitHub's toolkit (`@actions/core` command.ts): `%`, CR and LF in
    the message; additionally `:` and `,` in property values.
    """
    if level not in {"error", "warning", "notice"}:
        raise ValueError(f"unknown annotation level {level!r}")
    properties = []
    if file:
        properties.append(f"file={_escape_property(file)}")
    if line is not None:
        properties.append(f"line={line}")
    if end_line is not None:
        properties.append(f"endLine={end_line}")
    if title:
        properties.append(f"title={_escape_property(title)}")
    head = f"::{level}"
    if properties:
        head += " " + ",".join(properties)
    return f"{head}::{_escape_data(message)}"


def annotate(level: str, message: str, *, stream: TextIO | None = None, **location: Any) -> None:
    """Print an annotation to stdout (the runner reads workflow commands from there)."""
    print(format_annotation(level, message, **location), file=stream or sys.stdout)


def print_error(error: MlgitopsError, *, in_actions: bool) -> None:
    """An error for humans on stderr, and as an `::error` annotation when in Actions."""
    print(f"mlgitops: error: {error}", file=sys.stderr)
    if in_actions:
        location = error.location
        print(
            format_annotation(
                "error",
                str(error),
                file=location.file if location else None,
                line=location.line if location else None,
            )
        )
