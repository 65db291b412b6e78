"""diff_metrics / diff_params: table-driven over the pure core."""

from __future__ import annotations

import math

import pytest

from mlgitops.core.diff import Change, compare, count_changes, diff_metrics, diff_params
from mlgitops.core.metrics import flatten, json_safe, metric_value, with_dropped_values

ABSENT = ...


@pytest.mark.parametrize(
    ("base", "head", "higher", "change", "absolute", "relative"),
    [
        (0.90, 0.95, True, Change.BETTER, 0.05, 0.05 / 0.90),
        (0.90, 0.95, False, Change.WORSE, 0.05, 0.05 / 0.90),
        (10.0, 8.0, False, Change.BETTER, -2.0, -0.2),
        (10.0, 8.0, True, Change.WORSE, -2.0, -0.2),
        (0.9, 0.9, True, Change.UNCHANGED, 0.0, 0.0),
        (0.1 + 0.2, 0.3, True, Change.UNCHANGED, 0.0, 0.0),  # float noise is no change
        (0.90, 0.95, None, Change.CHANGED, 0.05, 0.05 / 0.90),
        (0, 0.5, True, Change.BETTER, 0.5, None),  # no relative change from zero
        (3, 4, True, Change.BETTER, 1.0, 1 / 3),  # ints compare
        (ABSENT, 0.5, True, Change.ADDED, None, None),
        (0.5, ABSENT, True, Change.REMOVED, None, None),
        (float("nan"), 0.5, True, Change.INVALID, None, None),
        (0.5, float("inf"), True, Change.INVALID, None, None),
        (0.5, float("-inf"), True, Change.INVALID, None, None),
        (0.5, True, True, Change.INVALID, None, None),  # JSON true is not 1
        (False, 0.5, True, Change.INVALID, None, None),
        (0.5, "0.6", True, Change.INVALID, None, None),  # text is never parsed
        (0.5, None, True, Change.INVALID, None, None),
        (0.5, [0.6], True, Change.INVALID, None, None),
        (ABSENT, float("nan"), True, Change.INVALID, None, None),
    ],
)
def test_compare(
    base: object,
    head: object,
    higher: bool | None,
    change: Change,
    absolute: float | None,
    relative: float | None,
) -> None:
    delta = compare("m", base, head, higher)
    assert delta.change is change
    if absolute is None:
        assert delta.absolute is None
    else:
        assert delta.absolute == pytest.approx(absolute)
    if relative is None:
        assert delta.relative is None
    else:
        assert delta.relative == pytest.approx(relative)
    assert delta.higher_is_better is higher


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (1, None),
        (0.5, None),
        (True, "boolean, not a number"),
        (float("nan"), "NaN"),
        (float("inf"), "infinite"),
        ("1", "text, not a number"),
        (None, "null"),
        ({"a": 1}, "dict, not a number"),
    ],
)
def test_metric_value(raw: object, problem: str | None) -> None:
    value = metric_value(raw)
    assert value.problem == problem
    assert value.valid is (problem is None)


def test_diff_metrics_orders_head_then_removed_and_uses_directions() -> None:
    deltas = diff_metrics(
        {"accuracy": 0.9, "loss": 0.3, "gone": 1.0},
        {"loss": 0.2, "accuracy": 0.91, "new": 2.0},
        {"accuracy": True, "loss": False},
    )
    assert [(d.name, d.change) for d in deltas] == [
        ("loss", Change.BETTER),
        ("accuracy", Change.BETTER),
        ("new", Change.ADDED),
        ("gone", Change.REMOVED),
    ]
    counts = count_changes(deltas)
    assert counts["better"] == 2 and counts["worse"] == 0 and sum(counts.values()) == 4


def test_diff_metrics_accepts_a_lookup_function_and_nested_metrics() -> None:
    def direction(name: str) -> bool | None:
        return {"eval.rmse": False}.get(name)

    deltas = diff_metrics({"eval": {"rmse": 3.0}}, {"eval": {"rmse": 2.5}}, direction)
    assert [(d.name, d.change) for d in deltas] == [("eval.rmse", Change.BETTER)]


def test_no_base_means_every_metric_is_added() -> None:
    assert {d.change for d in diff_metrics(None, {"a": 1.0, "b": 2.0})} == {Change.ADDED}


def test_diff_params() -> None:
    changes = diff_params(
        {"train": {"depth": 3, "seed": 1, "gone": "x"}, "prepare": {"size": 0.2}},
        {"train": {"depth": 5, "seed": 1, "lr": 0.1}, "prepare": {"size": 0.2}},
    )
    assert [(c.name, c.base, c.head, c.kind) for c in changes] == [
        ("train.depth", 3, 5, "changed"),
        ("train.gone", "x", None, "removed"),
        ("train.lr", None, 0.1, "added"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [(1, 1.0, True), (1, True, True), ("1", 1, True), ([1, 2], [1, 2], False), (None, 0, True)],
)
def test_diff_params_compares_types(old: object, new: object, changed: bool) -> None:
    assert bool(diff_params({"p": old}, {"p": new})) is changed


def test_nan_params_are_equal_to_themselves() -> None:
    assert diff_params({"p": math.nan}, {"p": math.nan}) == []


def test_flatten_and_json_safe() -> None:
    assert flatten({"a": {"b": {"c": 1}}, "d": [1], "e": {}}) == {"a.b.c": 1, "d": [1], "e": {}}
    assert json_safe({"x": [math.nan, math.inf, 1.5, object.__name__]}) == {
        "x": ["nan", "inf", 1.5, "object"]
    }


def test_a_metric_dvc_dropped_is_invalid_not_removed() -> None:
    """DVC leaves null (and list) values out of `metrics show`; put back from the file as
    written, a metric that became null is reported invalid, not "removed"."""
    raw = {"accuracy": None, "f1": 0.9, "per_class": [0.1, 0.2], "nested": {"auc": None}}
    read_by_dvc = {"f1": 0.9}
    head = with_dropped_values(read_by_dvc, raw)
    assert head == {"f1": 0.9, "accuracy": None, "per_class": [0.1, 0.2], "nested.auc": None}
    deltas = {
        d.name: d.change for d in diff_metrics({"accuracy": 0.8, "nested": {"auc": 0.7}}, head)
    }
    assert deltas["accuracy"] is Change.INVALID and deltas["nested.auc"] is Change.INVALID
    assert Change.REMOVED not in deltas.values()
    assert diff_metrics({"accuracy": 0.8}, read_by_dvc)[-1].change is Change.REMOVED  # before
