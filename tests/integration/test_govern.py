"""`mlgitops govern` / `validate` on small hand-made repositories (real git and dvc).

The repository is built once per module (git init, dvc init, a DVC-tracked dataset with a
license, a one-stage pipeline writing metrics, a fairness report and a model card) and
copied for each test, which then breaks exactly one rule.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgitops.cli import main
from mlgitops.proc import dvc, git

pytestmark = pytest.mark.slow  # runs dvc repro and dvc status on a real DVC repository

POLICY = """\
version: 1
metrics:
  accuracy:
    higher_is_better: true
    min: 0.80
    max_regression: {absolute: 0.02}
  loss:
    higher_is_better: false
    max: 0.5
    max_regression: {relative: 0.10}
fairness:
  report: reports/fairness.json
  metric: accuracy
  max_gap: 0.10
model_card:
  path: MODEL_CARD.md
  required_sections: [Model Details, Evaluation]
  metrics_must_match: true
data:
  allowed_licenses: [CC-BY-4.0, CC0-1.0]
  max_git_file_kb: 64
  require_clean_dvc_status: true
change_control:
  protected_paths: [governance/]
  approval_label: governance-approved
"""

TRAIN = '''\
"""Write metrics, a fairness report and a model card from params.yaml."""
import json, pathlib, yaml

params = yaml.safe_load(open("params.yaml"))["train"]
accuracy, loss, gap = params["accuracy"], params["loss"], params["gap"]
pathlib.Path("reports").mkdir(exist_ok=True)
json.dump({"accuracy": accuracy, "loss": loss}, open("reports/metrics.json", "w"))
json.dump(
    {"column": "sex", "metric": "accuracy",
     "groups": {"female": {"accuracy": accuracy, "count": 50},
                "male": {"accuracy": round(accuracy - gap, 6), "count": 40}}},
    open("reports/fairness.json", "w"),
)
pathlib.Path("MODEL_CARD.md").write_text(f"""---
license: mit
tags: [tabular-classification]
model-index:
- name: demo-model
  results:
  - task: {{type: tabular-classification}}
    metrics:
    - type: accuracy
      value: {accuracy}
    - type: loss
      value: {loss}
---
# demo-model

## Model Details

A model.

## Evaluation

Accuracy {accuracy}.
""")
'''

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/raw/data.csv]
    params: [train]
    outs:
      - MODEL_CARD.md: {cache: false}
    metrics:
      - reports/metrics.json: {cache: false}
      - reports/fairness.json: {cache: false}
"""

PARAMS = "train:\n  accuracy: 0.9\n  loss: 0.3\n  gap: 0.05\n"


def _commit(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)


def _repro(repo: Path) -> None:
    dvc("repro", "-q", cwd=repo)


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("govern") / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    dvc("init", "-q", cwd=repo)
    (repo / "data" / "raw").mkdir(parents=True)
    (repo / "data" / "raw" / "data.csv").write_text("x,y\n1,0\n2,1\n")
    dvc("add", "-q", "data/raw/data.csv", cwd=repo)
    dvc_file = repo / "data" / "raw" / "data.csv.dvc"
    dvc_file.write_text(
        dvc_file.read_text() + "meta:\n  license: CC-BY-4.0\n  source: https://example.org\n"
    )
    (repo / "train.py").write_text(TRAIN.replace("python", sys.executable, 0))
    (repo / "dvc.yaml").write_text(DVC_YAML.replace("python", sys.executable, 1))
    (repo / "params.yaml").write_text(PARAMS)
    (repo / "governance").mkdir()
    (repo / "governance" / "policy.yaml").write_text(POLICY)
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text("# owners\n/governance/ @acme/ml-leads\n")
    _repro(repo)
    _commit(repo, "base")
    return repo


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(template_repo, copy, symlinks=True)
    monkeypatch.chdir(copy)
    git("switch", "-q", "-c", "feature", cwd=copy)
    return copy


def govern(*args: str) -> int:
    return main(["govern", *args])


def set_params(repo: Path, **values: float) -> None:
    text = (repo / "params.yaml").read_text()
    for key, value in values.items():
        text = re.sub(rf"(?m)^  {key}: .*$", f"  {key}: {value}", text)
    (repo / "params.yaml").write_text(text)


def verdict(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = govern("--format", "json", *args)
    return code, json.loads(capsys.readouterr().out)


def statuses(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["rule"], r["subject"]): r["status"] for r in report["results"]}


def failed(report: dict[str, Any]) -> set[str]:
    return {rule for (rule, _), status in statuses(report).items() if status == "fail"}


# --------------------------------------------------------------------------- passing


def test_clean_repo_passes_every_rule(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = verdict(capsys, "--base", "main")
    assert code == 0, report
    assert report["passed"] is True
    assert statuses(report) == {
        ("metric.present", "accuracy"): "pass",
        ("metric.min", "accuracy"): "pass",
        ("metric.regression", "accuracy"): "pass",
        ("metric.present", "loss"): "pass",
        ("metric.max", "loss"): "pass",
        ("metric.regression", "loss"): "pass",
        ("fairness.gap", "accuracy by sex"): "pass",
        ("model_card.present", "MODEL_CARD.md"): "pass",
        ("model_card.front_matter", "MODEL_CARD.md"): "pass",
        ("model_card.section", "Model Details"): "pass",
        ("model_card.section", "Evaluation"): "pass",
        ("model_card.metrics", "MODEL_CARD.md"): "pass",
        ("data.git_file_size", "git"): "pass",
        ("data.dvc_tracked", "data/"): "pass",
        ("data.license", "data/raw/data.csv.dvc"): "pass",
        ("data.dvc_status", "dvc.lock"): "pass",
        ("change_control.codeowners", "governance/"): "pass",
        ("change_control.approval", "governance/"): "pass",
    }


def test_markdown_lists_every_rule_with_numbers(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert govern("--base", "main") == 0
    out = capsys.readouterr().out
    assert out.startswith("### ✅ Governance passed: 18 checks passed\n")
    assert "| ✅ | `metric.min` | accuracy | accuracy 0.9 >= min 0.8 |" in out
    assert "| ✅ | `fairness.gap` | accuracy by sex | gap 0.05 <= max_gap 0.1" in out
    assert out.count("\n| ") == 19  # header + 18 rules
    assert "<details><summary>18 passed</summary>" in out


def test_without_base_regression_and_approval_are_skipped(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 0
    assert report["base"] is None
    assert statuses(report)[("metric.regression", "accuracy")] == "skip"
    assert statuses(report)[("change_control.approval", "governance/")] == "skip"


# --------------------------------------------------------------------------- metric rules


def test_floor_regression_and_annotations(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_params(repo, accuracy=0.75)
    _repro(repo)
    _commit(repo, "worse model")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    summary = repo.parent / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    output = repo.parent / "governance.md"
    assert govern("--base", "main", "--output", str(output)) == 1
    out = capsys.readouterr().out
    annotations = out.splitlines()
    assert (
        "::error file=governance/policy.yaml,line=5,title=governance metric.min::"
        "accuracy 0.75 < min 0.8"
    ) in annotations
    assert (
        "::error file=params.yaml,line=2,title=governance metric.regression::accuracy regressed"
        " by 0.15 (allowed 0.02): 0.9 → 0.75; changed params: train.accuracy: 0.9 → 0.75"
    ) in annotations
    assert (
        "::error file=governance/policy.yaml,line=6,title=governance metric.regression::"
        "accuracy regressed by 0.15 (allowed 0.02): 0.9 → 0.75"
    ) in annotations
    markdown = output.read_text()
    assert markdown.startswith("### ❌ Governance failed: 2 of 18 checks failed")
    assert "| ❌ | `metric.regression` | accuracy | accuracy 0.9 → 0.75 (worse," in markdown
    assert summary.read_text().startswith(markdown.rstrip("\n"))


def test_relative_regression_of_a_lower_is_better_metric(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_params(repo, loss=0.34)  # +13.3% > 10%
    _repro(repo)
    code, report = verdict(capsys, "--no-dvc-status", "--base", "main")
    assert code == 1
    assert failed(report) == {"metric.regression"}
    result = next(
        r for r in report["results"] if r["rule"] == "metric.regression" and r["subject"] == "loss"
    )  # type: ignore[index, union-attr]
    assert result["numbers"]["worse_by_relative"] == pytest.approx(0.04 / 0.3)
    assert "regression 13.33%, allowed 10.00%" in result["detail"]


def test_ceiling(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_params(repo, loss=0.6)
    _repro(repo)
    _commit(repo, "bad loss")
    (repo / "governance" / "policy.yaml").write_text(
        POLICY.replace("relative: 0.10", "relative: 10")
    )
    code, report = verdict(
        capsys, "--no-dvc-status", "--base", "main", "--labels", "governance-approved"
    )
    assert code == 1
    assert failed(report) == {"metric.max"}


# --------------------------------------------------------------------------- fairness


def test_fairness_gap(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_params(repo, gap=0.2)
    _repro(repo)
    code, report = verdict(capsys, "--no-dvc-status", "--base", "main")
    assert code == 1
    assert failed(report) == {"fairness.gap"}


# --------------------------------------------------------------------------- model card


def test_stale_card_and_empty_section(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    card = repo / "MODEL_CARD.md"
    text = card.read_text().replace("value: 0.9\n", "value: 0.91\n")
    text = text.replace("A model.\n", "<!-- fill me -->\n")
    card.write_text(text)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code = govern("--base", "main", "--output", str(repo.parent / "g.md"), "--no-dvc-status")
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        "::error file=MODEL_CARD.md,line=10,title=governance model_card.metrics::stale card:"
        " accuracy is 0.91 in the card but 0.9 in reports/metrics.json: regenerate the card"
        " (dvc repro)"
    ) in lines
    assert (
        "::error file=MODEL_CARD.md,line=16,title=governance model_card.section::required"
        " section '## Model Details' (line 16) is empty"
    ) in lines


def test_card_front_matter_schema_and_missing_section(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = repo / "MODEL_CARD.md"
    text = card.read_text().replace("license: mit\n", "license: [mit]\n")
    card.write_text(text.replace("## Evaluation", "## Results"))
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 1
    assert failed(report) == {"model_card.front_matter", "model_card.section"}
    by_rule = {r["rule"]: r for r in report["results"] if r["status"] == "fail"}
    assert by_rule["model_card.front_matter"]["findings"] == [
        {
            "message": "expected a string, got list",
            "file": "MODEL_CARD.md",
            "line": 2,
            "key": "license",
        }
    ]


def test_card_without_front_matter(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "MODEL_CARD.md").write_text("# card\n\n## Model Details\n\nx\n")
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 1
    assert failed(report) == {"model_card.present"}


# --------------------------------------------------------------------------- data


def test_large_file_and_dataset_in_git(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "data" / "extra.csv").write_text("a,b\n" + "1,2\n" * 20000)
    git("add", "data/extra.csv", cwd=repo)
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 1
    assert failed(report) == {"data.git_file_size", "data.dvc_tracked"}
    details = {r["rule"]: r["detail"] for r in report["results"]}
    assert details["data.dvc_tracked"] == (
        "dataset file(s) committed to git instead of DVC: data/extra.csv"
    )
    assert details["data.git_file_size"].startswith(
        "1 file(s) over 64 KiB committed to git: data/extra.csv (78 KiB)"
    )


def test_license_not_allowed_points_at_dvc_file_line(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dvc_file = repo / "data" / "raw" / "data.csv.dvc"
    dvc_file.write_text(dvc_file.read_text().replace("CC-BY-4.0", "CC-BY-NC-4.0"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code = govern("--no-dvc-status", "--output", str(repo.parent / "g.md"))
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    line = dvc_file.read_text().splitlines().index("  license: CC-BY-NC-4.0") + 1
    assert lines == [
        f"::error file=data/raw/data.csv.dvc,line={line},title=governance data.license::"
        "data/raw/data.csv.dvc: data license 'CC-BY-NC-4.0' is not allowed;"
        " allowed: CC-BY-4.0, CC0-1.0;"
        " set `meta.license` in data/raw/data.csv.dvc to the data's SPDX license id"
    ]


def test_missing_license(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dvc_file = repo / "data" / "raw" / "data.csv.dvc"
    dvc_file.write_text(dvc_file.read_text().split("meta:")[0])
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 1
    assert failed(report) == {"data.license"}


def test_dvc_status_dirty_after_param_change_without_repro(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_params(repo, accuracy=0.95)
    code, report = verdict(capsys)
    assert code == 1
    assert failed(report) == {"data.dvc_status"}
    detail = next(r["detail"] for r in report["results"] if r["rule"] == "data.dvc_status")
    assert detail.startswith("dvc status is not clean: train (changed deps: params.yaml")


def test_reproduced_but_not_committed_fails_like_in_ci(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI runs `dvc repro` before govern: status is clean, but the commit was stale."""
    set_params(repo, accuracy=0.95)
    _commit(repo, "params only, pipeline not run")
    _repro(repo)  # what the PR workflow does
    code, report = verdict(capsys)
    assert code == 1
    assert failed(report) == {"data.dvc_status"}
    detail = next(r["detail"] for r in report["results"] if r["rule"] == "data.dvc_status")
    assert detail.startswith(
        "the commit is not what the pipeline produces: stage train ran on other inputs than"
        " committed (params); MODEL_CARD.md differs from the commit; reports/fairness.json"
        " differs from the commit; reports/metrics.json differs from the commit."
    )


# --------------------------------------------------------------------------- change control


def test_policy_change_needs_label(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = repo / "governance" / "policy.yaml"
    policy.write_text(policy.read_text().replace("min: 0.80", "min: 0.70"))
    _commit(repo, "relax the floor")
    code, report = verdict(capsys, "--no-dvc-status", "--base", "main", "--labels", "")
    assert code == 1
    assert failed(report) == {"change_control.approval"}
    code, report = verdict(
        capsys, "--no-dvc-status", "--base", "main", "--labels", "governance-approved,x"
    )
    assert code == 0


def test_labels_come_from_the_event_payload(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = repo / "governance" / "policy.yaml"
    policy.write_text(policy.read_text().replace("min: 0.80", "min: 0.70"))
    _commit(repo, "relax the floor")
    base_sha = git("rev-parse", "main", cwd=repo)
    event = repo.parent / "event.json"
    payload = {"pull_request": {"number": 7, "base": {"sha": base_sha, "ref": "main"}}}
    payload["pull_request"]["labels"] = [{"name": "governance-approved"}]
    event.write_text(json.dumps(payload))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, report = verdict(
        capsys, "--no-dvc-status"
    )  # base from the payload, labels from the payload
    assert code == 0
    assert report["base"] == base_sha[:12]
    payload["pull_request"]["labels"] = []
    event.write_text(json.dumps(payload))
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 1
    assert failed(report) == {"change_control.approval"}


def test_codeowners_missing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".github" / "CODEOWNERS").unlink()
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 1
    assert failed(report) == {"change_control.codeowners"}


# --------------------------------------------------------------------------- bad input


def test_invalid_policy_exits_2_naming_file_line_key(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = repo / "governance" / "policy.yaml"
    policy.write_text(policy.read_text().replace("min: 0.80", "min: .inf"))
    assert govern() == 2
    assert capsys.readouterr().err == (
        "mlgitops: error: governance/policy.yaml:5 (key 'metrics.accuracy.min'):"
        " Inf is not allowed: write a finite number\n"
    )


def test_missing_policy_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert govern("--policy", "nope.yaml") == 2
    assert capsys.readouterr().err == "mlgitops: error: nope.yaml: file not found\n"


def test_unknown_base_exits_2_with_a_hint(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert govern("--base", "no-such-branch") == 2
    err = capsys.readouterr().err
    assert err == (
        "mlgitops: error: git revision 'no-such-branch' not found\n"
        "  hint: fetch it, or pass another --base\n"
    )


def test_params_with_duplicate_key_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "params.yaml").write_text(PARAMS + "train:\n  accuracy: 1\n")
    assert govern() == 2
    assert capsys.readouterr().err == (
        "mlgitops: error: params.yaml:5 (key 'train'): duplicate key 'train'"
        " (first defined on line 1)\n"
    )


# --------------------------------------------------------------------------- validate


def test_validate_ok(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: governance/policy.yaml\nok: params.yaml\nok: MODEL_CARD.md\n"
    )


def test_validate_lists_every_problem(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = repo / "governance" / "policy.yaml"
    policy.write_text(
        policy.read_text()
        .replace("min: 0.80", "min: '0.8'")
        .replace("max: 0.5", "max: 0.5\n    maximum: 1")
    )
    (repo / "params.yaml").write_text("train:\n  flag: on\n")
    card = repo / "MODEL_CARD.md"
    card.write_text(card.read_text().replace("value: 0.9\n", "value: high\n"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["validate"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "mlgitops: error: governance/policy.yaml:5 (key 'metrics.accuracy.min'): expected a"
        ' number, got string "0.8"',
        "mlgitops: error: governance/policy.yaml:10 (key 'metrics.loss.maximum'): unknown key"
        " 'maximum'",
        "  hint: allowed here: higher_is_better, max, max_regression, min",
        "mlgitops: error: params.yaml:2 (key 'train.flag'): 'on' is a boolean in YAML 1.1 and a"
        " string in YAML 1.2; write true/false, or quote it if you mean the text",
        "mlgitops: error: MODEL_CARD.md:10 (key 'model-index[0].results[0].metrics[0].value'):"
        ' expected a number, got string "high"',
        "mlgitops: error: 4 problems found (listed above)",
    ]
    annotations = [line for line in captured.out.splitlines() if line.startswith("::error")]
    assert annotations[0] == (
        "::error file=governance/policy.yaml,line=5::governance/policy.yaml:5 (key"
        " 'metrics.accuracy.min'): expected a number, got string \"0.8\""
    )
    assert len(annotations) == 5


# --------------------------------------------------------------------------- several models


def test_each_dvc_artifact_is_governed_with_its_own_metrics_and_card(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "dvc.yaml").write_text(
        (repo / "dvc.yaml").read_text() + "artifacts:\n"
        "  churn:\n    path: MODEL_CARD.md\n    type: model\n"
        "    meta: {metrics: reports/metrics.json, card: MODEL_CARD.md}\n"
        "  upsell:\n    path: reports/upsell.json\n    type: model\n"
        "    meta: {metrics: reports/upsell.json, card: UPSELL_CARD.md}\n"
    )
    (repo / "reports" / "upsell.json").write_text('{"accuracy": 0.7, "loss": 0.2}')
    _commit(repo, "a second model")
    code, report = verdict(capsys, "--no-dvc-status")
    assert code == 1
    failures = {(r["rule"], r["subject"]) for r in report["results"] if r["status"] == "fail"}
    assert failures == {
        ("metric.min", "upsell: accuracy"),
        ("model_card.present", "upsell: UPSELL_CARD.md"),
    }
    subjects = {r["subject"] for r in report["results"] if r["rule"] == "metric.present"}
    assert subjects == {"churn: accuracy", "churn: loss", "upsell: accuracy", "upsell: loss"}
    # --metrics names one file: one model, subjects without a prefix
    code, report = verdict(capsys, "--no-dvc-status", "--metrics", "reports/metrics.json")
    assert code == 0
    assert main(["validate"]) == 2
    assert capsys.readouterr().err == "mlgitops: error: UPSELL_CARD.md: file not found\n"


# --------------------------------------------------------------------------- shallow clones


def test_shallow_clone_is_unshallowed_from_origin(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_params(repo, accuracy=0.91)
    _repro(repo)
    _commit(repo, "slightly better")
    shallow = tmp_path / "shallow"
    git(
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "feature",
        f"file://{repo}",
        str(shallow),
        cwd=tmp_path,
    )
    git("fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main", cwd=shallow)
    monkeypatch.chdir(shallow)
    code, report = verdict(capsys, "--base", "main", "--no-dvc-status")
    assert code == 0, report
    assert report["base"].startswith("origin/main (")
    assert git("rev-parse", "--is-shallow-repository", cwd=shallow) == "false"


def test_shallow_clone_without_origin_names_fetch_depth(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", f"file://{repo}", str(shallow), cwd=tmp_path)
    git("remote", "set-url", "origin", str(tmp_path / "gone"), cwd=shallow)
    monkeypatch.chdir(shallow)
    assert govern("--base", "main", "--no-dvc-status") == 2
    err = capsys.readouterr().err
    assert "this is a shallow clone and fetching its history failed" in err
    assert "fetch-depth: 0" in err
