"""The GTO tag grammar: exact strings both ways, and agreement with gto's own parser."""

from __future__ import annotations

import pytest

from mlgitops.core.tags import (
    TagAction,
    Version,
    check_model_name,
    format_stage_tag,
    format_tag,
    parse_tag,
)


@pytest.mark.parametrize(
    ("model", "version", "tag"),
    [
        ("churn-model", "v1.2.0", "churn-model@v1.2.0"),
        ("m", "v0.0.1", "m@v0.0.1"),
        ("a_b/c", "v10.20.30", "a_b/c@v10.20.30"),
        ("models/sub:clf", "v1.0.0", "models/sub=clf@v1.0.0"),
        ("x1", "v1.0.0-rc.1+build.5", "x1@v1.0.0-rc.1+build.5"),
    ],
)
def test_format_tag_and_back(model: str, version: str, tag: str) -> None:
    assert format_tag(model, version) == tag
    assert format_tag(model, Version.parse(version)) == tag
    parsed = parse_tag(tag)
    assert parsed is not None
    assert (parsed.artifact, parsed.action, str(parsed.version)) == (
        model,
        TagAction.REGISTER,
        version,
    )


@pytest.mark.parametrize(
    ("model", "stage", "counter", "unassign", "tag"),
    [
        ("churn-model", "production", 3, False, "churn-model#production#3"),
        ("churn-model", "staging", 1, True, "churn-model#staging!#1"),
        ("a/b", "pre-prod_2", 12, False, "a/b#pre-prod_2#12"),
    ],
)
def test_format_stage_tag_and_back(
    model: str, stage: str, counter: int, unassign: bool, tag: str
) -> None:
    assert format_stage_tag(model, stage, counter, unassign=unassign) == tag
    parsed = parse_tag(tag)
    assert parsed is not None
    assert parsed.artifact == model
    assert parsed.stage == stage
    assert parsed.counter == counter
    assert parsed.action is (TagAction.UNASSIGN if unassign else TagAction.ASSIGN)


@pytest.mark.parametrize(
    ("tag", "action", "version", "stage", "counter"),
    [
        ("m@v1.0.0!", TagAction.DEREGISTER, "v1.0.0", None, None),
        ("m@v1.0.0!#4", TagAction.DEREGISTER, "v1.0.0", None, 4),
        ("m@v1.0.0#2", TagAction.REGISTER, "v1.0.0", None, 2),
        ("m@deprecated", TagAction.DEPRECATE, None, None, None),
        ("m@deprecated#7", TagAction.DEPRECATE, None, None, 7),
        ("m@created#1", TagAction.CREATE, None, None, 1),
        ("m#prod", TagAction.ASSIGN, None, "prod", None),
        ("m#prod!", TagAction.UNASSIGN, None, "prod", None),
    ],
)
def test_other_gto_forms(
    tag: str, action: TagAction, version: str | None, stage: str | None, counter: int | None
) -> None:
    parsed = parse_tag(tag)
    assert parsed is not None
    assert parsed.action is action
    assert (str(parsed.version) if parsed.version else None) == version
    assert parsed.stage == stage
    assert parsed.counter == counter


@pytest.mark.parametrize(
    "tag",
    [
        "v1.0.0",
        "release-1",
        "m@1.0.0",  # no v
        "m@v1.0",  # not semver
        "m@v01.0.0",  # leading zero
        "m@latest",
        "-m@v1.0.0",  # name starts with a symbol
        "m-@v1.0.0",  # name ends with a symbol
        "m#-prod#1",
        "m#prod#x",
        "m@v1.0.0 ",
        "m@deprecated!",
        "",
    ],
)
def test_non_gto_tags_are_none(tag: str) -> None:
    assert parse_tag(tag) is None


@pytest.mark.parametrize("name", ["", "-a", "a-", "a b", "a@b", "a#b", "Ünï"])
def test_bad_model_names_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="invalid model name"):
        check_model_name(name)
    with pytest.raises(ValueError):
        format_tag(name, "v1.0.0")


def test_bad_stage_and_counter_rejected() -> None:
    with pytest.raises(ValueError, match="invalid stage name"):
        format_stage_tag("m", "prod!", 1)
    with pytest.raises(ValueError, match="counter"):
        format_stage_tag("m", "prod", 0)


@pytest.mark.parametrize(
    "ordered",
    [
        [
            "v1.0.0-alpha",
            "v1.0.0-alpha.1",
            "v1.0.0-alpha.beta",
            "v1.0.0-beta",
            "v1.0.0-beta.2",
            "v1.0.0-beta.11",
            "v1.0.0-rc.1",
            "v1.0.0",
            "v1.0.1",
            "v1.2.0",
            "v1.10.0",
            "v2.0.0",
        ]
    ],
)
def test_semver_precedence(ordered: list[str]) -> None:
    versions = [Version.parse(v) for v in ordered]
    assert sorted(reversed(versions)) == versions


@pytest.mark.parametrize("text", ["1.0.0", "v1", "v1.0", "v1.0.0.0", "v-1.0.0", "V1.0.0"])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(ValueError, match="invalid version"):
        Version.parse(text)


GTO_CASES = [
    "churn-model@v1.2.0",
    "churn-model@v1.2.0!",
    "churn-model#production#3",
    "churn-model#production!#4",
    "churn-model@deprecated#5",
    "dir/sub=clf@v0.1.0",
    "m@v1.0.0-rc.1+b.2",
    "v1.0.0",
    "m@v1",
    "m@latest",
]


@pytest.mark.parametrize("tag", GTO_CASES)
def test_agrees_with_gto(tag: str) -> None:
    gto_tag = pytest.importorskip("gto.tag")
    theirs = gto_tag.parse_name(tag, raise_on_fail=False)
    ours = parse_tag(tag)
    if not theirs:
        assert ours is None
        return
    assert ours is not None
    assert ours.artifact == theirs["name"]
    assert ours.action.value == theirs["action"].value
    assert (str(ours.version) if ours.version else None) == theirs.get("version")
    assert ours.stage == theirs.get("stage")
    assert ours.counter == theirs.get("counter")
