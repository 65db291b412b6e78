"""DVC shows each declared plot once, and the offline page needs no internet.

The comment tells reviewers to run `dvc plots diff`; on a baked, trained repository it
must draw exactly the plots dvc.yaml declares, with their properties (a plot declared
twice used to come out twice, once as a line chart against "step"). The HTML template
that `plots_html.py` writes carries Vega inline: the page DVC fills from it loads no
script from anywhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

DECLARED = {
    "reports/plots/confusion.csv": ("confusion", "Confusion matrix (test set)"),
    "reports/plots/importance.csv": ("bar_horizontal", "Permutation feature importance (test set)"),
}


def _dvc(repo: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_each_plot_is_declared_once_with_its_properties(
    runnable_repo: Callable[[str], Path],
) -> None:
    repo = runnable_repo("default")
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))
    assert "plots" not in dvc_yaml  # no second, top-level declaration
    stage_plots = {
        path: props
        for entry in dvc_yaml["stages"]["evaluate"]["plots"]
        for path, props in entry.items()
    }
    assert {path: (p["template"], p["title"]) for path, p in stage_plots.items()} == DECLARED


def test_dvc_plots_diff_draws_exactly_the_declared_plots(
    runnable_repo: Callable[[str], Path], tmp_path: Path
) -> None:
    repo = runnable_repo("default")
    shown = json.loads(_dvc(repo, "plots", "diff", "HEAD", "--json"))["data"]
    assert set(shown) == set(DECLARED)
    for path, renders in shown.items():
        (render,) = renders
        assert render["type"] == "vega"
        assert render["content"]["title"]["text"] == DECLARED[path][1]
    # and `dvc plots show` writes to dvc_plots/, which git ignores
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "dvc_plots/index.html"], cwd=repo, check=False
    )
    assert ignored.returncode == 0


def test_the_offline_page_loads_no_script_from_the_internet(
    runnable_repo: Callable[[str], Path], tmp_path: Path
) -> None:
    repo = runnable_repo("default")
    template = tmp_path / "offline.html"
    package = next((repo / "src").iterdir())
    subprocess.run(
        [sys.executable, str(package / "plots_html.py"), "--output", str(template)],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    out = tmp_path / "page"
    _dvc(repo, "plots", "diff", "HEAD", "--html-template", str(template), "-o", str(out))
    page = (out / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", page), "the page loads a script"
    assert "cdn.jsdelivr.net" not in page
    assert page.count("vegaEmbed('#") == len(DECLARED)  # one chart per declared plot
    assert "window.vegaEmbed" in page or "vegaEmbed=" in page.replace(" ", "")
