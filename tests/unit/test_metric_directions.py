"""`load_metric_directions`: the part of the policy `mlgitops report` reads, without
JSON Schema; it must agree with the full loader wherever the full loader accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgitops.errors import InputError
from mlgitops.io.policy_loader import load_metric_directions, load_policy

POLICY = """\
version: 1
metrics:
  accuracy: {higher_is_better: true, min: 0.9, max_regression: {absolute: 0.02}}
  rmse: {higher_is_better: false, max: 1e+2}
  "log.loss": {higher_is_better: false}
fairness: {metric: accuracy, max_gap: 0.1}
release: {default_bump: patch}
"""


def test_agrees_with_the_full_loader_on_a_valid_policy(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    full = load_policy(policy_file)
    directions = load_metric_directions(policy_file)
    assert directions == {name: rule.higher_is_better for name, rule in full.metrics.items()}
    assert directions == {"accuracy": True, "rmse": False, "log.loss": False}


@pytest.mark.parametrize(
    ("text", "message", "key"),
    [
        ("version: 1\nmetrics: {accuracy: {x: 1}}\n", "expected true or false",
         "metrics.accuracy.higher_is_better"),
        ("version: 1\nmetrics: {accuracy: {higher_is_better: yes}}\n", "YAML 1.1", None),
        ("version: 2\nmetrics: {}\n", "unsupported policy version 2", "version"),
        ("metrics: {}\n", "missing required key 'version'", "version"),
        ("version: 1\nmetrics: [accuracy]\n", "expected a mapping", "metrics"),
    ],
)  # fmt: skip
def test_refuses_what_it_cannot_read(
    tmp_path: Path, text: str, message: str, key: str | None
) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(text)
    with pytest.raises(InputError, match=message) as raised:
        load_metric_directions(policy_file)
    assert raised.value.location is not None
    assert raised.value.location.file == str(policy_file)
    if key:
        assert raised.value.location.key == key
