"""JSON Schema checks of parsed YAML, with errors people can act on.

jsonschema's messages name JSON pointers and Python reprs; these name the file, the line
and the dotted key, and say what was expected in the words the policy reference uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mlgitops.core.policy import PathKey, dotted
from mlgitops.errors import InputError, Location
from mlgitops.io.yaml_strict import YamlDocument, describe


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `mlgitops/schemas/` (`policy-v1`, `model-card`)."""
    text = resources.files("mlgitops").joinpath("schemas", f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_path(name: str) -> Path:
    """Filesystem path of a shipped schema (for check-jsonschema and docs)."""
    return Path(str(resources.files("mlgitops").joinpath("schemas", f"{name}.schema.json")))


_SCHEMA_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


def schema_errors(document: YamlDocument, schema: Mapping[str, Any]) -> list[InputError]:
    """Validate `document.data` against `schema`; one InputError per problem, by line."""
    validator = Draft202012Validator(schema)
    problems: list[InputError] = []
    for error in validator.iter_errors(document.data):
        problems.extend(_translate(document, error))
    problems.sort(key=lambda e: (e.location.line or 0) if e.location else 0)
    return problems


def _translate(document: YamlDocument, error: ValidationError) -> list[InputError]:
    path: PathKey = tuple(error.absolute_path)
    custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None
    if custom:
        return [InputError(str(custom), location=document.location(*path))]
    kind = error.validator
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        pattern = error.validator_value if kind == "pattern" else None
        rule = f": names must match {pattern}" if pattern else ""
        return [
            InputError(
                f"invalid key {json.dumps(error.instance)}{rule}",
                location=document.location(*path, error.instance),
            )
        ]
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extras = [key for key in error.instance if key not in allowed]
        hint = f"allowed here: {', '.join(allowed)}" if allowed else None
        return [
            InputError(f"unknown key '{key}'", location=document.location(*path, key), hint=hint)
            for key in extras
        ]
    if kind == "required" and isinstance(error.instance, dict):
        missing = [key for key in error.validator_value if key not in error.instance]
        where = f" in '{dotted(path)}'" if path else ""
        return [
            InputError(
                f"missing required key '{key}'{where}",
                location=Location(document.file, document.line_of(*path), dotted((*path, key))),
            )
            for key in missing
        ]
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_SCHEMA_TYPE_NAMES.get(name, name) for name in names)
        message = f"expected {wanted}, got {describe(error.instance)}"
    elif kind == "enum":
        choices = ", ".join(json.dumps(choice) for choice in error.validator_value)
        message = f"must be one of {choices}, got {describe(error.instance)}"
    elif kind == "const":
        message = f"must be {json.dumps(error.validator_value)}, got {describe(error.instance)}"
    elif kind in {"minimum", "exclusiveMinimum"}:
        relation = ">=" if kind == "minimum" else ">"
        message = f"must be {relation} {error.validator_value}, got {error.instance}"
    elif kind == "uniqueItems":
        message = "list items must be unique"
    elif kind == "minItems":
        message = f"needs at least {error.validator_value} item(s)"
    elif kind == "minLength":
        message = "must not be empty"
    elif kind == "pattern":
        message = f"{json.dumps(error.instance)} does not match {error.validator_value}"
    elif kind == "propertyNames":
        message = f"invalid name {json.dumps(error.instance)}"
    else:
        message = error.message
    return [InputError(message, location=document.location(*path))]
