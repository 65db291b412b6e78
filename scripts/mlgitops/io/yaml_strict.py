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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

try:  # libyaml, when PyYAML was built with it (the wheels on PyPI are)
    from yaml._yaml import CParser

    LIBYAML = True
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    LIBYAML = False

from mlgitops.core.policy import PathKey, SourceMap, dotted
from mlgitops.errors import InputError, Location

MAX_PARAMS_BYTES = 1024 * 1024
MAX_DEPTH = 64

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


class _StrictComposer(Composer):
    """PyYAML's composer, refusing anchors, aliases and deep nesting as it goes."""

    _depth = 0
    peek_event: Any  # from the parser it is mixed with (Python's or libyaml's)

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


class _Loader(Reader, Scanner, Parser, _StrictComposer, _Constructor, _Resolver):
    """All in Python: the reference, whose error messages the tests pin."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _StrictComposer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


class _MachineLoader(_Loader):
    """For YAML that DVC writes (ruamel, YAML 1.2): `yes`/`on` are plain strings there."""

    yaml_implicit_resolvers = _Resolver12.yaml_implicit_resolvers


_FAST_LOADERS: tuple[type, type] | None = None
if LIBYAML:

    class _FastLoader(_StrictComposer, CParser, _Constructor, _Resolver):
        """The same composer, constructor and resolver over libyaml's scanner and parser
        (ten times faster: dvc.lock, dvc.yaml and the policy are read on every run).
        Used for valid files only: on any problem the file is parsed again by `_Loader`,
        so messages stay exactly those of the Python parser."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _StrictComposer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

    class _FastMachineLoader(_FastLoader):
        yaml_implicit_resolvers = _Resolver12.yaml_implicit_resolvers

    _FAST_LOADERS = (_FastLoader, _FastMachineLoader)


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML plus the line (1-based) of every key and list item."""

    file: str
    data: Any
    lines: Mapping[PathKey, int] = field(default_factory=dict)

    @property
    def source(self) -> SourceMap:
        """File and line numbers without the data: what core types keep for messages."""
        return SourceMap(self.file, self.lines)

    def line_of(self, *path: str | int) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        return self.source.line_of(*path)

    def location(self, *path: str | int) -> Location:
        return self.source.location(*path)


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
    if _FAST_LOADERS is not None:
        fast = _FAST_LOADERS[1] if written_by_dvc else _FAST_LOADERS[0]
        try:
            return _parse_with(fast, text, file, line_offset)
        except Exception:
            pass  # any problem: parsed again below, for the Python parser's verdict
    return _parse_with(_MachineLoader if written_by_dvc else _Loader, text, file, line_offset)


def _parse_with(loader_class: type, text: str, file: str, line_offset: int) -> YamlDocument:
    loader = loader_class(text)
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
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", location=Location(name)) from None
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
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", location=Location(name)) from None


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
            f"expected a mapping of parameter sections, got {type_name(document.data)}",
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


def type_name(value: Any) -> str:
    """How a parsed YAML value is named in messages: null, boolean, number, mapping, ..."""
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


def describe(value: Any) -> str:
    """A value for a message: its type, and the value itself when it is a scalar."""
    if isinstance(value, dict | list):
        return type_name(value)
    return f"{type_name(value)} {json.dumps(value)}"
