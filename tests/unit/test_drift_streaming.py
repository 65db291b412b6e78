"""Streamed drift equals drift over the whole table; log windows, labels, latency."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlgitops.core.drift import (
    KS_EXACT_MAX,
    DriftPolicy,
    StreamingDrift,
    compute_drift,
    population_stability_index,
    report_to_dict,
)
from mlgitops.core.log_drift import LogWindow
from mlgitops.core.markdown.drift import render_markdown
from mlgitops.core.monitoring import (
    ClassificationCounts,
    DecayRule,
    LatencySketch,
    LogPolicy,
    MonitoringPolicy,
    RegressionSums,
)

RNG = np.random.default_rng(11)
REFERENCE = pd.DataFrame(
    {
        "x": RNG.normal(0, 1, 3000).round(3),
        "plan": RNG.choice(["basic", "pro"], 3000),
        "email": [f"u{i}@example.com" for i in range(3000)],
        "target": RNG.integers(0, 2, 3000),
    }
)
POLICY = DriftPolicy(exclude=("target",))


def _chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


@pytest.mark.parametrize("rows", [500, KS_EXACT_MAX + 5000])
def test_chunks_give_the_whole_table_verdict(rows: int) -> None:
    reference = REFERENCE[["x", "plan"]]
    current = pd.DataFrame(
        {"x": RNG.normal(0.1, 1, rows).round(3), "plan": RNG.choice(["basic", "pro"], rows)}
    )
    streamed = StreamingDrift(reference, DriftPolicy())
    for chunk in _chunks(current, 997):
        streamed.update(chunk)
    report = streamed.finish()
    x = report.columns[0]
    expected = stats.ks_2samp(reference["x"], current["x"])  # exact or asymptotic by size
    assert x.ks_statistic == pytest.approx(float(expected.statistic), abs=1e-12)
    assert x.ks_pvalue == pytest.approx(float(expected.pvalue), rel=1e-6, abs=1e-300)
    assert x.psi == pytest.approx(population_stability_index(reference["x"], current["x"]))
    whole = compute_drift(reference, current, DriftPolicy())
    assert report_to_dict(report)["columns"] == report_to_dict(whole)["columns"]


def _records(frame: pd.DataFrame, outputs: list, latency: float = 10.0) -> list[dict]:
    rows = frame.to_dict(orient="records")
    return [
        {"request_id": f"r{i}", "row": 0, "inputs": row, "output": out, "latency_ms": latency}
        for i, (row, out) in enumerate(zip(rows, outputs, strict=True))
    ]


def _window(**options: object) -> LogWindow:
    monitoring = options.pop("monitoring", MonitoringPolicy(min_samples=50))
    return LogWindow(
        REFERENCE,
        POLICY,
        monitoring,  # type: ignore[arg-type]
        reference_predictions=pd.Series(RNG.integers(0, 2, 500)),
        classification=True,
        reference_metrics={"accuracy": 0.9, "f1": 0.88},
        **options,  # type: ignore[arg-type]
    )


def test_logs_like_the_reference_pass() -> None:
    window = _window()
    sample = REFERENCE.sample(800, random_state=1)
    window.add(_records(sample.drop(columns=["target"]), list(RNG.integers(0, 2, 800))))
    report = window.finish()
    assert report.verdict == "ok", render_markdown(report)
    assert report.prediction is not None and not report.prediction.drifted


def test_missing_column_new_category_and_nans() -> None:
    window = _window()
    sample = REFERENCE.sample(600, random_state=2).drop(columns=["target", "email"])
    sample["plan"] = ["enterprise"] * 100 + list(sample["plan"][100:])
    sample.loc[sample.index[:50], "x"] = np.nan
    window.add(_records(sample, [0, 1] * 300))
    report = window.finish()
    assert report.missing_columns == ("email",)
    plan = next(c for c in report.columns if c.column == "plan")
    assert plan.drifted and plan.new_categories == ("enterprise",)
    x = next(c for c in report.columns if c.column == "x")
    assert (x.current_missing, x.current_count) == (50, 550)
    assert report.verdict == "drift"


def test_excluded_and_hashed_columns_are_not_judged() -> None:
    log = LogPolicy(exclude=("email",), hash=("plan",))
    window = _window(monitoring=MonitoringPolicy(log=log, min_samples=10))
    sample = REFERENCE.sample(300, random_state=3).drop(columns=["target", "email"])
    sample["plan"] = "h:0123456789abcdef"
    window.add(_records(sample, [1, 0, 0] * 100))
    report = window.finish()
    assert [c.column for c in report.columns] == ["x"]
    assert report.missing_columns == ()


@pytest.mark.parametrize("rows", [0, 49])
def test_an_empty_or_small_window_gets_no_verdict(rows: int) -> None:
    window = _window()
    sample = REFERENCE.head(rows).drop(columns=["target"]) * 1  # numbers shifted below
    sample["x"] = sample["x"] + 100
    window.add(_records(sample, [0] * rows))
    report = window.finish()
    assert report.insufficient and report.verdict == "insufficient-data"
    assert not report.failed
    assert "No verdict" in render_markdown(report)


def test_predictions_that_moved_drift_although_inputs_did_not() -> None:
    window = _window()
    sample = REFERENCE.sample(800, random_state=4).drop(columns=["target"])
    window.add(_records(sample, [1] * 800))
    report = window.finish()
    assert report.drifted_columns == ()
    assert report.prediction is not None and report.prediction.drifted
    assert report.verdict == "drift"


def test_labels_for_some_requests_judge_decay() -> None:
    sample = REFERENCE.sample(400, random_state=5)
    records = _records(sample.drop(columns=["target"]), list(sample["target"]))
    truth = dict(zip([(r["request_id"], 0) for r in records], sample["target"], strict=True))
    labels = {key: value for i, (key, value) in enumerate(truth.items()) if i % 2 == 0}
    labels[("not-logged", 0)] = 1
    # Half of the labelled predictions are wrong: accuracy ~0.5 against 0.9.
    for i, record in enumerate(records):
        if i % 4 == 0:
            record["output"] = 1 - record["output"]
    policy = MonitoringPolicy(min_samples=50, decay=(DecayRule("accuracy", absolute=0.05),))
    window = _window(monitoring=policy, labels=labels)
    window.add(records)
    report = window.finish()
    assert (report.labelled, report.unmatched_labels) == (200, 1)
    (check,) = report.decay
    assert check.failed and check.current == pytest.approx(0.5)
    assert report.decayed and report.needs_retraining
    assert "**decay**" in render_markdown(report)


def test_too_few_labels_do_not_judge_decay() -> None:
    sample = REFERENCE.sample(200, random_state=6)
    records = _records(sample.drop(columns=["target"]), list(sample["target"]))
    labels = {("r0", 0): 1, ("r1", 0): 0}
    policy = MonitoringPolicy(min_samples=50, decay=(DecayRule("accuracy", absolute=0.0),))
    window = _window(monitoring=policy, labels=labels)
    window.add(records)
    report = window.finish()
    assert report.decay == () and report.labelled == 2
    assert any("performance not judged" in note for note in report.notes)


def test_latency_objective_over_the_window() -> None:
    policy = MonitoringPolicy(min_samples=10, latency_p50_ms=20.0, latency_p99_ms=50.0)
    window = _window(monitoring=policy)
    sample = REFERENCE.sample(200, random_state=7).drop(columns=["target"])
    records = _records(sample, [0, 1] * 100, latency=12.0)
    records[-1]["latency_ms"] = records[-2]["latency_ms"] = records[-3]["latency_ms"] = 400.0
    window.add(records)
    report = window.finish()
    assert report.latency is not None
    assert report.latency.p50_ms == pytest.approx(12.0, rel=0.01)
    assert report.latency.p99_ms == pytest.approx(400.0, rel=0.01)
    assert report.slow and report.failed and not report.needs_retraining


def test_latency_sketch_is_within_one_percent() -> None:
    values = RNG.lognormal(2.5, 1.0, 100_000)
    sketch = LatencySketch()
    sketch.add(values.tolist())
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = float(np.quantile(values, q, method="inverted_cdf"))
        assert abs(sketch.quantile(q) - exact) / exact <= LatencySketch.RELATIVE_ERROR + 1e-9  # type: ignore[operator]


def test_running_metrics_match_the_definitions() -> None:
    truth = RNG.integers(0, 2, 500)
    guess = np.where(RNG.random(500) < 0.8, truth, 1 - truth)
    counts = ClassificationCounts()
    counts.add(truth[:200], guess[:200])
    counts.add(truth[200:], guess[200:])
    metrics = counts.metrics()
    tp = int(((truth == 1) & (guess == 1)).sum())
    precision, recall = tp / int((guess == 1).sum()), tp / int((truth == 1).sum())
    assert metrics["accuracy"] == pytest.approx(float((truth == guess).mean()))
    assert metrics["precision"] == pytest.approx(precision)
    assert metrics["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    y, p = RNG.normal(0, 3, 300), RNG.normal(0, 3, 300)
    sums = RegressionSums()
    sums.add(y, p)
    result = sums.metrics()
    assert result["rmse"] == pytest.approx(math.sqrt(float(np.mean((y - p) ** 2))))
    assert result["r2"] == pytest.approx(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))
