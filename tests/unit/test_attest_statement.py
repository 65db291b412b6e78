"""The provenance statement (pure): its shape, as upstream in-toto parses it, and the
comparison `mlgitops verify` makes with the tag's facts."""

from __future__ import annotations

import json

import pytest

from mlgitops.attest.statement import (
    CHECK_MODEL_DIGEST,
    CHECK_PROVENANCE_LOCK,
    CHECK_PROVENANCE_TAG,
    Builder,
    BuildInputs,
    FileDigest,
    Requirement,
    StatementError,
    build_statement,
    compare_claims,
    parse_requirements,
    read_claims,
)
from mlgitops.core.markdown.release import DataHash

COMMIT = "a" * 40
MODEL_SHA = "b" * 64
DATA = [
    DataHash("data/raw.csv", "c" * 32, "data/raw.csv.dvc", "out", size=120),
    DataHash("data/raw.csv", "c" * 32, "train", "dep", size=120),
    DataHash("models/model.pkl", "d" * 32, "train", "out", size=2048),
    DataHash("data/images", "e" * 32 + ".dir", "prepare", "out", size=10, nfiles=3),
]
MODEL_FILES = [FileDigest("models/model.pkl", MODEL_SHA, 2048)]


def inputs(**changes: object) -> BuildInputs:
    values: dict[str, object] = {
        "model": "demo",
        "version": "v1.2.0",
        "tag": "demo@v1.2.0",
        "commit": COMMIT,
        "model_files": MODEL_FILES,
        "data": DATA,
        "files": [FileDigest("dvc.lock", "f" * 64, 300), FileDigest("params.yaml", "1" * 64, 40)],
        "stages": {"train": "python src/train.py"},
        "params": {"params.yaml": {"train.seed": 42, "train.n_estimators": 100}},
        "requirements": [Requirement("numpy", "2.4.6", ("sha256:" + "2" * 64,))],
        "builder": Builder("local", {"python": "3.11.7"}),
        "repository_uri": "https://github.com/acme/models",
    }
    values.update(changes)
    return BuildInputs(**values)  # type: ignore[arg-type]


def test_statement_is_in_toto_v1_with_slsa_v1_predicate_as_upstream_parses_it() -> None:
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement

    statement = build_statement(inputs())
    text = json.dumps(statement)
    parsed = json_format.Parse(text, statement_pb2.Statement())
    Statement.copy_from_pb(parsed).validate()
    # Unknown fields fail ParseDict: the predicate follows the SLSA v1 schema exactly.
    predicate = json_format.ParseDict(statement["predicate"], provenance_pb2.Provenance())
    assert predicate.build_definition.build_type == "urn:mlgitops:dvc-pipeline:v1"
    assert statement["subject"] == [{"name": "models/model.pkl", "digest": {"sha256": MODEL_SHA}}]
    # protobuf's Struct keeps numbers as doubles, which is why we build plain JSON.
    round_trip = json_format.MessageToDict(parsed)
    params = round_trip["predicate"]["buildDefinition"]["externalParameters"]["params"]
    assert params["params.yaml"]["train.seed"] == 42.0
    assert isinstance(params["params.yaml"]["train.seed"], float)
    assert isinstance(statement["predicate"]["buildDefinition"]["externalParameters"]["params"][
        "params.yaml"]["train.seed"], int)  # fmt: skip


def test_dependencies_name_commit_data_files_and_locked_requirements() -> None:
    dependencies = build_statement(inputs())["predicate"]["buildDefinition"]["resolvedDependencies"]
    source = dependencies[0]
    assert source["uri"] == "git+https://github.com/acme/models@refs/tags/demo@v1.2.0"
    assert source["digest"] == {"gitCommit": COMMIT}
    by_name = {(d.get("name"), d["annotations"].get("stage")): d for d in dependencies}
    directory = by_name[("data/images", "prepare")]
    assert directory["digest"] == {"md5": "e" * 32}
    assert directory["annotations"]["directory"] is True
    assert directory["annotations"]["nfiles"] == 3
    assert by_name[("data/raw.csv", "data/raw.csv.dvc")]["annotations"]["source"] == (
        "data/raw.csv.dvc"
    )
    numpy = by_name[("numpy", None)]
    assert numpy["uri"] == "pkg:pypi/numpy@2.4.6"
    assert numpy["digest"] == {"sha256": "2" * 64}


def test_builder_of_a_workflow_run() -> None:
    builder = Builder(
        "https://github.com/acme/models/.github/workflows/ml-promote.yml@refs/heads/main",
        {"mlgitops": "0.1.0"},
        "https://github.com/acme/models/actions/runs/7/attempts/1",
    )
    details = build_statement(inputs(builder=builder))["predicate"]["runDetails"]
    assert details["builder"]["id"].endswith("ml-promote.yml@refs/heads/main")
    assert details["metadata"]["invocationId"].endswith("/actions/runs/7/attempts/1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numpy==2.4.6\n", [Requirement("numpy", "2.4.6")]),
        (
            "pyyaml==6.0.4 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\n",
            [Requirement("pyyaml", "6.0.4", ("sha256:abc", "sha256:def"))],
        ),
        ("# comment\n-r other.txt\n\nscikit-learn[extra]>=1.4  # why\nnumpy>=2\n",
         [Requirement("scikit-learn", None), Requirement("numpy", None)]),
        ("dvc==3.67.1 ; python_version >= '3.11'\n", [Requirement("dvc", "3.67.1")]),
    ],
)  # fmt: skip
def test_parse_requirements(text: str, expected: list[Requirement]) -> None:
    assert parse_requirements(text) == expected


def test_claims_round_trip_and_match_the_tag() -> None:
    claims = read_claims(json.loads(json.dumps(build_statement(inputs()))))
    assert claims.tag == "demo@v1.2.0" and claims.commit == COMMIT
    assert claims.data[("prepare", "out", "data/images")] == "e" * 32 + ".dir"
    assert (
        compare_claims(claims, tag="demo@v1.2.0", commit=COMMIT, data=DATA, model_files=MODEL_FILES)
        == []
    )


@pytest.mark.parametrize(
    ("facts", "check", "words"),
    [
        ({"tag": "demo@v1.3.0"}, CHECK_PROVENANCE_TAG, "not of demo@v1.3.0"),
        ({"commit": "9" * 40}, CHECK_PROVENANCE_TAG, "at commit 999999999999"),
        (
            {"data": [*DATA[:2], DataHash("models/model.pkl", "0" * 32, "train", "out"), DATA[3]]},
            CHECK_PROVENANCE_LOCK,
            "hash differs for models/model.pkl (train out)",
        ),
        ({"data": DATA[:3]}, CHECK_PROVENANCE_LOCK, "not in the tag's dvc.lock"),
        (
            {"data": [*DATA, DataHash("extra.csv", "1" * 32, "train", "dep")]},
            CHECK_PROVENANCE_LOCK,
            "not in the provenance: extra.csv (train dep)",
        ),
        (
            {"model_files": [FileDigest("models/model.pkl", "0" * 64, 2048)]},
            CHECK_MODEL_DIGEST,
            "sha256 differs from the provenance subject for models/model.pkl",
        ),
        ({"model_files": []}, CHECK_MODEL_DIGEST, "missing from the fetched model"),
    ],
)
def test_each_difference_is_named(facts: dict[str, object], check: str, words: str) -> None:
    claims = read_claims(build_statement(inputs()))
    arguments: dict[str, object] = {
        "tag": "demo@v1.2.0", "commit": COMMIT, "data": DATA, "model_files": MODEL_FILES,
    }  # fmt: skip
    arguments.update(facts)
    problems = compare_claims(claims, **arguments)  # type: ignore[arg-type]
    assert [p.check for p in problems] == [check]
    assert words in problems[0].message


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda s: s.pop("subject"), "no 'subject'"),
        (lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"), "not an in-toto"),
        (lambda s: s.update(predicateType="x"), "predicate is not"),
        (lambda s: s["predicate"]["buildDefinition"]["resolvedDependencies"].pop(0), "source"),
    ],
)
def test_unreadable_statements_name_what_is_missing(mutate: object, words: str) -> None:
    statement = build_statement(inputs())
    mutate(statement)  # type: ignore[operator]
    with pytest.raises(StatementError, match=words):
        read_claims(statement)
