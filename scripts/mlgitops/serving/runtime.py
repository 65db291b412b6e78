"""The MLServer runtime of `mlgitops serve`: a scikit-learn model behind its input schema.

Configured by model-settings.json (written by `mlgitops.serving.settings`):
`implementation: mlgitops.serving.runtime.SchemaValidatedModel`, `parameters.uri` the
model file, and in `parameters.extra`: `schema` (the schema file, beside the model) and
optionally `prediction_logger` (`module:callable`, see `mlgitops.serving.hooks`).

Every request is checked on its own BEFORE it can join an adaptive batch: MLServer
installs its batcher on `predict` before it calls `load`, so `load` puts the check in
front of whatever `predict` is by then. A refused request gets a 400 naming the input and
row and never reaches a batch; an accepted one is rewritten in one canonical form, so the
batch merges cell for cell and each answer is split back exactly (with plain MLServer, a
malformed request in a batch made good requests fail or get another request's answer).
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor
from mlserver.utils import get_model_uri

from mlgitops.core.input_schema import InputSchema, SchemaFormatError, schema_from_dict
from mlgitops.serving.hooks import PredictionLogger, PredictionRecord
from mlgitops.serving.model import load_model, predict_table
from mlgitops.serving.requests import (
    PREDICT_OUTPUT,
    PROBA_OUTPUT,
    canonical_request,
    request_table,
    response_of,
    table_of_canonical,
)

WELL_KNOWN_MODEL_FILES = ["model.pkl", "model.joblib"]
_log = logging.getLogger("mlgitops.serving")

Predict = Callable[[InferenceRequest], Awaitable[InferenceResponse]]


class SchemaValidatedModel(MLModel):
    """A joblib scikit-learn model whose requests are checked against its input schema."""

    _schema: InputSchema
    _model: Any
    _logger: PredictionLogger | None = None

    async def load(self) -> bool:
        model_file = Path(await get_model_uri(self.settings, WELL_KNOWN_MODEL_FILES))
        extra = dict(self.settings.parameters.extra or {}) if self.settings.parameters else {}
        schema_file = model_file.parent / str(extra.get("schema", "schema.json"))
        try:
            self._schema = schema_from_dict(json.loads(schema_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, SchemaFormatError) as error:
            raise MLServerError(f"cannot load the input schema {schema_file}: {error}") from None
        self._model = load_model(model_file)
        self.outputs = _outputs_of(self._model)
        self._logger = _build_logger(extra)
        # `predict` is MLServer's batcher here when adaptive batching is on.
        self.predict = self._checked(self.predict)  # type: ignore[method-assign,assignment]
        return True

    def _checked(self, batched: Predict) -> Predict:
        async def predict(payload: InferenceRequest) -> InferenceResponse:
            started = time.time()
            clock = time.perf_counter()
            table = request_table(self._schema, payload)
            wanted = {o.name for o in payload.outputs} if payload.outputs else None
            response = await batched(canonical_request(self._schema, payload, table))
            if self._logger is not None:
                self._log(payload, table.columns, table.rows, response, started, clock)
            if wanted is not None:
                response.outputs = [o for o in response.outputs if o.name in wanted]
            return response

        return predict

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Predict a canonical (possibly merged) request; see `_checked` for the check."""
        table = table_of_canonical(self._schema, payload)
        predictions = predict_table(self._model, self._schema, table)
        return response_of(self.name, self.version, predictions, None)

    def _log(
        self,
        payload: InferenceRequest,
        inputs: dict[str, list[Any]],
        rows: int,
        response: InferenceResponse,
        started: float,
        clock: float,
    ) -> None:
        outputs = {o.name: list(o.data.root) for o in response.outputs}
        probabilities = None
        if "predict_proba" in outputs:
            flat = outputs["predict_proba"]
            width = len(flat) // rows
            probabilities = [flat[i : i + width] for i in range(0, len(flat), width)]
        classes = getattr(self._model, "classes_", None)
        record = PredictionRecord(
            request_id=payload.id or "",
            time=started,
            model=self.name,
            version=self.version or "",
            inputs=inputs,
            outputs=outputs.get("predict", []),
            probabilities=probabilities,
            classes=[c.item() if hasattr(c, "item") else c for c in classes]
            if classes is not None
            else None,
            latency_ms=(time.perf_counter() - clock) * 1000,
            source="serve",
        )
        try:
            assert self._logger is not None
            self._logger.log(record)
        except Exception:  # the log must never fail a prediction
            _log.exception("the prediction logger failed; the answer was sent")


def _outputs_of(model: Any) -> list[MetadataTensor]:
    """`predict` (typed like the model's classes) and, for a classifier, `predict_proba`."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        datatype = "FP64"
    elif all(isinstance(c.item() if hasattr(c, "item") else c, int) for c in classes):
        datatype = "INT64"
    else:
        datatype = "BYTES"
    outputs = [MetadataTensor(name=PREDICT_OUTPUT, datatype=datatype, shape=[-1, 1])]
    if hasattr(model, "predict_proba"):
        outputs.append(MetadataTensor(name=PROBA_OUTPUT, datatype="FP64", shape=[-1, -1]))
    return outputs


def _build_logger(extra: dict[str, Any]) -> PredictionLogger | None:
    target = extra.get("prediction_logger")
    if not target:
        return None
    module_name, _, attribute = str(target).partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    logger: PredictionLogger = factory(extra)
    return logger
