"""Small real repositories for the promotion tests (no tests here).

Each sandbox has a bare `origin`, a local DVC remote and a working clone whose model is a
`dvc add`ed directory of three files, declared as a dvc.yaml artifact. The DVC remote
URL is relative (`../../dvc-remote` from `.dvc/`), so any clone beside `work` shares it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from localhub.server import LocalHub
from mlgitops import cli

# git, dvc and gto of this interpreter's environment, whether or not it is activated.
_BIN = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _BIN:
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

REPOSITORY = "acme/models"
TOKEN = "bot-token"


def sh(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout.strip()


def dvc_yaml(models: Iterable[str]) -> str:
    models = list(models)
    # Declared as DVC metrics: release notes read them through DVC, as `report` does.
    lines = ["metrics:", *(f"  - reports/{name}.json" for name in models), "artifacts:"]
    for name in models:
        lines += [
            f"  {name}:",
            f"    path: models/{name}",
            "    type: model",
            "    desc: a test model",
            f"    meta: {{metrics: reports/{name}.json, card: MODEL_CARD.md}}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Sandbox:
    root: Path
    models: tuple[str, ...] = ("demo-model",)

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def dvc_remote(self) -> Path:
        return self.root / "dvc-remote"

    def create(self) -> Sandbox:
        sh(
            "git",
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            str(self.origin),
            cwd=self.root,
        )
        sh("git", "clone", "--quiet", str(self.origin), "work", cwd=self.root)
        self.dvc_remote.mkdir()
        sh("dvc", "init", "--quiet", cwd=self.work)
        sh("dvc", "remote", "add", "--default", "store", "../dvc-remote", cwd=self.work)
        (self.work / "dvc.yaml").write_text(dvc_yaml(self.models), encoding="utf-8")
        (self.work / "MODEL_CARD.md").write_text(
            "---\nlicense: mit\n---\n# Card\n\n## Model Details\nA test model.\n", encoding="utf-8"
        )
        self.change(1)
        return self

    def change(self, n: int, message: str | None = None, cwd: Path | None = None) -> str:
        """Commit new model files (content depends on n) and push main; returns the SHA."""
        work = cwd or self.work
        (work / "params.yaml").write_text(f"train:\n  seed: {n}\n", encoding="utf-8")
        (work / "reports").mkdir(exist_ok=True)
        for name in self.models:
            directory = work / "models" / name
            directory.mkdir(parents=True, exist_ok=True)
            for i in range(3):
                (directory / f"part{i}.bin").write_text(
                    f"{name} weights {n}.{i}\n", encoding="utf-8"
                )
            (work / "reports" / f"{name}.json").write_text(
                json.dumps({"accuracy": 0.9 + n / 1000}), encoding="utf-8"
            )
            sh("dvc", "add", "--quiet", f"models/{name}", cwd=work)
        sh("git", "add", "-A", cwd=work)
        sh("git", "commit", "--quiet", "-m", message or f"change {n}", cwd=work)
        sh("git", "push", "--quiet", "origin", "HEAD:main", cwd=work)
        return sh("git", "rev-parse", "HEAD", cwd=work)

    def copy(self, root: Path) -> Sandbox:
        """A copy at `root` (cheaper than `create`): same commits, own origin and remote."""
        for name in ("origin.git", "work", "dvc-remote"):
            shutil.copytree(self.root / name, root / name, symlinks=True)
        copied = Sandbox(root, self.models)
        sh("git", "remote", "set-url", "origin", str(copied.origin), cwd=copied.work)
        return copied

    def clone(self, name: str) -> Path:
        sh("git", "clone", "--quiet", str(self.origin), name, cwd=self.root)
        return self.root / name

    def origin_tags(self) -> dict[str, str]:
        """Tag → commit on origin."""
        out = sh(
            "git", "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", "refs/tags",
            cwd=self.origin,
        )  # fmt: skip
        return dict(line.split(" ") for line in out.splitlines())

    def remote_object(self, md5: str) -> Path:
        return self.dvc_remote / "files" / "md5" / md5[:2] / md5[2:]


def mlgitops(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str
) -> tuple[int, str]:
    """Run the CLI in-process in `cwd`; returns (exit code, stdout + stderr)."""
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def use_hub(monkeypatch: pytest.MonkeyPatch, hub: LocalHub) -> None:
    hub.add_user("github-actions[bot]", TOKEN, type="Bot")
    hub.add_repo(REPOSITORY)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", hub.api_url)
    monkeypatch.setenv("GITHUB_SERVER_URL", hub.server_url)


def merged_pull(hub: LocalHub, number: int, sha: str, labels: list[str]) -> None:
    hub.add_pull(
        REPOSITORY, number, head_sha=f"{number:040x}", labels=labels, merged=True,
        merge_commit_sha=sha, title=f"Change {number}",
    )  # fmt: skip
