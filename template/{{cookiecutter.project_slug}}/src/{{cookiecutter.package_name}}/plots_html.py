"""Write an HTML template for `dvc plots show` / `dvc plots diff` that works offline.

DVC's own page loads Vega from a CDN and stays blank without the internet. This one
carries Vega, Vega-Lite and Vega-Embed inline, as bundled by the `vl-convert-python`
package (`pip install -r requirements-plots.txt`), so the page opens anywhere:

    python src/{{ cookiecutter.package_name }}/plots_html.py
    dvc plots diff main --html-template .dvc/plots/offline.html --open
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUTPUT = Path(".dvc/plots/offline.html")

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>DVC plots</title>
{refresh_tag}
<script>VEGA_BUNDLE</script>
<style>
  body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 16px; }
  table { border-spacing: 15px; }
</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def page() -> str:
    """The template: DVC fills `{plot_divs}` (and `{refresh_tag}`); no `{scripts}`, which
    would bring DVC's CDN script tags back."""
    try:
        import vl_convert
    except ImportError:
        raise SystemExit(
            "vl-convert-python is not installed: pip install -r requirements-plots.txt"
        ) from None
    bundle = vl_convert.javascript_bundle().replace("</script", "<\\/script")
    return PAGE.replace("VEGA_BUNDLE", bundle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page(), encoding="utf-8")
    print(f"wrote {args.output}; use: dvc plots diff main --html-template {args.output} --open")
    return 0


if __name__ == "__main__":
    sys.exit(main())
