"""`mlgitops predict` and the baked `python -m <package>.predict` on real baked repositories."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import joblib
import pandas as pd
import pytest
from helpers.promoted import MODEL

from mlgitops.cli import main
from mlgitops.core.input_schema import schema_from_dict, validate_columns
from mlgitops.errors import EXIT_BAD_INPUT, EXIT_OK

pytestmark = pytest.mark.slow


def features_csv(repo: Path, out: Path, rows: int | None = None) -> pd.DataFrame:
    schema = json.loads((repo / "models" / "schema.json").read_text(encoding="utf-8"))
    test = pd.read_csv(repo / "data" / "prepared" / "test.csv").drop(columns=[schema["target"]])
    frame = test if rows is None else test.head(rows)
    frame.to_csv(out, index=False)
    return frame


def test_predict_writes_every_row_with_the_version_and_probabilities(
    promoted_repo: Path, release_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(promoted_repo)
    frame = features_csv(promoted_repo, tmp_path / "in.csv")
    out = tmp_path / "out" / "predictions.csv"
    code = main(
        [
            "predict",
            "--key",
            str(release_key),
            "--model",
            f"{MODEL}#production",
            "--input",
            str(tmp_path / "in.csv"),
            "--output",
            str(out),
        ]
    )
    assert code == EXIT_OK
    written = pd.read_csv(out)
    model = joblib.load(promoted_repo / "models" / "model.pkl")
    assert len(written) == len(frame)
    assert written["prediction"].tolist() == model.predict(frame).tolist()
    probabilities = model.predict_proba(frame)
    for index, label in enumerate(model.classes_):
        assert written[f"probability_{label}"].tolist() == probabilities[:, index].tolist()
    assert set(written["model_version"]) == {f"{MODEL}@v1.0.0"}
    assert [p.name for p in out.parent.iterdir()] == ["predictions.csv"]


def _without_mean_area(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["mean area"])


def _with_extra(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(extra=1.0)


def _text_in_mean_radius(frame: pd.DataFrame) -> pd.DataFrame:
    edited = frame.astype({"mean radius": str})
    edited.loc[0, "mean radius"] = "big"
    return edited


def _missing_worst_area(frame: pd.DataFrame) -> pd.DataFrame:
    edited = frame.copy()
    edited.loc[2, "worst area"] = None
    return edited


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_without_mean_area, "column 'mean area': missing column"),
        (_with_extra, "column 'extra': unexpected column"),
        (_text_in_mean_radius, "line 2 (row 1), column 'mean radius': expected a number"),
        (_missing_worst_area, "line 4 (row 3), column 'worst area': missing value"),
    ],
)
def test_a_bad_input_exits_2_naming_line_and_column_and_writes_nothing(
    promoted_repo: Path,
    release_key: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[pd.DataFrame], pd.DataFrame],
    expected: str,
) -> None:
    monkeypatch.chdir(promoted_repo)
    frame = features_csv(promoted_repo, tmp_path / "good.csv", rows=3)
    edit(frame).to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    code = main(
        [
            "predict",
            "--key",
            str(release_key),
            "--model",
            f"{MODEL}@v1.0.0",
            "--input",
            str(tmp_path / "in.csv"),
            "--output",
            str(out),
        ]
    )
    assert code == EXIT_BAD_INPUT
    assert expected in capsys.readouterr().err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "in.csv"]


def test_an_unknown_category_exits_2_and_writes_nothing(
    promoted_csv_repo: tuple[Path, str],
    release_key: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, model = promoted_csv_repo
    monkeypatch.chdir(repo)
    rows = pd.read_csv(repo / "data" / "raw" / "data.csv").drop(columns=["churned"]).head(4)
    rows.loc[2, "plan"] = "platinum"
    rows.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    code = main(
        [
            "predict",
            "--key",
            str(release_key),
            "--model",
            f"{model}@v1.0.0",
            "--input",
            str(tmp_path / "in.csv"),
            "--output",
            str(out),
        ]
    )
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "line 4 (row 3), column 'plan': category 'platinum' was never seen" in err
    assert not out.exists()
    rows.loc[2, "plan"] = "pro"
    rows.to_csv(tmp_path / "in.csv", index=False)
    code = main(
        [
            "predict",
            "--key",
            str(release_key),
            "--model",
            f"{model}@v1.0.0",
            "--input",
            str(tmp_path / "in.csv"),
            "--output",
            str(out),
        ]
    )
    assert code == EXIT_OK
    assert len(pd.read_csv(out)) == 4


def _baked_predict(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    package = next(p.name for p in (repo / "src").iterdir() if (p / "predict.py").exists())
    return subprocess.run(
        [sys.executable, "-m", f"{package}.predict", *args],
        cwd=repo,
        env={"PYTHONPATH": str(repo / "src"), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_baked_module_predicts_like_the_cli(
    promoted_csv_repo: tuple[Path, str],
    release_key: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, model = promoted_csv_repo
    monkeypatch.chdir(repo)
    rows = pd.read_csv(repo / "data" / "raw" / "data.csv").drop(columns=["churned"]).head(20)
    rows.to_csv(tmp_path / "in.csv", index=False)
    baked = _baked_predict(
        repo,
        "--input",
        str(tmp_path / "in.csv"),
        "--output",
        str(tmp_path / "baked.csv"),
        "--version",
        f"{model}@v1.0.0",
    )
    assert baked.returncode == 0, baked.stderr
    assert (
        main(
            [
                "predict",
                "--key",
                str(release_key),
                "--model",
                f"{model}@v1.0.0",
                "--input",
                str(tmp_path / "in.csv"),
                "--output",
                str(tmp_path / "cli.csv"),
            ]
        )
        == EXIT_OK
    )
    assert pd.read_csv(tmp_path / "baked.csv").equals(pd.read_csv(tmp_path / "cli.csv"))


@pytest.mark.parametrize(
    ("column", "value"),
    [("plan", "platinum"), ("tenure", "1.5"), ("monthly charges", ""), ("tenure", "ten")],
)
def test_the_baked_checks_and_the_cli_checks_agree(
    promoted_csv_repo: tuple[Path, str], tmp_path: Path, column: str, value: str
) -> None:
    repo, _ = promoted_csv_repo
    rows = pd.read_csv(repo / "data" / "raw" / "data.csv", dtype=str).drop(columns=["churned"])
    rows = rows.head(5)
    rows.loc[3, column] = value
    rows.to_csv(tmp_path / "in.csv", index=False)
    baked = _baked_predict(
        repo, "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "out.csv")
    )
    assert baked.returncode == 2
    assert f"in.csv:5: row 4, column '{column}'" in baked.stderr
    assert not (tmp_path / "out.csv").exists()
    schema = schema_from_dict(json.loads((repo / "models/schema.json").read_text("utf-8")))
    with (tmp_path / "in.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    columns = {name: [row[name] for row in table] for name in table[0]}
    _, problems = validate_columns(schema, columns, text_cells=True)
    assert [(p.row, p.column) for p in problems] == [(4, column)]


def test_the_prediction_logger_hook_gets_the_whole_file_once(
    promoted_repo: Path, tmp_path: Path
) -> None:
    from mlgitops.serving.fetch import fetch_model_version
    from mlgitops.serving.hooks import PredictionRecord
    from mlgitops.serving.model import load_model
    from mlgitops.serving.predict import predict_file

    class Collect:
        def __init__(self) -> None:
            self.records: list[PredictionRecord] = []

        def log(self, record: PredictionRecord) -> None:
            self.records.append(record)

    fetched = fetch_model_version(promoted_repo, f"{MODEL}@v1.0.0", tmp_path / "model")
    assert fetched.schema is not None
    frame = features_csv(promoted_repo, tmp_path / "in.csv", rows=5)
    collect = Collect()
    rows = predict_file(
        fetched.schema,
        load_model(fetched.path),
        tmp_path / "in.csv",
        tmp_path / "out.csv",
        tag=fetched.tag,
        logger=collect,
        model_name=fetched.model,
        version=fetched.version,
    )
    assert rows == 5
    (record,) = collect.records
    assert (record.model, record.version, record.source) == (MODEL, "v1.0.0", "predict")
    assert list(record.inputs) == list(frame.columns) and len(record.outputs) == 5
    written = pd.read_csv(tmp_path / "out.csv")
    assert record.outputs == written["prediction"].tolist()
    assert record.probabilities is not None and len(record.probabilities) == 5
