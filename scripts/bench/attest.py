"""Benchmark: signing and verifying a release, and rebuilding it, side by side with the
tools a user would otherwise run.

1. On a baked repository (default answers: bake, `mlgitops init`, `dvc repro`, push,
   tag `<model>@v1.0.0`):
   - `attest_release` (fetch from the DVC remote + provenance + key signing) in-process;
   - `mlgitops verify` (a new process: CLI start-up included) vs the upstream
     `model_signing verify key` on the same release folder;
   - `mlgitops predict --key` (the gate: verified first) vs `--allow-unverified`;
   - `mlgitops verify --rebuild` vs the original `dvc repro --force` in the repository.
2. A 500 MB model file (random bytes, written in chunks): `sign_folder` and
   `verify_folder` (our model_signing calls) vs `model_signing sign key` / `verify key`,
   each in a NEW process whose peak RSS (ru_maxrss) is reported: streamed hashing keeps
   memory flat whatever the size.

Key-based signing (EC P-256): offline. Medians of `--repeat` runs.
Usage: python scripts/bench/attest.py [--repeat 3] [--size-mb 500] [--skip-rebuild]
       [--skip-baked]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import BIN, ENV, ROOT

CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {scripts!r})
from mlgitops.attest.signing import KeySigning, KeyVerification, sign_folder, verify_folder
folder, signature, key = (Path(a) for a in sys.argv[1:4])
action = sys.argv[4]
started = time.perf_counter()
if action == "sign":
    sign_folder(folder, signature, KeySigning(key))
else:
    assert verify_folder(folder, signature, KeyVerification(key)) is None
print(json.dumps({{"seconds": time.perf_counter() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def sh(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def keys(folder: Path) -> tuple[Path, Path]:
    private, public = folder / "bench.key", folder / "bench.pub"
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(private),
       cwd=folder)  # fmt: skip
    sh("openssl", "ec", "-in", str(private), "-pubout", "-out", str(public), cwd=folder)
    return private, public


def ours(folder: Path, signature: Path, key: Path, action: str) -> dict[str, float]:
    """Our call in a new process: wall time of the whole process (start-up and imports
    included, as for the upstream CLI) and its peak RSS."""
    script = CHILD.format(scripts=str(ROOT / "scripts"))
    started = time.perf_counter()
    out = sh(sys.executable, "-c", script, str(folder), str(signature), str(key), action,
             cwd=folder.parent)  # fmt: skip
    measured = json.loads(out.strip().splitlines()[-1])
    measured["call_seconds"] = measured["seconds"]
    measured["seconds"] = time.perf_counter() - started
    return measured


def upstream(folder: Path, signature: Path, key: Path, action: str) -> dict[str, float]:
    """`model_signing sign|verify key` (the upstream CLI); a small wrapper process reports
    the CLI's wall time and peak RSS (its child's ru_maxrss)."""
    flag = "--private_key" if action == "sign" else "--public_key"
    wrapper = (
        "import json, resource, subprocess, sys, time; s = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(json.dumps({'seconds': time.perf_counter() - s, "
        "'rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    cli = str(BIN / "model_signing")
    command = [cli, action, "key", "--signature", str(signature), flag, str(key), str(folder)]
    out = sh(sys.executable, "-c", wrapper, *command, cwd=folder.parent)
    return json.loads(out.strip().splitlines()[-1])


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def row(name: str, seconds: float, rss: float | None = None, ratio: str = "") -> str:
    memory = f"{rss:.0f}" if rss is not None else ""
    return f"| {name} | {seconds:.2f} | {memory} | {ratio} |"


def big_file_section(place: Path, size_mb: int, repeat: int) -> list[str]:
    folder = place / "big" / "release"
    (folder / "models").mkdir(parents=True)
    chunk = os.urandom(1 << 20)
    with (folder / "models" / "model.bin").open("wb") as handle:
        for _ in range(size_mb):
            handle.write(chunk)
    (folder / "provenance.intoto.json").write_text("{}\n")
    private, public = keys(place)
    lines = [
        f"### {size_mb} MB model file: sign and verify (new process each, median of {repeat})",
        "",
        "| what | seconds | peak RSS MB | vs upstream CLI |",
        "| --- | ---: | ---: | --- |",
    ]
    for action, key in (("sign", private), ("verify", public)):
        signature = place / "big" / "ours.sig"
        if action == "verify" and not signature.exists():
            ours(folder, signature, private, "sign")
        mine = [ours(folder, signature, key, action) for _ in range(repeat)]
        up_signature = place / "big" / "upstream.sig"
        if action == "verify" and not up_signature.exists():
            upstream(folder, up_signature, private, "sign")
        theirs = [upstream(folder, up_signature, key, action) for _ in range(repeat)]
        ratio = median_of(mine, "seconds") / median_of(theirs, "seconds")
        lines.append(row(f"mlgitops {action}_folder", median_of(mine, "seconds"),
                         median_of(mine, "rss_mb"), f"{ratio:.2f}x"))  # fmt: skip
        lines.append(row(f"model_signing {action} key", median_of(theirs, "seconds"),
                         median_of(theirs, "rss_mb")))  # fmt: skip
    shutil.rmtree(place / "big")
    return lines


def baked_section(place: Path, repeat: int, rebuild: bool) -> list[str]:
    sh("cookiecutter", "--no-input", "--output-dir", str(place), str(ROOT / "template"),
       cwd=place)  # fmt: skip
    repo = next(p for p in place.iterdir() if (p / "dvc.yaml").is_file())
    sh("mlgitops", "init", cwd=repo)
    repro = timed(lambda: sh("dvc", "repro", cwd=repo))
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "train", cwd=repo)
    sh("dvc", "push", "-q", cwd=repo)
    import yaml

    model = next(iter(yaml.safe_load((repo / "dvc.yaml").read_text())["artifacts"]))
    tag = f"{model}@v1.0.0"
    sh("git", "tag", "-a", tag, "-m", "register", cwd=repo)
    private, public = keys(place)
    sys.path.insert(0, str(ROOT / "scripts"))
    from mlgitops.attest.service import attest_release
    from mlgitops.attest.signing import KeySigning

    attest = timed(
        lambda: attest_release(repo, tag=tag, signing=KeySigning(private), log=lambda _: None)
    )
    verify = [
        timed(lambda: sh("mlgitops", "verify", tag, "--key", str(public), cwd=repo))
        for _ in range(repeat)
    ]
    model_file = repo / yaml.safe_load((repo / "dvc.yaml").read_text())["artifacts"][model]["path"]
    lines = [
        f"### Default baked model ({model_file.stat().st_size / 1e6:.1f} MB), median of {repeat}",
        "",
        "| what | seconds | peak RSS MB | ratio |",
        "| --- | ---: | ---: | --- |",
        row("first `dvc repro` (bake + init excluded)", repro),
        row("attest_release (fetch from remote, provenance, sign, store)", attest),
        row("`mlgitops verify` (new process)", statistics.median(verify)),
        *gated_predict_rows(repo, tag, public, repeat),
    ]
    if rebuild:
        original = [timed(lambda: sh("dvc", "repro", "--force", cwd=repo)) for _ in range(repeat)]
        rebuilt = [
            timed(
                lambda: sh("mlgitops", "verify", tag, "--key", str(public), "--rebuild", cwd=repo)
            )
            for _ in range(repeat)
        ]
        ratio = statistics.median(rebuilt) / statistics.median(original)
        lines += [
            row("`dvc repro --force` in the repository", statistics.median(original)),
            row("`mlgitops verify --rebuild` (clone, pull, repro --force, compare)",
                statistics.median(rebuilt), None, f"{ratio:.2f}x dvc repro --force"),
        ]  # fmt: skip
    return lines


def gated_predict_rows(repo: Path, tag: str, public: Path, repeat: int) -> list[str]:
    """What the gate costs `mlgitops predict` (new process each, the test split): with
    `--key` (verified first) against `--allow-unverified` (md5 check only), interleaved."""
    import pandas as pd

    schema = json.loads((repo / "models" / "schema.json").read_text(encoding="utf-8"))
    rows = pd.read_csv(repo / "data" / "prepared" / "test.csv").drop(columns=[schema["target"]])
    source, target = repo.parent / "rows.csv", repo.parent / "out.csv"
    rows.to_csv(source, index=False)
    command = ["mlgitops", "predict", "--model", tag, "--no-prediction-log",
               "--input", str(source), "--output", str(target)]  # fmt: skip
    verified, unverified = [], []
    for _ in range(repeat):
        verified.append(timed(lambda: sh(*command, "--key", str(public), cwd=repo)))
        unverified.append(timed(lambda: sh(*command, "--allow-unverified", cwd=repo)))
    ratio = statistics.median(verified) / statistics.median(unverified)
    return [
        row(f"`mlgitops predict --allow-unverified`, {len(rows)} rows (new process)",
            statistics.median(unverified)),
        row(f"`mlgitops predict --key`, {len(rows)} rows (verified first)",
            statistics.median(verified), None, f"{ratio:.2f}x unverified"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--skip-baked", action="store_true", help="only the big-file section")
    args = parser.parse_args()
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    with tempfile.TemporaryDirectory(prefix="bench-attest-") as tmp:
        place = Path(tmp)
        if not args.skip_baked:
            (place / "baked").mkdir()
            print("\n".join(baked_section(place / "baked", args.repeat, not args.skip_rebuild)))
            print()
        print("\n".join(big_file_section(place, args.size_mb, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
