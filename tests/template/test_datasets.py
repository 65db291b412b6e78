"""The datasets bundled in the template are scikit-learn's, with headers, unchanged in value."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers.baking import TEMPLATE
from sklearn.datasets import load_breast_cancer, load_diabetes

RAW = TEMPLATE / "{{cookiecutter.project_slug}}" / "data" / "raw"


def test_breast_cancer_csv_matches_scikit_learn() -> None:
    frame = pd.read_csv(RAW / "breast_cancer.csv")
    bunch = load_breast_cancer()
    assert list(frame.columns) == [*bunch.feature_names, "malignant"]
    np.testing.assert_array_equal(frame[list(bunch.feature_names)].to_numpy(), bunch.data)
    # scikit-learn codes malignant as 0; the CSV says malignant = 1.
    np.testing.assert_array_equal(frame["malignant"].to_numpy(), 1 - bunch.target)


def test_diabetes_csv_matches_scikit_learn_unscaled() -> None:
    frame = pd.read_csv(RAW / "diabetes.csv")
    bunch = load_diabetes(scaled=False)
    assert list(frame.columns) == [*bunch.feature_names, "progression"]
    np.testing.assert_allclose(frame[list(bunch.feature_names)].to_numpy(), bunch.data)
    np.testing.assert_array_equal(frame["progression"].to_numpy(), bunch.target)
