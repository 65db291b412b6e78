"""The reference pages are generated from the schema and the action files: keep them in sync."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_reference_docs_match_their_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-docs"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_action_and_reusable_workflow_is_documented() -> None:
    page = (ROOT / "docs" / "reference" / "actions.md").read_text(encoding="utf-8")
    for action in sorted((ROOT / "actions").glob("*/action.yml")):
        assert f"`actions/{action.parent.name}`" in page
    for workflow in sorted((ROOT / ".github" / "workflows").glob("ml-*.yml")):
        assert f"`.github/workflows/{workflow.name}`" in page
