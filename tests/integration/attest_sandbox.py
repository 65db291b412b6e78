"""A small real repository for the attestation tests (no tests here).

One DVC stage turns a `dvc add`ed CSV and params.yaml into `models/model.bin` and
`metrics.json`; the model is a dvc.yaml artifact. The stage is deterministic unless
params.yaml says `train: {noise: true}`, when it writes random bytes into the model: a
pipeline that does not rebuild identically.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.signing_keys import make_key_pair

__all__ = ["MODEL", "Sandbox", "make_key_pair", "sh"]

_BIN = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _BIN:
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

MODEL = "demo"

TRAIN = """\
import hashlib, json, os, yaml
params = yaml.safe_load(open("params.yaml"))["train"]
data = open("data/raw.csv", "rb").read()
weights = hashlib.sha256(data + str(params["seed"]).encode()).digest() * 64
if params.get("noise"):
    weights += os.urandom(16)
os.makedirs("models", exist_ok=True)
open("models/model.bin", "wb").write(weights)
json.dump({"accuracy": round(len(data) % 97 / 97, 6), "rows": data.count(b"\\n")},
          open("metrics.json", "w"), sort_keys=True)
"""

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/raw.csv]
    params: [train]
    outs: [models/model.bin]
    metrics:
      - metrics.json:
          cache: false
artifacts:
  demo:
    path: models/model.bin
    type: model
"""

REQUIREMENTS = """\
# locked
pyyaml==6.0.4 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000001
"""


def sh(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout.strip()


@dataclass
class Sandbox:
    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def remote(self) -> Path:
        return self.root / "dvc-remote"

    def create(self, *, noise: bool = False) -> Sandbox:
        work = self.work
        work.mkdir(parents=True)
        self.remote.mkdir()
        sh("git", "init", "--quiet", "--initial-branch=main", cwd=work)
        sh("dvc", "init", "--quiet", cwd=work)
        sh("dvc", "remote", "add", "--default", "storage", "../dvc-remote", cwd=work)
        (work / "data").mkdir()
        (work / "data" / "raw.csv").write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
        sh("dvc", "add", "--quiet", "data/raw.csv", cwd=work)
        (work / "train.py").write_text(TRAIN, encoding="utf-8")
        (work / "dvc.yaml").write_text(DVC_YAML, encoding="utf-8")
        noise_line = "  noise: true\n" if noise else ""
        (work / "params.yaml").write_text(f"train:\n  seed: 7\n{noise_line}", encoding="utf-8")
        (work / "requirements.txt").write_text(REQUIREMENTS, encoding="utf-8")
        return self.commit("first model")

    def commit(self, message: str) -> Sandbox:
        sh("dvc", "repro", "--quiet", cwd=self.work)
        sh("git", "add", "-A", cwd=self.work)
        sh("git", "commit", "--quiet", "-m", message, cwd=self.work)
        sh("dvc", "push", "--quiet", cwd=self.work)
        return self

    def tag(self, version: str, rev: str = "HEAD") -> str:
        tag = f"{MODEL}@{version}"
        sh("git", "tag", "-a", tag, "-m", f"register {version}", rev, cwd=self.work)
        return tag

    def head(self) -> str:
        return sh("git", "rev-parse", "HEAD", cwd=self.work)
