"""`mlgitops drift` inside a baked, trained repository (the shared default repo, read-only).

The reference is the committed `data/raw/data.csv` at HEAD, read through DVC; the current
data are CSV files written next to the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlgitops.cli import main
from mlgitops.errors import EXIT_GATE_FAILED, EXIT_OK

pytestmark = pytest.mark.slow

DATA = "data/raw/data.csv"


@pytest.fixture
def reference(baked_default_repo: Path, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    monkeypatch.chdir(baked_default_repo)
    return pd.read_csv(baked_default_repo / DATA)


def test_the_training_data_itself_does_not_drift(reference: pd.DataFrame, tmp_path: Path) -> None:
    current = tmp_path / "current.csv"
    reference.sample(frac=1.0, random_state=0).to_csv(current, index=False)
    assert main(["drift", "--reference", "HEAD", "--current", str(current)]) == EXIT_OK


def test_a_rescaled_feature_drifts_and_only_it(reference: pd.DataFrame, tmp_path: Path) -> None:
    numeric = [c for c in reference.columns if pd.api.types.is_float_dtype(reference[c])]
    shifted = numeric[0]
    current = reference.copy()
    current[shifted] = current[shifted] * 1.5
    path = tmp_path / "current.csv"
    current.to_csv(path, index=False)
    out = tmp_path / "drift.json"
    args = ["--reference", "HEAD", "--current", str(path), "--format", "json", "--output", str(out)]
    assert main(["drift", *args]) == EXIT_GATE_FAILED
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["drifted_columns"] == [shifted]
    assert report["reference_rows"] == len(reference)
