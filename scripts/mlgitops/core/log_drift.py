"""A window of prediction-log records judged against a promoted version: pure.

Records arrive in chunks (see `mlgitops.serving.predlog` for their shape). Inputs go to
a `StreamingDrift` against the version's training data; outputs to a second one against
its test-set predictions; latencies (one per request, from its first row) to a
`LatencySketch`; and outputs with a ground-truth label (joined on request id and row)
to running metric counts compared with the version's own metrics.

Memory: the drift and latency state is bounded by the reference; the label join holds
the labels given (one entry per labelled request row), never the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from mlgitops.core.drift import DriftPolicy, DriftReport, StreamingDrift
from mlgitops.core.monitoring import (
    ClassificationCounts,
    LatencySketch,
    MonitoringPolicy,
    RegressionSums,
    check_latency,
    judge_decay,
)

PREDICTION = "prediction"
LabelKey = tuple[str, int]


def record_key(record: Mapping[str, Any]) -> LabelKey:
    """(request id, row) of a record: what labels are joined on."""
    row = record.get("row", 0)
    return str(record.get("request_id")), int(row) if isinstance(row, int) else 0


def logged_policy(
    reference_columns: Iterable[str], policy: DriftPolicy, monitoring: MonitoringPolicy
) -> DriftPolicy:
    """The drift policy for logged inputs: columns the log leaves out or hashes are not
    judged (they would otherwise count as missing, or as all-new categories)."""
    log = monitoring.log
    dropped = [c for c in reference_columns if not log.keeps(c) or c in log.hash]
    exclude = tuple(dict.fromkeys([*policy.exclude, *dropped]))
    columns = policy.columns
    if columns is not None:
        columns = tuple(c for c in columns if c not in exclude)
    return replace(policy, exclude=exclude, columns=columns)


class LogWindow:
    """Everything `mlgitops drift` judges over prediction logs, fed chunk by chunk."""

    def __init__(
        self,
        reference: pd.DataFrame,
        policy: DriftPolicy,
        monitoring: MonitoringPolicy,
        *,
        reference_predictions: pd.Series | None = None,
        classification: bool = True,
        reference_metrics: Mapping[str, float] | None = None,
        labels: Mapping[LabelKey, Any] | None = None,
    ) -> None:
        self.monitoring = monitoring
        self.inputs = StreamingDrift(
            reference, logged_policy(map(str, reference.columns), policy, monitoring)
        )
        self.prediction: StreamingDrift | None = None
        if monitoring.prediction_drift and reference_predictions is not None:
            self.prediction = StreamingDrift(
                pd.DataFrame({PREDICTION: reference_predictions.to_numpy()}),
                replace(
                    policy,
                    columns=None,
                    exclude=(),
                    categorical=(PREDICTION,) if classification else (),
                ),
            )
        self.latency = LatencySketch()
        self.labels = labels
        self.reference_metrics = dict(reference_metrics or {})
        self.scores: ClassificationCounts | RegressionSums = (
            ClassificationCounts() if classification else RegressionSums()
        )
        self.matched: set[LabelKey] = set()

    def add(self, records: Sequence[Mapping[str, Any]]) -> None:
        """One chunk of records."""
        if not records:
            return
        self.inputs.update(pd.DataFrame.from_records([r.get("inputs") or {} for r in records]))
        outputs = [r.get("output") for r in records]
        if self.prediction is not None:
            self.prediction.update(pd.DataFrame({PREDICTION: pd.Series(outputs)}))
        self.latency.add(
            float(r["latency_ms"])
            for r in records
            if r.get("row", 0) == 0 and isinstance(r.get("latency_ms"), int | float)
        )
        if self.labels:
            truth, predicted = [], []
            for record, output in zip(records, outputs, strict=True):
                key = record_key(record)
                label = self.labels.get(key)
                if label is None or output is None or key in self.matched:
                    continue
                self.matched.add(key)
                truth.append(label)
                predicted.append(output)
            self.scores.add(truth, predicted)

    def finish(
        self, labels: dict[str, str] | None = None, log: Mapping[str, int] | None = None
    ) -> DriftReport:
        """The report: input drift, prediction drift, decay, latency."""
        monitoring = self.monitoring
        report = self.inputs.finish(labels)
        notes: list[str] = []
        prediction = None
        if self.prediction is not None:
            (prediction,) = self.prediction.finish().columns or (None,)
        elif monitoring.prediction_drift:
            notes.append(
                "prediction drift not judged: the reference has no test-set predictions "
                "(reports/predictions.csv)"
            )
        decay: tuple = ()
        labelled = None
        unmatched = 0
        if self.labels is not None:
            labelled = len(self.matched)
            unmatched = len(self.labels) - labelled
            if labelled < monitoring.min_samples:
                notes.append(
                    f"performance not judged: {labelled} labelled predictions, fewer than "
                    f"min_samples ({monitoring.min_samples})"
                )
            elif not self.reference_metrics:
                notes.append("performance not judged: the reference has no reports/metrics.json")
            else:
                decay = judge_decay(monitoring.decay, self.reference_metrics, self.scores.metrics())
        latency = check_latency(self.latency, monitoring) if self.latency.count else None
        return replace(
            report,
            prediction=prediction,
            min_samples=monitoring.min_samples,
            decay=decay,
            labelled=labelled,
            unmatched_labels=unmatched,
            latency=latency,
            log=dict(log or {}),
            notes=tuple(notes),
        )
