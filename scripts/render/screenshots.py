"""Screenshots of what a reviewer sees, for the docs: `bash scripts/screenshots`.

Runs the offline demo (or reads one kept with `mlgitops demo --output DIR`), opens a
drift issue for it on a local GitHub-like server, renders each posted markdown body as
GitHub does (cmark-gfm with GitHub's extensions, GitHub's markdown CSS, Mermaid drawn in
the page from node_modules) and photographs it with headless Chromium into docs/images/.
Nothing is fetched: the page loads only local files.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cmarkgfm
import pandas as pd
from cmarkgfm.cmark import Options

from localhub.server import LocalHub

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "scripts" / "render" / "node_modules"
OUTPUT = ROOT / "docs" / "images"
REPOSITORY = "acme/breast-cancer-classifier"
MODEL = "breast-cancer-classifier-model"
WIDTH = 980
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
THEMES = {
    "light": {"css": "github-markdown-light.css", "mermaid": "default", "page": "#ffffff",
              "box": "#d1d9e0", "head": "#f6f8fa", "muted": "#59636e"},
    "dark": {"css": "github-markdown-dark.css", "mermaid": "dark", "page": "#0d1117",
             "box": "#3d444d", "head": "#151b23", "muted": "#9198a1"},
}  # fmt: skip


@dataclass(frozen=True)
class Shot:
    name: str  # PNG file name without extension
    heading: str  # what GitHub shows above the body (the comment's author, the release)
    body: str  # the markdown as posted
    theme: str = "light"
    open_details: str = "Metric history"  # <details> whose summary starts so are opened


def markdown_html(body: str, open_details: str) -> str:
    """GFM as GitHub renders it; Mermaid fences become blocks Mermaid draws in the page."""
    options = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG
    rendered = cmarkgfm.markdown_to_html_with_extensions(
        body, options, ["table", "autolink", "tagfilter", "strikethrough", "tasklist"]
    )
    rendered = re.sub(
        r'<pre lang="mermaid"><code>(.*?)</code></pre>',
        lambda m: f'<pre class="mermaid">{m.group(1)}</pre>',
        rendered,
        flags=re.S,
    )
    if open_details:
        rendered = rendered.replace(
            f"<details><summary>{open_details}", f"<details open><summary>{open_details}"
        )
    return rendered


def page(shot: Shot) -> str:
    theme = THEMES[shot.theme]
    css = (NODE_MODULES / "github-markdown-css" / theme["css"]).as_uri()
    mermaid = (NODE_MODULES / "mermaid" / "dist" / "mermaid.min.js").as_uri()
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="{css}">
<style>
  body {{ margin: 0; padding: 24px; background: {theme["page"]}; width: {WIDTH - 48}px; }}
  .box {{ border: 1px solid {theme["box"]}; border-radius: 6px; overflow: hidden; }}
  .head {{ background: {theme["head"]}; border-bottom: 1px solid {theme["box"]};
          padding: 8px 16px; font: 14px -apple-system, "Segoe UI", "Noto Sans", Helvetica,
          Arial, sans-serif; color: {theme["muted"]}; }}
  .head b {{ color: inherit; filter: brightness(1.6); }}
  .markdown-body {{ padding: 16px; font-size: 14px; }}
  pre.mermaid {{ background: transparent; text-align: left; }}
</style>
<script src="{mermaid}"></script>
</head><body>
<div class="box"><div class="head">{shot.heading}</div>
<div class="markdown-body">{markdown_html(shot.body, shot.open_details)}</div></div>
<script>
  mermaid.initialize({{ startOnLoad: false, theme: "{theme["mermaid"]}" }});
  mermaid.run().then(() => {{
    const bottom = document.querySelector(".box").getBoundingClientRect().bottom;
    document.title = "height=" + Math.ceil(bottom + 24);
  }}, (error) => {{ document.title = "mermaid-error=" + error; }});
</script>
</body></html>
"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("chromium is not installed: apt-get install -y chromium")
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def photograph(shot: Shot, work: Path) -> Path:
    source = work / f"{shot.name}.html"
    source.write_text(page(shot), encoding="utf-8")
    profile = work / "chromium-profile"
    # First pass: let Mermaid draw, then read the page's height from its title.
    dom = chromium(
        "--virtual-time-budget=20000", f"--window-size={WIDTH},800", "--dump-dom",
        source.as_uri(), profile=profile,
    )  # fmt: skip
    title = re.search(r"<title>(.*?)</title>", dom.stdout)
    if title is None or not title.group(1).startswith("height="):
        raise SystemExit(f"{shot.name}: the page did not finish drawing: {title and title[1]}")
    height = int(title.group(1).removeprefix("height="))
    target = OUTPUT / f"{shot.name}.png"
    result = chromium(
        "--virtual-time-budget=20000", f"--window-size={WIDTH},{height}",
        f"--screenshot={target}", source.as_uri(), profile=profile,
    )  # fmt: skip
    if not target.is_file():
        raise SystemExit(f"{shot.name}: chromium wrote no screenshot:\n{result.stderr}")
    return target


def mlgitops(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mlgitops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"mlgitops {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def drift_issue(demo: Path) -> tuple[str, str]:
    """(title, body) of the drift issue `mlgitops drift --open-issue` opens for the demo's
    released model when the tumour sizes of new data are half as large again."""
    project = demo / "breast-cancer-classifier"
    data = pd.read_csv(project / "data/raw/data.csv")
    current = demo / "current-data.csv"
    data.assign(**{"mean radius": data["mean radius"] * 1.5}).to_csv(current, index=False)
    with LocalHub() as hub:
        hub.add_user("github-actions[bot]", "ghs_screenshots", type="Bot")
        hub.add_repo(REPOSITORY)
        env = {
            "GITHUB_TOKEN": "ghs_screenshots",
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_API_URL": hub.api_url,
        }
        mlgitops(
            "drift", "--reference", f"{MODEL}@v1.1.0", "--current", f"../{current.name}",
            "--open-issue", cwd=project, env=env,
        )  # fmt: skip
        (issue,) = hub.issues(REPOSITORY)
    return issue["title"], issue["body"]


def shots(demo: Path) -> list[Shot]:
    state = json.loads((demo / "github-state.json").read_text(encoding="utf-8"))
    repo = state["repos"][REPOSITORY]
    comments = {comment["issue"]: comment["body"] for comment in repo["comments"].values()}
    release = max(repo["releases"].values(), key=lambda r: r["id"])
    title, issue = drift_issue(demo)
    bot = "<b>github-actions</b> <span>bot</span> commented"
    return [
        Shot("pr-comment", f"{bot} on pull request #1", comments[1]),
        Shot("pr-comment-dark", f"{bot} on pull request #1", comments[1], theme="dark"),
        Shot("pr-comment-blocked", f"{bot} on pull request #2", comments[2]),
        Shot("release", f"<b>Release</b> {html.escape(release['name'])}", release["body"]),
        Shot("drift-issue", f"<b>Issue</b> {html.escape(title)}", issue, open_details=""),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--demo", type=Path, help="a folder kept by `mlgitops demo --output` (default: run it)"
    )
    args = parser.parse_args(argv)
    if not (NODE_MODULES / "mermaid").is_dir():
        raise SystemExit("scripts/render/node_modules is missing: run `bash scripts/bootstrap`")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlgitops-screenshots-") as temp:
        work = Path(temp)
        demo = args.demo
        if demo is None:
            demo = work / "demo"
            print("running the demo ...", flush=True)
            mlgitops("demo", "--output", str(demo), cwd=ROOT)
        for shot in shots(demo.resolve()):
            print(f"wrote {photograph(shot, work).relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
