"""Strict loading of the YAML a generated repository is governed by.

`governance/policy.yaml`, `params.yaml`, `.dvc` files and the model card's front matter are
read with one loader that is stricter than `yaml.safe_load`:

- YAML 1.2 core-schema resolution, not PyYAML's YAML 1.1: `1e-1` is a float (PyYAML reads a
  string), `010` is ten, timestamps stay strings; the YAML 1.1 booleans `yes/no/on/off` are
  rejected as ambiguous instead of being read as true/false.
- anchors and aliases are rejected outright, not bounded: nothing in these files needs them,
  an alias makes one line of a reviewed policy change the meaning of another, and rejecting
  them removes "billion laughs" bombs without having to pick a size limit.
- duplicate keys, NaN/Inf numbers, files over a size limit, empty files and several
  documents in one file are errors.

Every problem is an `InputError` naming the file, the line and the dotted key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from mlgitops.core.model_card import ModelCard, parse_model_card
from mlgitops.errors import InputError, Location

POLICY_VERSIONS = (1,)
DEFAULT_POLICY_PATH = "governance/policy.yaml"
MAX_POLICY_BYTES = 64 * 1024
MAX_PARAMS_BYTES = 1024 * 1024
MAX_CARD_BYTES = 1024 * 1024
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_AMBIGUOUS_BOOL = "tag:mlgitops,2026:ambiguous-bool"


class _Resolver12(BaseResolver):
    """Plain-scalar resolution of the YAML 1.2 core schema (files written by DVC/ruamel)."""


class _Resolver(_Resolver12):
    """YAML 1.2 core schema plus a trap for YAML 1.1 booleans (files people write)."""


_CORE_SCHEMA = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
)
for _tag, _pattern, _first in _CORE_SCHEMA:
    _Resolver12.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
    _Resolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_Resolver.add_implicit_resolver(
    _AMBIGUOUS_BOOL,
    re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$"),
    list("yYnNoO"),
)


class _Constructor(SafeConstructor):
    line_offset = 0  # added to line numbers quoted inside messages

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError as error:
                raise ConstructorError(
                    None, None, "a mapping key must be a scalar", key_node.start_mark
                ) from error
            if first is not None:
                raise _YamlProblem(
                    f"duplicate key '{key}' (first defined on line {first})",
                    key_node.start_mark.line + 1,
                )
            seen[key] = key_node.start_mark.line + 1 + self.line_offset
        return super().construct_mapping(node, deep=deep)

    def construct_strict_int(self, node: ScalarNode) -> int:
        value = str(node.value)
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value, 10)

    def construct_strict_float(self, node: ScalarNode) -> float:
        value = str(node.value).lower()
        if value.endswith(".inf"):
            return -math.inf if value.startswith("-") else math.inf
        if value == ".nan":
            return math.nan
        return float(value)

    def construct_ambiguous_bool(self, node: ScalarNode) -> Any:
        raise _YamlProblem(
            f"'{node.value}' is a boolean in YAML 1.1 and a string in YAML 1.2; "
            "write true/false, or quote it if you mean the text",
            node.start_mark.line + 1,
        )


_Constructor.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:int", _Constructor.construct_strict_int
)
_Constructor.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:float", _Constructor.construct_strict_float
)
_Constructor.add_constructor(  # type: ignore[type-var]
    _AMBIGUOUS_BOOL, _Constructor.construct_ambiguous_bool
)


class _YamlProblem(Exception):
    def __init__(self, message: str, line: int | None, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.key = key


class _Loader(Reader, Scanner, Parser, Composer, _Constructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, AliasEvent):
            raise _YamlProblem(
                f"alias '*{event.anchor}' is not allowed: write the value out",
                line,
            )
        if getattr(event, "anchor", None):
            raise _YamlProblem(
                f"anchor '&{event.anchor}' is not allowed: anchors and aliases are rejected "
                "so that every value is written where it applies",
                line,
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _YamlProblem(f"nesting deeper than {MAX_DEPTH} levels", line)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _MachineLoader(_Loader):
    """For YAML that DVC writes (ruamel, YAML 1.2): `yes`/`on` are plain strings there."""

    yaml_implicit_resolvers = _Resolver12.yaml_implicit_resolvers


def dotted(path: Sequence[str | int]) -> str:
    """`('metrics', 'accuracy', 'min')` -> `metrics.accuracy.min`; indices as `[0]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML plus the line (1-based) of every key and list item."""

    file: str
    data: Any
    lines: Mapping[PathKey, int] = field(default_factory=dict)

    def line_of(self, *path: str | int) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        key: PathKey = tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def location(self, *path: str | int) -> Location:
        return Location(self.file, self.line_of(*path), dotted(path) or None)


def _line_map(node: Node, line_offset: int) -> dict[PathKey, int]:
    lines: dict[PathKey, int] = {}
    stack: list[tuple[Node, PathKey]] = [(node, ())]
    while stack:
        current, path = stack.pop()
        lines.setdefault(path, current.start_mark.line + 1 + line_offset)
        if isinstance(current, MappingNode):
            for key_node, value_node in current.value:
                child = (*path, str(key_node.value))
                lines[child] = key_node.start_mark.line + 1 + line_offset
                stack.append((value_node, child))
        elif isinstance(current, SequenceNode):
            for index, item in enumerate(current.value):
                stack.append((item, (*path, index)))
    return lines


def _key_on_line(lines: Mapping[PathKey, int], line: int | None) -> str | None:
    """The deepest key that starts on `line` (for errors raised while constructing)."""
    candidates = [path for path, at in lines.items() if at == line and path]
    return dotted(max(candidates, key=len)) if candidates else None


def _walk(data: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk(value, (*path, index))


def parse_yaml(
    text: str, *, file: str, line_offset: int = 0, written_by_dvc: bool = False
) -> YamlDocument:
    """Parse YAML text strictly (see the module docstring); `line_offset` shifts line numbers.

    `written_by_dvc`: the file is machine-written YAML 1.2 (`.dvc`, `dvc.lock`), where
    `yes`/`on` are plain strings, so they are not rejected as ambiguous booleans.
    Raises InputError naming `file`, the line and the key.
    """
    loader = (_MachineLoader if written_by_dvc else _Loader)(text)
    loader.line_offset = line_offset
    lines: dict[PathKey, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError("file is empty", location=Location(file, None))
        lines = _line_map(node, line_offset)
        data = loader.construct_document(node)
    except _YamlProblem as problem:
        line = None if problem.line is None else problem.line + line_offset
        key = problem.key or _key_on_line(lines, line)
        raise InputError(problem.message, location=Location(file, line, key)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = None if mark is None else mark.line + 1 + line_offset
        message = " ".join(part for part in (error.context, error.problem) if part)
        raise InputError(
            f"not valid YAML: {message or error}", location=Location(file, line)
        ) from None
    except yaml.YAMLError as error:
        raise InputError(f"not valid YAML: {error}", location=Location(file)) from None
    except RecursionError:
        raise InputError("nesting is too deep", location=Location(file)) from None
    finally:
        loader.dispose()
    document = YamlDocument(file, data, lines)
    for path, value in _walk(data):
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(
                f"{_number_name(value)} is not allowed: write a finite number",
                location=document.location(*path),
            )
    return document


def _number_name(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "-Inf" if value < 0 else "Inf"


def read_text(path: Path, *, file: str | None = None, max_bytes: int) -> str:
    """Read a UTF-8 text file with a size limit; `file` is the name used in messages."""
    name = file or str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError("file not found", location=Location(name)) from None
    if path.is_dir():
        raise InputError("is a directory, expected a file", location=Location(name))
    if size > max_bytes:
        raise InputError(
            f"file is {size} bytes, over the limit of {max_bytes} bytes",
            location=Location(name),
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start})", location=Location(name)) from None


def load_yaml(
    path: Path | str, *, file: str | None = None, max_bytes: int, written_by_dvc: bool = False
) -> YamlDocument:
    """Read and strictly parse one YAML file (see `parse_yaml`)."""
    path = Path(path)
    name = file or str(path)
    text = read_text(path, file=name, max_bytes=max_bytes)
    return parse_yaml(text, file=name, written_by_dvc=written_by_dvc)


def load_params(path: Path | str, *, file: str | None = None) -> YamlDocument:
    """params.yaml: strict YAML whose top level is a mapping of sections.

    DVC reads params.yaml as YAML 1.2 and pipeline code often with PyYAML (YAML 1.1), so
    a value the two read differently (`1e-3`: a number for DVC, a string for PyYAML;
    `010`, `0o10`, `2026-01-01`, `1:30`) is an error naming the spelling both agree on.
    """
    path = Path(path)
    name = file or str(path)
    text = read_text(path, file=name, max_bytes=MAX_PARAMS_BYTES)
    document = parse_yaml(text, file=name)
    if not isinstance(document.data, dict):
        raise InputError(
            f"expected a mapping of parameter sections, got {_type_name(document.data)}",
            location=Location(document.file, 1),
        )
    pyyaml = dict(_walk(yaml.safe_load(text)))
    for key, value in _walk(document.data):
        other = pyyaml.get(key, value)
        if isinstance(value, dict | list) or (type(other) is type(value) and other == value):
            continue
        raise InputError(
            f"{json.dumps(value, default=str)} for YAML 1.2 (DVC) but"
            f" {json.dumps(other, default=str)} for YAML 1.1 (PyYAML)",
            location=document.location(*key),
            hint=_agreeing_spelling(value),
        )
    return document


def _agreeing_spelling(value: Any) -> str:
    if isinstance(value, float):
        text = repr(value)
        if "e" in text:
            mantissa, exponent = text.split("e")
            mantissa += "" if "." in mantissa else ".0"
            exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
            text = f"{mantissa}e{exponent}"
        return f"write {text} (a decimal point and a signed exponent), or quote a string"
    if isinstance(value, int):
        return f"write {value} in decimal, or quote it if it is text"
    return "quote the value"


# --------------------------------------------------------------------------- JSON Schema


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `mlgitops/schemas/` (`policy-v1`, `model-card`)."""
    text = resources.files("mlgitops").joinpath("schemas", f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_path(name: str) -> Path:
    """Filesystem path of a shipped schema (for check-jsonschema and docs)."""
    return Path(str(resources.files("mlgitops").joinpath("schemas", f"{name}.schema.json")))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


_SCHEMA_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


def _describe(value: Any) -> str:
    if isinstance(value, dict | list):
        return _type_name(value)
    return f"{_type_name(value)} {json.dumps(value)}"


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
        message = f"expected {wanted}, got {_describe(error.instance)}"
    elif kind == "enum":
        choices = ", ".join(json.dumps(choice) for choice in error.validator_value)
        message = f"must be one of {choices}, got {_describe(error.instance)}"
    elif kind == "const":
        message = f"must be {json.dumps(error.validator_value)}, got {_describe(error.instance)}"
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


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class MaxRegression:
    """Largest allowed worsening vs the base, in metric units or as a fraction of the base."""

    kind: str  # "absolute" | "relative"
    amount: float


@dataclass(frozen=True)
class MetricRule:
    name: str
    higher_is_better: bool
    min: float | None = None
    max: float | None = None
    max_regression: MaxRegression | None = None


@dataclass(frozen=True)
class FairnessPolicy:
    metric: str
    max_gap: float
    report: str = "reports/fairness.json"
    min_group_size: int = 0


@dataclass(frozen=True)
class ModelCardPolicy:
    path: str = "MODEL_CARD.md"
    required_sections: tuple[str, ...] = ()
    metrics_must_match: bool = True


@dataclass(frozen=True)
class DataPolicy:
    allowed_licenses: tuple[str, ...] | None = None  # None: licenses are not checked
    max_git_file_kb: float = 512
    dataset_paths: tuple[str, ...] = ("data/",)
    require_clean_dvc_status: bool = True


@dataclass(frozen=True)
class ChangeControlPolicy:
    protected_paths: tuple[str, ...]
    approval_label: str = "governance-approved"
    accept_codeowners_review: bool = False


@dataclass(frozen=True)
class ReleasePolicy:
    default_bump: str = "minor"
    stages: tuple[str, ...] = ("staging", "production")


@dataclass(frozen=True)
class Policy:
    """A validated governance/policy.yaml. `document` keeps the raw data and line numbers."""

    version: int
    metrics: Mapping[str, MetricRule]
    document: YamlDocument
    fairness: FairnessPolicy | None = None
    model_card: ModelCardPolicy | None = None
    data: DataPolicy | None = None
    change_control: ChangeControlPolicy | None = None
    release: ReleasePolicy = ReleasePolicy()

    @property
    def file(self) -> str:
        return self.document.file

    def metric_direction(self, name: str) -> bool | None:
        """True if higher is better, False if lower is better, None if the policy is silent."""
        rule = self.metrics.get(name)
        return None if rule is None else rule.higher_is_better

    def line_of(self, *path: str | int) -> int | None:
        return self.document.line_of(*path)

    def location(self, *path: str | int) -> Location:
        return self.document.location(*path)


def policy_problems(document: YamlDocument) -> list[InputError]:
    """Every problem of a parsed policy: version, schema, then cross-field checks."""
    data = document.data
    if not isinstance(data, dict):
        return [
            InputError(
                f"expected a mapping at the top level, got {_describe(data)}",
                location=Location(document.file, document.line_of()),
            )
        ]
    if "version" not in data:
        return [
            InputError(
                "missing required key 'version'",
                location=Location(document.file, 1, "version"),
                hint=f"add 'version: {POLICY_VERSIONS[-1]}' as the first line",
            )
        ]
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        return [
            InputError(
                f"expected an integer, got {_describe(version)}",
                location=document.location("version"),
            )
        ]
    if version not in POLICY_VERSIONS:
        supported = ", ".join(str(v) for v in POLICY_VERSIONS)
        return [
            InputError(
                f"unsupported policy version {version}; this mlgitops reads version {supported}",
                location=document.location("version"),
                hint="upgrade mlgitops, or write the policy in a supported version",
            )
        ]
    problems = schema_errors(document, load_schema(f"policy-v{version}"))
    if problems:
        return problems
    for name, rule in data["metrics"].items():
        low, high = rule.get("min"), rule.get("max")
        if low is not None and high is not None and low > high:
            problems.append(
                InputError(
                    f"min ({low}) is greater than max ({high}): no value can pass",
                    location=document.location("metrics", name, "max"),
                )
            )
    return problems


def policy_from_document(document: YamlDocument) -> Policy:
    """Build a Policy from a parsed document; raises the first problem as InputError."""
    problems = policy_problems(document)
    if problems:
        first = problems[0]
        if len(problems) > 1:
            first.message += f" (and {len(problems) - 1} more problem(s); run 'mlgitops validate')"
        raise first
    data = document.data
    metrics = {}
    for name, raw in data["metrics"].items():
        regression = None
        if "max_regression" in raw:
            ((kind, amount),) = raw["max_regression"].items()
            regression = MaxRegression(kind, float(amount))
        metrics[name] = MetricRule(
            name=name,
            higher_is_better=raw["higher_is_better"],
            min=_float_or_none(raw.get("min")),
            max=_float_or_none(raw.get("max")),
            max_regression=regression,
        )
    fairness = None
    if "fairness" in data:
        raw = data["fairness"]
        fairness = FairnessPolicy(
            metric=raw["metric"],
            max_gap=float(raw["max_gap"]),
            report=raw.get("report", "reports/fairness.json"),
            min_group_size=raw.get("min_group_size", 0),
        )
    model_card = None
    if "model_card" in data:
        raw = data["model_card"]
        model_card = ModelCardPolicy(
            path=raw.get("path", "MODEL_CARD.md"),
            required_sections=tuple(raw.get("required_sections", ())),
            metrics_must_match=raw.get("metrics_must_match", True),
        )
    data_policy = None
    if "data" in data:
        raw = data["data"]
        licenses = raw.get("allowed_licenses")
        data_policy = DataPolicy(
            allowed_licenses=None if licenses is None else tuple(licenses),
            max_git_file_kb=float(raw.get("max_git_file_kb", 512)),
            dataset_paths=tuple(raw.get("dataset_paths", ("data/",))),
            require_clean_dvc_status=raw.get("require_clean_dvc_status", True),
        )
    change_control = None
    if "change_control" in data:
        raw = data["change_control"]
        change_control = ChangeControlPolicy(
            protected_paths=tuple(raw["protected_paths"]),
            approval_label=raw.get("approval_label", "governance-approved"),
            accept_codeowners_review=raw.get("accept_codeowners_review", False),
        )
    raw = data.get("release", {})
    release = ReleasePolicy(
        default_bump=raw.get("default_bump", "minor"),
        stages=tuple(raw.get("stages", ("staging", "production"))),
    )
    return Policy(
        version=data["version"],
        metrics=metrics,
        document=document,
        fairness=fairness,
        model_card=model_card,
        data=data_policy,
        change_control=change_control,
        release=release,
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def load_policy(path: Path | str = DEFAULT_POLICY_PATH, *, file: str | None = None) -> Policy:
    """Read, strictly parse and validate a policy file.

    `file` is the name used in messages and annotations (default: `path` as given).
    Raises InputError with file, line and key for every kind of bad input.
    """
    document = load_yaml(path, file=file, max_bytes=MAX_POLICY_BYTES)
    return policy_from_document(document)


# --------------------------------------------------------------------------- model card


@dataclass(frozen=True)
class LoadedModelCard:
    """A model card with its front matter parsed strictly (None if the card has none)."""

    file: str
    card: ModelCard
    front_matter: YamlDocument | None


def load_model_card(path: Path | str, *, file: str | None = None) -> LoadedModelCard:
    """Read MODEL_CARD.md; raises InputError if it is unreadable or its front matter is
    missing or not strict YAML. Schema problems are returned by `model_card_problems`."""
    path = Path(path)
    name = file or str(path)
    card = parse_model_card(read_text(path, file=name, max_bytes=MAX_CARD_BYTES))
    if card.unclosed_front_matter:
        raise InputError(
            "front matter starts with '---' on line 1 but is never closed",
            location=Location(name, 1),
        )
    if card.front_matter is None:
        raise InputError(
            "no YAML front matter: the card must start with a '---' line",
            location=Location(name, 1),
        )
    document = parse_yaml(card.front_matter.text, file=name, line_offset=card.front_matter.line - 1)
    if not isinstance(document.data, dict):
        raise InputError(
            f"front matter must be a mapping, got {_describe(document.data)}",
            location=Location(name, card.front_matter.line),
        )
    return LoadedModelCard(name, card, document)


def model_card_problems(loaded: LoadedModelCard) -> list[InputError]:
    """Front matter problems against the shipped `model-card` JSON Schema."""
    if loaded.front_matter is None:
        return []
    return schema_errors(loaded.front_matter, load_schema("model-card"))
