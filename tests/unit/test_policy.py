"""Strict policy loading: the API others use, and the bad-input suite with exact messages."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlgitops.errors import InputError
from mlgitops.io.policy_loader import MAX_POLICY_BYTES, load_policy, policy_problems
from mlgitops.io.yaml_strict import load_params, load_yaml, parse_yaml

GOOD = """\
version: 1
metrics:
  accuracy:
    higher_is_better: true
    min: 0.90
    max_regression: {absolute: 0.02}
  rmse:
    higher_is_better: false
    max: 1e+2
    max_regression: {relative: 5e-2}
fairness:
  metric: accuracy
  max_gap: 0.1
model_card:
  required_sections: [Model Details, Evaluation]
data:
  allowed_licenses: [CC-BY-4.0, CC0-1.0]
  max_git_file_kb: 512
change_control:
  protected_paths: [governance/]
release:
  default_bump: patch
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_policy_loads_with_directions_and_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD), file="governance/policy.yaml")
    assert policy.metric_direction("accuracy") is True
    assert policy.metric_direction("rmse") is False
    assert policy.metric_direction("unknown") is None
    accuracy = policy.metrics["accuracy"]
    assert accuracy.min == 0.90
    assert accuracy.max_regression is not None
    assert (accuracy.max_regression.kind, accuracy.max_regression.amount) == ("absolute", 0.02)
    rmse = policy.metrics["rmse"]
    assert rmse.max == 100.0  # YAML 1.2: 1e+2 is a number
    assert rmse.max_regression is not None and rmse.max_regression.amount == 0.05
    assert policy.fairness is not None and policy.fairness.report == "reports/fairness.json"
    assert policy.model_card is not None and policy.model_card.path == "MODEL_CARD.md"
    assert policy.model_card.metrics_must_match is True
    assert policy.data is not None and policy.data.require_clean_dvc_status is True
    assert policy.change_control is not None
    assert policy.change_control.approval_label == "governance-approved"
    assert policy.release.default_bump == "patch"
    assert policy.release.stages == ("staging", "production")
    assert policy.file == "governance/policy.yaml"
    assert policy.line_of("metrics", "rmse", "max") == 9
    assert policy.line_of("data", "allowed_licenses", 1) == 17


BAD_INPUTS = [
    (
        "duplicate key",
        "version: 1\nmetrics:\n  f1: {higher_is_better: true}\n  f1: {higher_is_better: false}\n",
        "policy.yaml:4 (key 'metrics.f1'): duplicate key 'f1' (first defined on line 3)",
    ),
    (
        "alias bomb",
        "version: 1\na: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
        "policy.yaml:2: anchor '&a' is not allowed: anchors and aliases are rejected"
        " so that every value is written where it applies",
    ),
    (
        "alias without anchor",
        "version: 1\nmetrics: *m\n",
        "policy.yaml:2: alias '*m' is not allowed: write the value out",
    ),
    (
        "NaN threshold",
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n    min: .nan\n",
        "policy.yaml:5 (key 'metrics.accuracy.min'): NaN is not allowed: write a finite number",
    ),
    (
        "Inf threshold",
        "version: 1\nmetrics:\n  rmse: {higher_is_better: false, max: -.inf}\n",
        "policy.yaml:3 (key 'metrics.rmse.max'): -Inf is not allowed: write a finite number",
    ),
    (
        "YAML 1.1 boolean value",
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: yes\n",
        "policy.yaml:4 (key 'metrics.accuracy.higher_is_better'): 'yes' is a boolean in YAML 1.1"
        " and a string in YAML 1.2; write true/false, or quote it if you mean the text",
    ),
    (
        "YAML 1.1 boolean key",
        "version: 1\non: push\nmetrics: {}\n",
        "policy.yaml:2 (key 'on'): 'on' is a boolean in YAML 1.1 and a string in YAML 1.2;"
        " write true/false, or quote it if you mean the text",
    ),
    (
        "wrong type: string threshold",
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n    min: '0.9'\n",
        "policy.yaml:5 (key 'metrics.accuracy.min'): expected a number, got string \"0.9\"",
    ),
    (
        "wrong type: boolean threshold",
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n    min: true\n",
        "policy.yaml:5 (key 'metrics.accuracy.min'): expected a number, got boolean true",
    ),
    (
        "wrong type: list instead of mapping",
        "version: 1\nmetrics: [accuracy]\n",
        "policy.yaml:2 (key 'metrics'): expected a mapping, got list",
    ),
    (
        "unknown key",
        "version: 1\nmetrics:\n  accuracy:\n    higher_is_better: true\n    minimum: 0.9\n",
        "policy.yaml:5 (key 'metrics.accuracy.minimum'): unknown key 'minimum'\n"
        "  hint: allowed here: higher_is_better, max, max_regression, min",
    ),
    (
        "unknown top-level key",
        "version: 1\nmetrics: {}\nmetric: {}\n",
        "policy.yaml:3 (key 'metric'): unknown key 'metric'\n  hint: allowed here: change_control,"
        " data, deploy, drift, fairness, metrics, model_card, monitoring, release, version",
    ),
    (
        "missing required key",
        "version: 1\nmetrics:\n  accuracy: {min: 0.9}\n",
        "policy.yaml:3 (key 'metrics.accuracy.higher_is_better'): missing required key"
        " 'higher_is_better' in 'metrics.accuracy'",
    ),
    (
        "both regression kinds",
        "version: 1\nmetrics:\n  f1:\n    higher_is_better: true\n"
        "    max_regression: {absolute: 0.1, relative: 0.1}\n",
        "policy.yaml:5 (key 'metrics.f1.max_regression'): max_regression takes exactly one of"
        " 'absolute' or 'relative', e.g. {absolute: 0.02}",
    ),
    (
        "negative regression",
        "version: 1\nmetrics:\n  f1:\n    higher_is_better: true\n"
        "    max_regression: {relative: -0.1}\n",
        "policy.yaml:5 (key 'metrics.f1.max_regression.relative'): must be >= 0, got -0.1",
    ),
    (
        "min above max",
        "version: 1\nmetrics:\n  f1: {higher_is_better: true, min: 0.9, max: 0.8}\n",
        "policy.yaml:3 (key 'metrics.f1.max'): min (0.9) is greater than max (0.8):"
        " no value can pass",
    ),
    (
        "bad enum",
        "version: 1\nmetrics: {}\nrelease: {default_bump: huge}\n",
        'policy.yaml:3 (key \'release.default_bump\'): must be one of "major", "minor",'
        ' "patch", got string "huge"',
    ),
    (
        "bad metric name",
        'version: 1\nmetrics:\n  "bad name!": {higher_is_better: true}\n',
        "policy.yaml:3 (key 'metrics.bad name!'): invalid key \"bad name!\": names must match"
        " ^[A-Za-z_][A-Za-z0-9_.\\-]*$",
    ),
    ("empty file", "", "policy.yaml: file is empty"),
    ("only a comment", "# nothing here\n", "policy.yaml: file is empty"),
    (
        "not a mapping",
        "- version: 1\n",
        "policy.yaml:1: expected a mapping at the top level, got list",
    ),
    (
        "missing version",
        "metrics: {}\n",
        "policy.yaml:1 (key 'version'): missing required key 'version'\n"
        "  hint: add 'version: 1' as the first line",
    ),
    (
        "unknown version",
        "version: 2\nmetrics: {}\n",
        "policy.yaml:1 (key 'version'): unsupported policy version 2; this mlgitops reads"
        " version 1\n  hint: upgrade mlgitops, or write the policy in a supported version",
    ),
    (
        "version as string",
        "version: '1'\nmetrics: {}\n",
        "policy.yaml:1 (key 'version'): expected an integer, got string \"1\"",
    ),
    (
        "two documents",
        "version: 1\n---\nversion: 1\n",
        "policy.yaml:2: not valid YAML: expected a single document in the stream"
        " but found another document",
    ),
    (
        "syntax error",
        "version: 1\nmetrics: {accuracy: [}\n",
        "policy.yaml:2: not valid YAML: while parsing a flow node expected the node content,"
        " but found '}'",
    ),
    (
        "python tag",
        "version: !!python/object/apply:os.system [echo]\n",
        "policy.yaml:1: not valid YAML: could not determine a constructor for the tag"
        " 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_policy_is_an_input_error_with_exact_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_policy(path, file="policy.yaml")
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_policy(tmp_path / "nope.yaml", file="governance/policy.yaml")
    assert str(caught.value) == "governance/policy.yaml: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_policy(tmp_path, file="governance")
    assert str(caught.value) == "governance: is a directory, expected a file"


def test_file_over_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nmetrics: {}\n" + "#" * MAX_POLICY_BYTES)
    with pytest.raises(InputError) as caught:
        load_policy(path, file="p.yaml")
    size = path.stat().st_size
    assert str(caught.value) == f"p.yaml: file is {size} bytes, over the limit of 65536 bytes"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"version: 1\nname: \xff\n")
    with pytest.raises(InputError) as caught:
        load_policy(path, file="p.yaml")
    assert str(caught.value) == "p.yaml: not UTF-8 text (byte 17)"


def test_several_problems_are_counted_in_the_first_message(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nmetrics:\n  a: {min: x}\nextra: 1\n")
    with pytest.raises(InputError) as caught:
        load_policy(path, file="p.yaml")
    assert "(and 2 more problem(s); run 'mlgitops validate')" in str(caught.value)
    problems = policy_problems(load_yaml(path, file="p.yaml", max_bytes=MAX_POLICY_BYTES))
    assert [str(p.location) for p in problems] == [
        "p.yaml:3 (key 'metrics.a.higher_is_better')",
        "p.yaml:3 (key 'metrics.a.min')",
        "p.yaml:4 (key 'extra')",
    ]


# ------------------------------------------------------------------ YAML 1.2 resolution


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("1e-1", 0.1),
        ("1E3", 1000.0),
        ("-2.5", -2.5),
        (".5", 0.5),
        ("010", 10),
        ("0o10", 8),
        ("0x1F", 31),
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("2026-11-26", "2026-11-26"),
        ("1_000", "1_000"),
        ("12:30", "12:30"),
        ("'yes'", "yes"),
        ('"on"', "on"),
        ("y", "y"),
        ("n", "n"),
    ],
)
def test_yaml_12_scalar_resolution(scalar: str, expected: object) -> None:
    value = parse_yaml(f"value: {scalar}\n", file="x.yaml").data["value"]
    assert value == expected
    assert type(value) is type(expected)


def test_nan_is_rejected_anywhere_with_its_key() -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml("train:\n  grid: [1, .NaN]\n", file="params.yaml")
    assert str(caught.value) == (
        "params.yaml:2 (key 'train.grid[1]'): NaN is not allowed: write a finite number"
    )


def test_line_offset_shifts_every_line() -> None:
    document = parse_yaml("a:\n  b: 1\n", file="MODEL_CARD.md", line_offset=1)
    assert document.line_of("a", "b") == 3
    with pytest.raises(InputError) as caught:
        parse_yaml("a: 1\na: 2\n", file="MODEL_CARD.md", line_offset=1)
    assert str(caught.value).startswith("MODEL_CARD.md:3 (key 'a'): duplicate key 'a'")


def test_deep_nesting_is_bounded() -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml("a: " + "[" * 200 + "]" * 200 + "\n", file="x.yaml")
    assert "nesting deeper than 64 levels" in str(caught.value)


def test_params_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- 1\n", name="params.yaml")
    with pytest.raises(InputError) as caught:
        load_params(path, file="params.yaml")
    assert str(caught.value) == (
        "params.yaml:1: expected a mapping of parameter sections, got list"
    )
    params = load_params(write(tmp_path, "train:\n  seed: 42\n  lr: 1.0e-3\n", "params.yaml"))
    assert params.data == {"train": {"seed": 42, "lr": 0.001}}
    assert not math.isnan(params.data["train"]["lr"])


@pytest.mark.parametrize("name", ["policy-v1", "model-card"])
def test_shipped_schemas_are_valid_draft_2020_12(name: str) -> None:
    from jsonschema import Draft202012Validator

    from mlgitops.io.schema import load_schema, schema_path

    Draft202012Validator.check_schema(load_schema(name))
    assert schema_path(name).is_file()


def test_yaml_written_by_dvc_keeps_yes_and_on_as_strings() -> None:
    text = "outs:\n- path: yes\n  md5: 1e5\nmeta: {license: on}\n"
    data = parse_yaml(text, file="data/yes.dvc", written_by_dvc=True).data
    assert data == {"outs": [{"path": "yes", "md5": 100000.0}], "meta": {"license": "on"}}
    with pytest.raises(InputError, match=r"is a boolean in YAML 1\.1"):
        parse_yaml(text, file="data/yes.dvc")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e-3", 'params.yaml:2 (key \'train.lr\'): 0.001 for YAML 1.2 (DVC) but "1e-3" for YAML'
         " 1.1 (PyYAML)\n  hint: write 0.001 (a decimal point and a signed exponent), or quote"
         " a string"),
        ("1E-10", 'params.yaml:2 (key \'train.lr\'): 1e-10 for YAML 1.2 (DVC) but "1E-10" for'
         " YAML 1.1 (PyYAML)\n  hint: write 1.0e-10 (a decimal point and a signed exponent), or"
         " quote a string"),
        ("010", "params.yaml:2 (key 'train.lr'): 10 for YAML 1.2 (DVC) but 8 for YAML 1.1 (PyYAML)"
         "\n  hint: write 10 in decimal, or quote it if it is text"),
        ("2026-01-01", 'params.yaml:2 (key \'train.lr\'): "2026-01-01" for YAML 1.2 (DVC) but'
         ' "2026-01-01" for YAML 1.1 (PyYAML)\n  hint: quote the value'),
    ],
)  # fmt: skip
def test_params_read_differently_by_yaml_11_and_12_are_rejected(
    tmp_path: Path, value: str, message: str
) -> None:
    path = write(tmp_path, f"train:\n  lr: {value}\n  ok: 1.0e-3\n", name="params.yaml")
    with pytest.raises(InputError) as caught:
        load_params(path, file="params.yaml")
    assert str(caught.value) == message


def test_params_both_readers_agree(tmp_path: Path) -> None:
    path = write(
        tmp_path, "train:\n  lr: 1.0e-3\n  n: 10\n  name: 'on'\n  grid: [1, 2.5]\n", "params.yaml"
    )
    assert load_params(path).data == {
        "train": {"lr": 0.001, "n": 10, "name": "on", "grid": [1, 2.5]}
    }
