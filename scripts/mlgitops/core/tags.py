"""The GTO tag grammar: pure formatting and parsing of model registry tags.

Tags follow iterative/gto (`gto/constants.py`, `gto/tag.py`) so that `gto show` reads
what `mlgitops promote` writes:

    <artifact>@vX.Y.Z          register a version          churn-model@v1.2.0
    <artifact>@vX.Y.Z!         deregister a version        churn-model@v1.2.0!
    <artifact>#<stage>#N       assign a stage (N-th event)  churn-model#production#3
    <artifact>#<stage>!#N      unassign a stage            churn-model#production!#4
    <artifact>@deprecated#N    deprecate the artifact
    <artifact>@created#N       create the artifact

Every form may carry a trailing `#N` counter. An artifact declared in a sub-directory's
dvc.yaml is named `dir/sub:name`; inside a tag the `:` is written `=`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache, total_ordering

# The same expressions as gto/constants.py (gto 1.x).
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_DIRNAME = r"[a-zA-Z0-9\-_./]+"
_SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_NAME_RE = re.compile(f"^{_NAME}$")
_ARTIFACT_RE = re.compile(f"^(?:{_DIRNAME}:)?{_NAME}$")
_VERSION_RE = re.compile(f"^v{_SEMVER}$")
_TAG_RE = re.compile(
    f"^(?P<artifact>(?:{_DIRNAME}=)?{_NAME})"
    f"(?:(?:#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)"
    f"|@(?P<special>deprecated|created))"
    r"(?:#(?P<counter>[0-9]+))?$"
)

SEPARATOR_IN_NAME = ":"
SEPARATOR_IN_TAG = "="


class TagAction(Enum):
    """What a registry tag records (the names are GTO's)."""

    REGISTER = "register"
    DEREGISTER = "deregister"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    DEPRECATE = "deprecate"
    CREATE = "create"


def _prerelease_key(text: str) -> tuple[tuple[int, int, str], ...]:
    # SemVer 2.0.0 §11: numeric identifiers sort numerically and below alphanumeric ones.
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in text.split("."))


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version as GTO writes it, always with the `v` prefix."""

    major: int
    minor: int
    patch: int
    prerelease: str | None = None
    build: str | None = None

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse `vX.Y.Z[-pre][+build]`; raise ValueError on anything else."""
        match = _VERSION_RE.match(text)
        if not match:
            raise ValueError(
                f"invalid version {text!r}: expected 'vMAJOR.MINOR.PATCH' such as 'v1.2.0'"
            )
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            match["prerelease"],
            match["build"],
        )

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease is not None

    def precedence(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """SemVer precedence; build metadata does not take part."""
        if self.prerelease is None:
            return (self.major, self.minor, self.patch, 1, ())
        return (self.major, self.minor, self.patch, 0, _prerelease_key(self.prerelease))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.precedence(), self.build or "") < (other.precedence(), other.build or "")


@dataclass(frozen=True)
class ParsedTag:
    """One registry tag, split into its parts. `artifact` uses `:` for sub-directories."""

    tag: str
    artifact: str
    action: TagAction
    version: Version | None = None
    stage: str | None = None
    counter: int | None = None


def is_valid_name(value: str) -> bool:
    """A stage or artifact name GTO accepts: letters, digits, `-`, `_`, `/`, no edge symbols."""
    return bool(_NAME_RE.match(value))


def check_model_name(model: str) -> None:
    """Raise ValueError unless `model` is a GTO artifact name (optionally `dir:name`)."""
    if not _ARTIFACT_RE.match(model):
        raise ValueError(
            f"invalid model name {model!r}: use letters, digits, '-', '_' or '/', "
            "starting and ending with a letter or digit"
        )


def check_stage_name(stage: str) -> None:
    """Raise ValueError unless `stage` is a GTO stage name."""
    if not is_valid_name(stage):
        raise ValueError(
            f"invalid stage name {stage!r}: use letters, digits, '-', '_' or '/', "
            "starting and ending with a letter or digit"
        )


def _artifact_in_tag(model: str) -> str:
    check_model_name(model)
    return model.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)


def format_tag(model: str, version: Version | str) -> str:
    """The version tag `<model>@vX.Y.Z` (GTO "register")."""
    parsed = version if isinstance(version, Version) else Version.parse(version)
    return f"{_artifact_in_tag(model)}@{parsed}"


def format_stage_tag(model: str, stage: str, counter: int, *, unassign: bool = False) -> str:
    """The stage tag `<model>#<stage>#N`, or `<model>#<stage>!#N` to unassign."""
    check_stage_name(stage)
    if counter < 1:
        raise ValueError(f"stage tag counter must be >= 1, got {counter}")
    cancel = "!" if unassign else ""
    return f"{_artifact_in_tag(model)}#{stage}{cancel}#{counter}"


@lru_cache(maxsize=1 << 16)  # results are immutable; history and bump reuse them
def parse_tag(tag: str) -> ParsedTag | None:
    """Split a GTO tag into its parts; None for any tag that is not one (e.g. `v1.0`)."""
    match = _TAG_RE.match(tag)
    if not match:
        return None
    artifact = match["artifact"].replace(SEPARATOR_IN_TAG, SEPARATOR_IN_NAME)
    counter = int(match["counter"]) if match["counter"] is not None else None
    cancelled = match["cancel"] == "!"
    if match["special"]:
        action = TagAction.DEPRECATE if match["special"] == "deprecated" else TagAction.CREATE
        return ParsedTag(tag, artifact, action, counter=counter)
    if match["version"]:
        return ParsedTag(
            tag,
            artifact,
            TagAction.DEREGISTER if cancelled else TagAction.REGISTER,
            version=Version.parse(match["version"]),
            counter=counter,
        )
    return ParsedTag(
        tag,
        artifact,
        TagAction.UNASSIGN if cancelled else TagAction.ASSIGN,
        stage=match["stage"],
        counter=counter,
    )
