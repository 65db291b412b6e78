"""`mlgitops init` on freshly baked folders: what it sets up, idempotence, errors."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml
from helpers.baking import bake

from mlgitops import proc
from mlgitops.cli import main

pytestmark = pytest.mark.slow


def dvc_config(repo: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(repo / ".dvc" / "config", encoding="utf-8")
    return config


def data_meta(repo: Path) -> dict[str, str]:
    content = yaml.safe_load((repo / "data/raw/data.csv.dvc").read_text(encoding="utf-8"))
    return dict(content["meta"])


def test_init_sets_up_everything_then_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(tmp_path)
    assert main(["init", str(repo)]) == 0
    assert proc.git("branch", "--show-current", cwd=repo) == "main"
    assert proc.git("status", "--porcelain", cwd=repo) == ""
    assert proc.git("rev-list", "--count", "HEAD", cwd=repo) == "1"
    assert data_meta(repo) == {
        "license": "CC-BY-4.0",
        "source": "https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic",
    }
    remote = tmp_path / "breast-cancer-classifier-dvc-remote"
    assert remote.is_dir()
    config = dvc_config(repo)
    assert config.get("core", "remote") == "storage"
    assert config.get("'remote \"storage\"'", "url") == str(remote)
    assert "data.csv" in proc.git("ls-files", "data/raw", cwd=repo) + "\n"
    assert "/data.csv" in (repo / "data/raw/.gitignore").read_text(encoding="utf-8")
    capsys.readouterr()

    assert main(["init", str(repo)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert proc.git("rev-list", "--count", "HEAD", cwd=repo) == "1"

    # A changed license reaches the .dvc file; only init's own files are committed.
    dataset = repo / "data/dataset.yaml"
    dataset.write_text(
        dataset.read_text(encoding="utf-8").replace("CC-BY-4.0", "CC0-1.0"), encoding="utf-8"
    )
    assert main(["init", str(repo)]) == 0
    assert data_meta(repo)["license"] == "CC0-1.0"
    assert proc.git("rev-list", "--count", "HEAD", cwd=repo) == "2"
    assert proc.git("status", "--porcelain", cwd=repo) == " M data/dataset.yaml"


def test_init_with_a_cloud_remote_only_configures_it(tmp_path: Path) -> None:
    repo = bake(tmp_path, dvc_remote="s3", dvc_remote_url="s3://bucket/models")
    assert main(["init", str(repo), "--no-commit"]) == 0
    assert dvc_config(repo).get("'remote \"storage\"'", "url") == "s3://bucket/models"
    assert proc.run(["git", "rev-parse", "--verify", "HEAD"], repo, check=False).returncode != 0


def test_remote_url_option_overrides_the_baked_one(tmp_path: Path) -> None:
    repo = bake(tmp_path)
    assert main(["init", str(repo), "--remote-url", "shared/remote", "--no-commit"]) == 0
    expected = (repo / "shared" / "remote").resolve()
    assert dvc_config(repo).get("'remote \"storage\"'", "url") == str(expected)
    assert expected.is_dir()


def test_init_outside_a_baked_repo_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "does not look like a repository baked from ml-gitops-template" in error
    assert "hint:" in error
    assert main(["init", str(tmp_path / "missing")]) == 2
