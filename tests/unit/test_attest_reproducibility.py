"""Rebuild comparison, the release-notes line and the `release.require_reproducible` rule."""

from __future__ import annotations

from mlgitops.attest.reproducibility import (
    compare_rebuild,
    release_notes_section,
    reproducibility_violation,
    summary,
)
from mlgitops.core.markdown.release import DataHash

ORIGINAL = [
    DataHash("data/raw.csv", "1" * 32, "train", "dep"),
    DataHash("models/model.pkl", "2" * 32, "train", "out"),
    DataHash("reports/metrics.json", "3" * 32, "evaluate", "out"),
]


def rebuilt(model: str = "2" * 32, metrics: str = "3" * 32) -> list[DataHash]:
    return [
        DataHash("data/raw.csv", "1" * 32, "train", "dep"),
        DataHash("models/model.pkl", model, "train", "out"),
        DataHash("reports/metrics.json", metrics, "evaluate", "out"),
    ]


def test_identical_outputs() -> None:
    report = compare_rebuild(ORIGINAL, rebuilt(), seconds=12.34)
    assert report.identical and not report.differences
    assert summary(report) == "rebuilt from scratch in 12.3 s: identical, byte for byte"
    assert release_notes_section(report).startswith("## Reproducibility\n\nRebuilt from scratch")
    assert reproducibility_violation(True, report) is None


def test_a_different_model_is_named_with_both_hashes() -> None:
    report = compare_rebuild(ORIGINAL, rebuilt(model="9" * 32), seconds=1.0)
    assert not report.identical
    assert report.differences == (
        f"models/model.pkl (train): md5 {'2' * 32} at the tag, {'9' * 32} rebuilt",
    )
    violation = reproducibility_violation(True, report)
    assert violation is not None and "NOT identical: models/model.pkl" in violation
    assert reproducibility_violation(False, report) is None


def test_missing_and_extra_outputs() -> None:
    report = compare_rebuild(
        ORIGINAL,
        [*rebuilt()[:2], DataHash("other.bin", "4" * 32, "train", "out")],
        seconds=1.0,
    )
    assert report.differences == (
        "reports/metrics.json (evaluate): not produced by the rebuild",
        "other.bin (train): produced by the rebuild only",
    )


def test_metrics_within_tolerance_pass_only_when_a_tolerance_is_stated() -> None:
    before = {"reports/metrics.json": {"accuracy": 0.9000, "nested": {"f1": 0.8}, "ok": True}}
    after = {"reports/metrics.json": {"accuracy": 0.9001, "nested": {"f1": 0.8}, "ok": True}}
    exact = compare_rebuild(
        ORIGINAL, rebuilt(metrics="5" * 32), seconds=1.0,
        metrics_original=before, metrics_rebuilt=after,
    )  # fmt: skip
    assert not exact.identical
    loose = compare_rebuild(
        ORIGINAL, rebuilt(metrics="5" * 32), seconds=1.0,
        metrics_original=before, metrics_rebuilt=after, tolerance=1e-3,
    )  # fmt: skip
    assert loose.identical and loose.within_tolerance == ("reports/metrics.json",)
    assert "within a relative tolerance of 0.001" in summary(loose)
    too_far = compare_rebuild(
        ORIGINAL, rebuilt(metrics="5" * 32), seconds=1.0,
        metrics_original=before, metrics_rebuilt=after, tolerance=1e-6,
    )  # fmt: skip
    assert not too_far.identical
    # A tolerance never excuses the model itself.
    model = compare_rebuild(
        ORIGINAL, rebuilt(model="9" * 32), seconds=1.0, tolerance=0.5,
        metrics_original=before, metrics_rebuilt=after,
    )  # fmt: skip
    assert not model.identical


def test_required_but_not_rebuilt() -> None:
    assert reproducibility_violation(True, None) == (
        "release.require_reproducible: the version was not rebuilt"
    )


def test_the_pure_attestation_modules_import_no_io_library() -> None:
    """statement and reproducibility take data and return data: no files, tools, network."""
    import ast
    from pathlib import Path

    import mlgitops.attest as package

    forbidden = {"yaml", "jsonschema", "dvc", "git", "github", "subprocess", "os", "pathlib",
                 "requests", "model_signing", "sigstore", "shutil", "tempfile"}  # fmt: skip
    for name in ("statement.py", "reproducibility.py"):
        tree = ast.parse((Path(package.__file__).parent / name).read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
                if node.module.startswith("mlgitops."):
                    assert node.module.startswith(
                        ("mlgitops.core.", "mlgitops.attest.statement")
                    ), (
                        name,
                        node.module,
                    )
        assert not imported & forbidden, (name, imported & forbidden)
