"""Defaults that a command's `--help` shows and the services apply, defined once.

They live here, not in the services, so that building a command's parser imports no
service (nor YAML, JSON Schema or DVC behind it): `mlgitops <command> --help` stays fast.
"""

from __future__ import annotations

DEFAULT_POLICY_PATH = "governance/policy.yaml"
DEFAULT_METRICS_FILE = "reports/metrics.json"
DEFAULT_PARAMS_FILE = "params.yaml"
DEFAULT_HISTORY = 8  # promoted versions in the report's history chart
DEFAULT_GIT_REMOTE = "origin"
# Where a baked repository keeps its dataset's DVC file and its description (license, source).
DATA_DVC = "data/raw/data.csv.dvc"
DATASET = "data/dataset.yaml"
DEFAULT_COMMENT_KEY = "report"  # which sticky comment of a PR `mlgitops comment` edits
# Who issues the OIDC tokens of GitHub Actions: the issuer of its keyless signatures.
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
