"""Stage `model_card`: render MODEL_CARD.md from templates/model_card.md.j2.

The card has Hugging Face compatible YAML front matter whose `model-index` results are the
values of reports/metrics.json, so a stale card is detectable by comparing the two.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python src/<package>/model_card.py` by dvc.yaml
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jinja2
import yaml

from {{ cookiecutter.package_name }}.common import (
    CARD_TEMPLATE,
    CLASSIFICATION,
    FAIRNESS,
    METRICS,
    MODEL_CARD,
    PYPROJECT,
    DatasetInfo,
    load_dataset_info,
    load_params,
    read_json,
)

# SPDX id in pyproject.toml -> Hugging Face license id.
HF_LICENSES = {"MIT": "mit", "Apache-2.0": "apache-2.0", "BSD-3-Clause": "bsd-3-clause"}
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "roc_auc": "ROC AUC",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R2",
}


def front_matter(
    project: dict[str, Any], model_name: str, dataset: DatasetInfo, metrics: dict[str, float]
) -> dict[str, Any]:
    """The card's YAML front matter (Hugging Face model card metadata)."""
    hf_task = f"tabular-{dataset.task}"
    return {
        "license": HF_LICENSES.get(str(project.get("license")), "other"),
        "library_name": "sklearn",
        "tags": [hf_task, "sklearn", "dvc"],
        "datasets": [dataset.name],
        "metrics": sorted(metrics),
        "model-index": [
            {
                "name": model_name,
                "results": [
                    {
                        "task": {"type": hf_task, "name": f"Tabular {dataset.task.title()}"},
                        "dataset": {"type": dataset.name, "name": dataset.title, "split": "test"},
                        "metrics": [
                            {"type": name, "name": METRIC_NAMES.get(name, name), "value": value}
                            for name, value in sorted(metrics.items())
                        ],
                    }
                ],
            }
        ],
    }


def render_card(
    template_text: str,
    pyproject: dict[str, Any],
    dataset: DatasetInfo,
    params: dict[str, Any],
    metrics: dict[str, float],
    fairness: dict[str, Any],
) -> str:
    """MODEL_CARD.md text: front matter, then the template rendered with everything it may use."""
    project = pyproject.get("project", {})
    model_name = (
        pyproject.get("tool", {}).get("mlgitops", {}).get("model_name", project.get("name"))
    )
    matter = front_matter(project, model_name, dataset, metrics)
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    body = environment.from_string(template_text).render(
        project=project,
        model_name=model_name,
        dataset=dataset,
        params=params,
        metrics=metrics,
        metric_names=METRIC_NAMES,
        fairness=fairness,
        is_classification=dataset.task == CLASSIFICATION,
    )
    header = yaml.safe_dump(matter, sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n\n{body.lstrip()}"


def main() -> None:
    card = render_card(
        CARD_TEMPLATE.read_text(encoding="utf-8"),
        tomllib.loads(PYPROJECT.read_text(encoding="utf-8")),
        load_dataset_info(),
        load_params(),
        read_json(METRICS),
        read_json(FAIRNESS),
    )
    MODEL_CARD.write_text(card, encoding="utf-8")
    print(f"model_card: wrote {MODEL_CARD}")


if __name__ == "__main__":
    main()
