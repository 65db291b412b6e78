"""List the DVC-tracked inputs (outputs of `.dvc` files) that are not in the workspace.

`dvc repro` rebuilds what pipeline stages produce, but a `.dvc`-tracked input (raw data,
`dvc import`) can only come from the remote: when it is missing after `dvc pull`, the
pipeline cannot run at all. This is checked before `dvc repro`, so that the pull request
gets a report saying so instead of "missing data 'source'" in the log.

Run in the DVC project; writes `complete` and `missing-file` to $GITHUB_OUTPUT and the
markdown list of missing inputs to $RUNNER_TEMP/mlgitops-missing-data.md. Paths come
from the pull request's own files: they are shown through the report's escaper.
Exit 0 whatever is missing (the caller decides); 2 when a `.dvc` file cannot be read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from mlgitops.core.markdown.escape import code

MAX_LISTED = 20


def tracked_inputs(project: Path) -> list[tuple[str, Path]]:
    """(.dvc file, output path) for every output of every `.dvc` file git tracks."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.dvc"],
        cwd=project,
        check=True,
        capture_output=True,
    ).stdout.decode()
    found = []
    for name in sorted(filter(None, listing.split("\0"))):
        dvc_file = project / name
        try:
            data = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise SystemExit(f"::error file={name}::cannot read {name}: {error}") from error
        outs = data.get("outs") if isinstance(data, dict) else None
        for out in outs if isinstance(outs, list) else []:
            path = out.get("path") if isinstance(out, dict) else None
            if isinstance(path, str) and path:
                found.append((name, dvc_file.parent / path))
    return found


def missing_inputs(project: Path) -> list[str]:
    """Tracked inputs absent from the workspace, as paths relative to the project."""
    missing = []
    for _dvc_file, path in tracked_inputs(project):
        if not path.exists():
            missing.append(os.path.relpath(path, project))
    return missing


def markdown_list(missing: list[str]) -> str:
    lines = [f"- {code(path)}" for path in missing[:MAX_LISTED]]
    if len(missing) > MAX_LISTED:
        lines.append(f"- and {len(missing) - MAX_LISTED} more")
    return "\n".join(lines) + ("\n" if lines else "")


def main() -> int:
    project = Path.cwd()
    try:
        missing = missing_inputs(project)
    except subprocess.CalledProcessError as error:
        print(f"::error::git ls-files failed: {error.stderr.decode(errors='replace')}")
        return 2
    listing = Path(os.environ.get("RUNNER_TEMP", ".")) / "mlgitops-missing-data.md"
    listing.write_text(markdown_list(missing), encoding="utf-8")
    for path in missing:
        print(f"::warning::DVC-tracked input {path} is missing: the remote could not provide it")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"complete={'false' if missing else 'true'}\n")
            handle.write(f"missing-file={listing}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
