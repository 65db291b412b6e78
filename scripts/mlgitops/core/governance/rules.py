"""Governance rules: facts in, one RuleResult per rule and subject out. Pure.

`evaluate(policy, facts)` never reads files, runs git/dvc or looks at the environment;
`mlgitops.services.governance` gathers the facts. Rule ids are stable (they appear in the
JSON output and the docs):

    metric.present  metric.min  metric.max  metric.regression
    fairness.gap
    model_card.present  model_card.front_matter  model_card.section  model_card.metrics
    data.git_file_size  data.dvc_tracked  data.license  data.dvc_status
    change_control.approval  change_control.codeowners
"""

from __future__ import annotations

from dataclasses import replace

from mlgitops.core.governance.card_rules import card_rules
from mlgitops.core.governance.change_rules import change_rules
from mlgitops.core.governance.data_rules import data_rules
from mlgitops.core.governance.facts import GovernanceFacts, ModelFacts
from mlgitops.core.governance.fairness_rules import fairness_rules
from mlgitops.core.governance.metric_rules import metric_rules
from mlgitops.core.governance.results import RuleResult
from mlgitops.core.policy import Policy


def evaluate(policy: Policy, facts: GovernanceFacts) -> list[RuleResult]:
    """Every rule of `policy` applied to `facts`, in a stable order."""
    models = [
        ModelFacts(facts.model or "", facts.metrics, facts.model_card),
        *facts.more_models,
    ]
    per_model: list[RuleResult] = []
    for model in models:
        found = [
            *metric_rules(policy, model.metrics),
            *card_rules(policy, model.model_card, model.metrics),
        ]
        if len(models) > 1:
            found = [replace(r, subject=f"{model.name}: {r.subject}") for r in found]
        per_model.extend(found)
    return [
        *per_model,
        *fairness_rules(policy, facts.fairness),
        *data_rules(policy, facts.data),
        *change_rules(policy, facts.change),
    ]
