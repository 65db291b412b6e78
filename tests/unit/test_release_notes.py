"""Release notes: exact sections, hostile names kept inert, data hashes from DVC files."""

from __future__ import annotations

import math

from helpers.rendered import problems

from mlgitops.core.markdown.release import (
    MAX_RELEASE_BODY,
    DataHash,
    PullRequestRef,
    ReleaseFacts,
    data_hashes_from_dvcfile,
    data_hashes_from_lock,
    format_value,
    metrics_summary,
    release_title,
    render_release_notes,
    split_front_matter,
    tag_message,
)
from mlgitops.core.metrics import flatten

LOCK = {
    "schema": "2.0",
    "stages": {
        "train": {
            "cmd": "python train.py",
            "deps": [
                {"path": "data/prepared", "md5": "aa.dir", "size": 10, "nfiles": 2},
                {"path": "params.yaml"},  # params have no md5
            ],
            "outs": [{"path": "models/model.pkl", "md5": "bb", "size": 5}],
        }
    },
}

CARD = "---\nlicense: mit\ntags: [x]\n---\n# Model card\n\n## Model Details\nA model.\n"


def facts(**changes: object) -> ReleaseFacts:
    base = ReleaseFacts(
        model="churn",
        version="v1.2.0",
        tag="churn@v1.2.0",
        commit="0123456789abcdef0123456789abcdef01234567",
        bump_source="label release:minor on PR #7",
        repository="acme/churn",
        metrics={"accuracy": 0.9612345678, "f1": 0.9},
        params=flatten({"train": {"seed": 1, "model": "rf"}}),
        data=data_hashes_from_lock(LOCK),
        card=CARD,
        pull_request=PullRequestRef(7, "Tune the model", "https://h/pull/7", "dev"),
        previous_tag="churn@v1.1.0",
    )
    return ReleaseFacts(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_release_body_sections() -> None:
    body = render_release_notes(facts())
    assert body.startswith("## churn v1.2.0\n")
    assert (
        "- **Code:** [`0123456789ab`](https://github.com/acme/churn/commit/"
        "0123456789abcdef0123456789abcdef01234567)"
    ) in body
    assert "- **Merged pull request:** #7 Tune the model by dev" in body
    assert "- **Version bump:** label release:minor on PR `#7`" in body
    assert "- **Previous version:** `churn@v1.1.0`" in body
    assert "| accuracy | 0.961235 |" in body
    assert "| train.seed | 1 |" in body
    assert "| train | out | models/model.pkl | `bb` | 5 |" in body
    assert "| train | dep | data/prepared | `aa.dir` | 10 (2 files) |" in body
    assert "## Model Details\nA model." in body
    assert "license: mit" not in body  # front matter is not repeated
    assert release_title(facts()) == "churn v1.2.0"


def test_release_body_without_optional_facts() -> None:
    body = render_release_notes(
        facts(metrics={}, params={}, data=(), card=None, pull_request=None, repository=None)
    )
    assert "none found for this commit" in body
    assert "No metrics file" in body
    assert "No parameters" in body
    assert "No DVC-tracked data" in body
    assert "No model card" in body
    assert "`0123456789abcdef0123456789abcdef01234567`" in body


def test_hostile_names_stay_inert() -> None:
    hostile = {
        "a|b": 1.0,
        "line\nbreak": 2.0,
        "<img src=x onerror=alert(1)>": 3.0,
        "@octocat #123": 4.0,
        "bidi\u202eevil\u200b": 5.0,
        "[link](javascript:alert(1))": 6.0,
    }
    body = render_release_notes(facts(metrics=hostile))
    table = body.split("### Metrics")[1].split("### Parameters")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(hostile)
    assert all(line.count(" | ") == 1 for line in rows[1:])  # exactly two cells each
    assert "<img" not in table
    assert "`@octocat` `#123`" in table  # code spans: GitHub mentions and links nothing
    assert "\u202e" not in table and "\u200b" not in table
    assert "| `[link](javascript:alert(1))` |" in table  # inert inside a code span
    assert problems(table) == []


def test_values() -> None:
    assert format_value(math.nan) == "invalid (nan)"
    assert format_value(math.inf) == "invalid (inf)"
    assert format_value(True) == "true"
    assert format_value(3) == "3"
    assert format_value(None) == "null"
    assert format_value([1, 2]) == "`[1, 2]`"
    assert format_value("") == "*(empty)*"


def test_oversized_card_is_truncated() -> None:
    body = render_release_notes(facts(card="# Card\n" + "x" * (MAX_RELEASE_BODY * 2)))
    assert len(body) <= MAX_RELEASE_BODY
    assert "model card truncated" in body


def test_tag_message() -> None:
    message = tag_message(facts())
    assert message.splitlines()[:5] == [
        "Release churn v1.2.0",
        "",
        "model: churn",
        "version: v1.2.0",
        "metrics: accuracy=0.961235, f1=0.9",
    ]
    assert "pull request: #7" in message
    assert metrics_summary({}) == "no metrics recorded"
    many = {f"m{i}": i for i in range(10)}
    assert metrics_summary(many).endswith("... (+2 more)")


def test_data_hashes_from_dvcfile() -> None:
    content = {"outs": [{"path": "data.csv", "md5": "cc", "size": 3}], "meta": {}}
    assert data_hashes_from_dvcfile("data/raw/data.csv.dvc", content) == [
        DataHash("data/raw/data.csv", "cc", "data/raw/data.csv.dvc", "out", 3, None)
    ]
    assert data_hashes_from_dvcfile("x.dvc", {}) == []
    assert data_hashes_from_lock({}) == []


def test_split_front_matter() -> None:
    assert split_front_matter(CARD) == (
        "license: mit\ntags: [x]\n",
        "# Model card\n\n## Model Details\nA model.\n",
    )
    assert split_front_matter("# no front matter\n") == (None, "# no front matter\n")
    assert split_front_matter("---\nunclosed\n") == (None, "---\nunclosed\n")
