"""Bumps, next versions and stage rules, computed from tag lists alone."""

from __future__ import annotations

import pytest

from mlgitops.core.markdown.history import render_history_md
from mlgitops.core.tags import Version
from mlgitops.core.versioning import (
    Bump,
    BumpDecision,
    ReleaseRuleError,
    TagRef,
    artifacts_in_tags,
    build_history,
    bump_from_labels,
    bump_version,
    check_stage_order,
    combine_bumps,
    history_to_dict,
    latest_version,
    next_counter,
    next_version,
    parse_bump,
    plan_assignment,
)

V = Version.parse


@pytest.mark.parametrize(
    ("labels", "default", "bump", "source"),
    [
        ([], Bump.MINOR, Bump.MINOR, "policy default (minor)"),
        (["bug", "docs"], Bump.PATCH, Bump.PATCH, "policy default (patch)"),
        (["release:major"], Bump.MINOR, Bump.MAJOR, "label release:major on PR #7"),
        (
            ["release:patch", "release:minor"],
            Bump.PATCH,
            Bump.MINOR,
            "label release:minor on PR #7",
        ),
        (["Release:Skip"], Bump.MINOR, Bump.SKIP, "label release:skip on PR #7"),
    ],
)
def test_bump_from_labels(labels: list[str], default: Bump, bump: Bump, source: str) -> None:
    decision = bump_from_labels(labels, default, pr="PR #7")
    assert decision.bump is bump
    assert decision.source == source


def test_conflicting_and_unknown_labels() -> None:
    with pytest.raises(ReleaseRuleError, match="release:skip and release:major"):
        bump_from_labels(["release:skip", "release:major"], Bump.MINOR)
    with pytest.raises(ReleaseRuleError, match="unknown release label 'release:huge'"):
        bump_from_labels(["release:huge"], Bump.MINOR)


def test_parse_bump() -> None:
    assert parse_bump(" Minor ") is Bump.MINOR
    with pytest.raises(ValueError, match="unknown bump"):
        parse_bump("mega")


@pytest.mark.parametrize(
    ("current", "bump", "expected"),
    [
        (None, Bump.MAJOR, "v1.0.0"),
        (None, Bump.MINOR, "v0.1.0"),
        (None, Bump.PATCH, "v0.0.1"),
        ("v1.2.3", Bump.MAJOR, "v2.0.0"),
        ("v1.2.3", Bump.MINOR, "v1.3.0"),
        ("v1.2.3", Bump.PATCH, "v1.2.4"),
        ("v2.0.0-rc.1", Bump.MAJOR, "v2.0.0"),
        ("v2.0.0-rc.1", Bump.MINOR, "v2.0.0"),
        ("v2.0.0-rc.1", Bump.PATCH, "v2.0.0"),
        ("v2.1.3-rc.1", Bump.MINOR, "v2.2.0"),
        ("v2.1.0-rc.1", Bump.MINOR, "v2.1.0"),
        ("v2.1.3-rc.1", Bump.MAJOR, "v3.0.0"),
        ("v1.2.3+build.7", Bump.PATCH, "v1.2.4"),
    ],
)
def test_bump_version(current: str | None, bump: Bump, expected: str) -> None:
    assert str(bump_version(V(current) if current else None, bump)) == expected


def test_bump_skip_has_no_version() -> None:
    with pytest.raises(ValueError):
        bump_version(None, Bump.SKIP)


TAGS = [
    "v9.9.9",  # not a model tag
    "churn@v1.0.0",
    "churn@v1.10.0",
    "churn@v1.9.0",
    "churn@v2.0.0!",  # deregistered, still taken
    "churn#production#1",
    "churn#staging#5",
    "other@v7.0.0",
    "other#production#9",
    "churnx@v8.0.0",
]


def test_next_version_from_tags() -> None:
    assert latest_version("churn", TAGS) == V("v2.0.0")
    assert next_version("churn", TAGS, Bump.PATCH) == V("v2.0.1")
    assert next_version("churn", TAGS, Bump.MINOR) == V("v2.1.0")
    assert next_version("other", TAGS, Bump.MAJOR) == V("v8.0.0")
    assert next_version("new-model", TAGS, Bump.MINOR) == V("v0.1.0")


def test_next_counter_is_per_model_and_over_all_actions() -> None:
    assert next_counter("churn", TAGS) == 6
    assert next_counter("other", TAGS) == 10
    assert next_counter("new-model", TAGS) == 1


def test_artifacts_in_tags() -> None:
    assert artifacts_in_tags(TAGS) == ["churn", "other", "churnx"]


def _refs() -> list[TagRef]:
    return [
        TagRef("m@v1.0.0", "c1", "2026-01-01"),
        TagRef("m@v1.1.0", "c2", "2026-01-02"),
        TagRef("m@v1.2.0", "c3", "2026-01-03"),
        TagRef("m#staging#1", "c1", "2026-01-04"),
        TagRef("m#production#2", "c1", "2026-01-05"),
        TagRef("m#staging#3", "c2", "2026-01-06"),
        TagRef("m#production#4", "c2", "2026-01-07"),
        TagRef("m#staging#5", "c3", "2026-01-08"),
        TagRef("m@v9.0.0", "c9", "", annotated=False),  # lightweight: ignored like gto
        TagRef("x@v1.0.0", "c1", "2026-01-01"),
    ]


def test_history_current_previous_and_stages() -> None:
    history = build_history("m", _refs())
    assert [str(v.version) for v in history.versions] == ["v1.0.0", "v1.1.0", "v1.2.0"]
    assert history.current("production") == V("v1.1.0")
    assert history.previous("production") == V("v1.0.0")
    assert history.current("staging") == V("v1.2.0")
    assert history.stages_of(V("v1.1.0")) == ["production"]
    assert history.next_counter == 6
    assert history.version_at("c2") is not None
    assert history.version_at("c9") is None


def test_stage_order() -> None:
    history = build_history("m", _refs())
    stages = ("staging", "production")
    check_stage_order(history, V("v1.2.0"), "staging", stages)
    check_stage_order(history, V("v1.2.0"), "production", stages)
    history = build_history("m", _refs()[:3])
    with pytest.raises(ReleaseRuleError, match="cannot go to 'production' before 'staging'"):
        check_stage_order(history, V("v1.2.0"), "production", stages)
    with pytest.raises(ReleaseRuleError, match="unknown stage 'qa'"):
        check_stage_order(history, V("v1.2.0"), "qa", stages)


def test_plan_forward_needs_only_an_assignment() -> None:
    history = build_history("m", _refs())
    changes = plan_assignment(history, V("v1.2.0"), "production")
    assert [(c.tag, c.assigned) for c in changes] == [("m#production#6", True)]
    assert plan_assignment(history, V("v1.1.0"), "production") == []


def test_plan_rollback_unassigns_higher_versions_for_gto() -> None:
    history = build_history("m", _refs())
    changes = plan_assignment(history, V("v1.0.0"), "production")
    assert [(c.tag, str(c.version), c.assigned) for c in changes] == [
        ("m#production!#6", "v1.1.0", False),
        ("m#production#7", "v1.0.0", True),
    ]
    after = build_history(
        "m",
        [
            *_refs(),
            TagRef("m#production!#6", "c2", "2026-01-09"),
            TagRef("m#production#7", "c1", "2026-01-09"),
        ],
    )
    assert after.current("production") == V("v1.0.0")
    assert after.active("production") == [V("v1.0.0")]
    # Nothing older to go back to once v1.0.0 is the only version that held it... v1.1.0 did.
    assert after.previous("production") == V("v1.1.0")


def test_deregistered_versions_are_not_rollback_targets() -> None:
    refs = [*_refs(), TagRef("m@v1.0.0!", "c1", "2026-02-01")]
    history = build_history("m", refs)
    assert history.previous("production") is None
    assert history.versions[0].deregistered


def test_history_views() -> None:
    history = build_history("m", _refs())
    data = history_to_dict(history)
    assert data["latest"] == "v1.2.0"
    assert data["stages"] == {
        "staging": {"version": "v1.2.0", "commit": "c3"},
        "production": {"version": "v1.1.0", "commit": "c2"},
    }
    text = render_history_md([history, build_history("none", [])])
    assert "| v1.1.0 | `c2` | 2026-01-02 | production |" in text
    assert "Stages: staging: v1.2.0, production: v1.1.0" in text
    assert "## none\n\nNo versions yet." in text


def test_artifacts_in_subdirectories() -> None:
    tags = ["models/sub=clf@v1.0.0", "models/sub=clf#prod#2", "clf@v5.0.0"]
    assert next_version("models/sub:clf", tags, Bump.PATCH) == V("v1.0.1")
    assert next_counter("models/sub:clf", tags) == 3
    assert next_version("clf", tags, Bump.PATCH) == V("v5.0.1")


@pytest.mark.parametrize(
    ("bumps", "expected_bump", "expected_source"),
    [
        ([], Bump.MINOR, "policy default (minor); no merged PR"),
        ([Bump.PATCH], Bump.PATCH, "source 0"),
        ([Bump.PATCH, Bump.MAJOR, Bump.MINOR], Bump.MAJOR, "source 1 (largest of 3 merged PRs)"),
        ([Bump.SKIP, Bump.PATCH], Bump.PATCH, "source 1 (largest of 2 merged PRs)"),
        ([Bump.SKIP, Bump.SKIP], Bump.SKIP, "release:skip on all 2 merged PRs"),
    ],
)
def test_combine_bumps_of_coalesced_merges(
    bumps: list[Bump], expected_bump: Bump, expected_source: str
) -> None:
    decisions = [BumpDecision(bump, f"source {i}") for i, bump in enumerate(bumps)]
    combined = combine_bumps(decisions, Bump.MINOR)
    assert (combined.bump, combined.source) == (expected_bump, expected_source)
